"""The versioned API: every ``/api/...`` route also answers at ``/api/v1/...``.

``version_api(app)`` runs once, after the blueprints are registered: each unversioned
``/api/`` rule gets its ``/api/v1/`` twin on the same view, and the old path stays as a
deprecated alias whose answers carry ``Deprecation: true`` and a ``Link`` to the
successor (RFC 9745, RFC 8594 successor-version). New routes are written under
``/api/v1/`` directly and have no alias.
"""
from __future__ import annotations

from flask import Flask, request

LEGACY = "/api/"
V1 = "/api/v1/"


def is_legacy(rule: str) -> bool:
    """True for a deprecated unversioned alias."""
    return rule.startswith(LEGACY) and not rule.startswith(V1)


def successor(path: str) -> str:
    return V1 + path[len(LEGACY):]


def _deprecation(response):
    rule = request.url_rule
    if rule is not None and is_legacy(rule.rule):
        response.headers["Deprecation"] = "true"
        response.headers["Link"] = f'<{successor(request.path)}>; rel="successor-version"'
    return response


def version_api(app: Flask) -> None:
    """Add the ``/api/v1/`` twin of every unversioned API rule, and the deprecation hook."""
    for rule in list(app.url_map.iter_rules()):
        if not is_legacy(rule.rule):
            continue
        app.add_url_rule(successor(rule.rule), endpoint=rule.endpoint,
                         methods=sorted(rule.methods - {"HEAD", "OPTIONS"}),
                         defaults=rule.defaults, strict_slashes=rule.strict_slashes)
    app.after_request(_deprecation)
