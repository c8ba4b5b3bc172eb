"""The Flask app factory: config loaded and validated once, parts registered, no work at import."""
from __future__ import annotations

import importlib

from flask import Flask

from server.config import Config, load_config
from server.errors import register_error_handlers
from server.services import Services

#: Blueprint modules, each exposing ``bp``.
BLUEPRINTS = ("server.web", "server.tiles_api", "server.jobs_api", "server.ogc_api",
              "server.metrics_api", "server.bim_api",
              "server.analysis_api",  # planning checks (tools issue)
              "server.health_api",  # readiness and liveness (deploy issue)
              "server.search_api")  # the viewer's search box (viewer issue)
#: Sign-in, tokens, shares and the audit log (docs/security.md).
SECURITY_BLUEPRINTS = ("server.auth_api", "server.audit_http")


def create_app(config: Config | dict | None = None) -> Flask:
    """Build the app. ``config`` is a loaded Config, or a dict of overrides (tests)."""
    if not isinstance(config, Config):
        config = load_config(overrides=config)
    app = Flask(__name__, static_folder=None)
    app.json.ensure_ascii = False  # Chinese names stay readable in responses
    app.json.sort_keys = False
    app.extensions["cimtwin"] = Services(config)
    register_error_handlers(app)
    for name in BLUEPRINTS:
        app.register_blueprint(importlib.import_module(name).bp)
    for name in SECURITY_BLUEPRINTS:
        app.register_blueprint(importlib.import_module(name).bp)
    install_security(app)
    return app


def install_security(app: Flask) -> None:
    """Limits, CSRF, headers, the login rate limit and the audit hooks (docs/security.md);
    the role table is validated and old audit records pruned now, at start-up."""
    from server import audit_http, hardening
    security = app.extensions["cimtwin"].security
    security.audit.prune(app.extensions["cimtwin"].config["audit"]["retention_days"])
    hardening.install(app)
    audit_http.install(app)
