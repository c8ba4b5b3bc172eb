"""Production layout: the nginx site template, gunicorn settings, the local stack."""
