"""The Flask app factory: config loaded and validated once, parts registered, no work at import."""
from __future__ import annotations

import importlib

from flask import Flask

from server.config import Config, load_config
from server.errors import register_error_handlers
from server.services import Services
from server.versioning import version_api

#: Blueprint modules, each exposing ``bp``.
BLUEPRINTS = ("server.web", "server.tiles_api", "server.jobs_api", "server.ogc_api",
              "server.metrics_api", "server.bim_api",
              "server.analysis_api",  # planning checks (tools issue)
              "server.health_api",  # readiness and liveness (deploy issue)
              "server.tile_access",  # nginx auth_request for tile files (deploy issue)
              "server.api_docs",  # /api/v1/openapi.json and /api/v1/docs (api issue)
              "server.search_api")  # the viewer's search box (viewer issue)
#: Sign-in, tokens, shares and the audit log (docs/security.md).
SECURITY_BLUEPRINTS = ("server.auth_api", "server.audit_http",
                       "server.apps_api",  # app credentials (api issue, docs/api.md)
                       "server.events_api")  # webhooks and the event stream (docs/api.md)


def create_app(config: Config | dict | None = None) -> Flask:
    """Build the app. ``config`` is a loaded Config, or a dict of overrides (tests)."""
    if not isinstance(config, Config):
        config = load_config(overrides=config)
    app = Flask(__name__, static_folder=None)
    app.json.ensure_ascii = False  # Chinese names stay readable in responses
    app.json.sort_keys = False
    app.extensions["cimtwin"] = Services(config)
    register_error_handlers(app)
    from server import observability  # request ids, access log, /metrics (deploy issue)
    observability.install(app)
    for name in BLUEPRINTS:
        app.register_blueprint(importlib.import_module(name).bp)
    for name in SECURITY_BLUEPRINTS:
        app.register_blueprint(importlib.import_module(name).bp)
    version_api(app)  # /api/v1/... for every /api/... route; the old paths are aliases
    install_security(app)
    app.extensions["cimtwin"].events.start_if_subscribed()  # webhooks survive a restart
    return app


def install_security(app: Flask) -> None:
    """Limits, CSRF, headers, the login rate limit and the audit hooks (docs/security.md);
    the role table is validated and old audit records pruned now, at start-up."""
    from server import apps_api, audit_http, hardening
    security = app.extensions["cimtwin"].security
    security.audit.prune(app.extensions["cimtwin"].config["audit"]["retention_days"])
    hardening.install(app)
    apps_api.install(app)  # app scopes and CORS, after the credential checks
    audit_http.install(app)
