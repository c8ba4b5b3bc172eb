"""The viewer's static files, CesiumJS (served by us: no CDN), and its settings."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, jsonify, send_from_directory
from werkzeug.exceptions import NotFound

from server.analysis import gauss_kruger_zone
from server.config import PROJECT_ROOT
from server.services import current_services
from server.api_schemas import OBJECT
from server.openapi import describe

bp = Blueprint("web", __name__)
VIEWER_DIR = PROJECT_ROOT / "viewer"


@bp.get("/")
def index():
    return send_from_directory(VIEWER_DIR, "index.html", max_age=0)


@bp.get("/viewer/<path:path>")
def viewer_file(path: str):
    return send_from_directory(VIEWER_DIR, path, max_age=0)


@bp.get("/cesium/<path:path>")
def cesium_file(path: str):
    cesium_dir: Path = current_services().config.cesium_dir
    if not (cesium_dir / "Cesium.js").is_file():
        raise NotFound(f"CesiumJS is not installed at {cesium_dir}; run 'make' (npm install)")
    return send_from_directory(cesium_dir, path, max_age=86400)


@bp.get("/api/config")
@describe("The viewer's settings: imagery, home view, language, GK zone", tag="viewer",
          response=OBJECT)
def viewer_config():
    viewer = current_services().config["viewer"]
    body = {k: viewer[k] for k in ("imagery", "imagery_url", "home", "language")}
    body["gauss_kruger"] = gauss_kruger_zone(  # the measuring tool's GK zone (tools)
        current_services().config["analysis"]["gauss_kruger_crs"])
    return jsonify(body)


@bp.get("/api/health")
@describe("Liveness for load balancers (no paths, no counts)", tag="health", response=OBJECT)
def health():
    """Liveness for load balancers: no paths, no counts (they would tell what is hidden)."""
    cesium = (current_services().config.cesium_dir / "Cesium.js").is_file()
    return jsonify({"status": "ok", "cesium": cesium})
