"""The API's own description: ``/api/v1/openapi.json`` (generated, server.openapi) and the
browsable reference ``/api/v1/docs`` (Swagger UI from the npm ``swagger-ui-dist``
package, served by us: no CDN)."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, send_from_directory
from werkzeug.exceptions import NotFound

from server.config import PROJECT_ROOT
from server.openapi import describe, document
from server.services import current_services

bp = Blueprint("api_docs", __name__)
#: The files of swagger-ui-dist the page uses (nothing else of the package is served).
ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png")
PAGE = """<!doctype html>
<html lang="zh"><head><meta charset="utf-8"><title>cimtwin API v1 接口文档</title>
<link rel="stylesheet" href="/api/v1/docs/swagger-ui.css">
<link rel="icon" href="/api/v1/docs/favicon-32x32.png"></head>
<body><div id="swagger-ui"></div>
<script src="/api/v1/docs/swagger-ui-bundle.js"></script>
<script src="/api/v1/docs/init.js"></script></body></html>
"""
#: An external script: the page's CSP runs no inline script.
INIT = """window.ui = SwaggerUIBundle({url: "/api/v1/openapi.json", dom_id: "#swagger-ui",
  deepLinking: true, validatorUrl: null, tryItOutEnabled: false});
"""


def docs_dir() -> Path:
    path = Path(current_services().config["api"]["docs_dir"]).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


@bp.get("/api/v1/openapi.json")
@describe("This document: the OpenAPI 3.1 description of the API", tag="api")
def openapi_json():
    doc = current_app.extensions.get("cimtwin.openapi")
    if doc is None:  # generated once per app, from its registered routes
        doc = current_app.extensions["cimtwin.openapi"] = document(current_app)
    return jsonify(doc)


@bp.get("/api/v1/docs")
@describe("The browsable API reference (HTML)", tag="api", media="text/html",
          response={"type": "string"})
def docs_page():
    if not (docs_dir() / "swagger-ui-bundle.js").is_file():
        raise NotFound(f"swagger-ui-dist is not installed at {docs_dir()}; run 'make' "
                       "(npm install); the document itself is at /api/v1/openapi.json")
    return Response(PAGE, mimetype="text/html")


@bp.get("/api/v1/docs/<path:name>")
@describe("A file of the API reference page (Swagger UI)", tag="api",
          media="application/octet-stream", response={"type": "string"})
def docs_asset(name: str):
    if name == "init.js":
        return Response(INIT, mimetype="text/javascript")
    if name not in ASSETS:
        raise NotFound(f"no file '{name}' in the API reference")
    return send_from_directory(docs_dir(), name, max_age=86400)
