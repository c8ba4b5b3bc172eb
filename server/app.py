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
              "server.analysis_api")  # planning checks (tools issue)


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
    return app
