"""Planning checks over HTTP (/api/analysis/...): thin wrappers over ``server.analysis``.

A BIM tileset or project the caller may not see (``server.auth.allowed_levels``) answers
404, exactly like one that does not exist. A missing limit is taken from the project the
model belongs to (its ``bim_tileset`` link, else the lot it stands on).
"""
from __future__ import annotations

import threading

from flask import Blueprint, jsonify, request

from server import analysis
from server.auth import allowed_levels
from server.services import current_services
from server.api_schemas import OBJECT
from server.openapi import describe

bp = Blueprint("analysis_api", __name__)


@bp.record_once
def _check_config(state) -> None:
    """A wrong Gauss-Kruger zone stops the server at start-up, naming the key."""
    from server.config import ConfigError
    try:
        analysis.gauss_kruger_zone(state.app.extensions["cimtwin"].config["analysis"]
                                   ["gauss_kruger_crs"])
    except analysis.AnalysisError as exc:
        raise ConfigError(str(exc)) from None

_cache: dict[tuple, object] = {}
_cache_lock = threading.Lock()
CACHE_MODELS = 8


def _visible_bim(tileset_id: str | None) -> dict:
    """The catalog entry of a BIM tileset this request may see, else NotCheckable (404)."""
    if not tileset_id:
        raise analysis.AnalysisError("pass ?tileset=ID (a BIM tileset, see /api/tilesets)")
    entry = current_services().catalog.get(tileset_id)
    if entry is None or entry.get("kind") != "bim" or \
            entry.get("classification") not in allowed_levels():
        raise analysis.NotCheckable(f"no BIM model '{tileset_id}'")
    return entry


def _geometry(entry: dict):
    """The model's geometry, read once per published version (tileset.json mtime)."""
    services = current_services()
    stamp = services.store.path_for(entry["id"], "tileset.json").stat().st_mtime_ns
    key = (str(services.data_dir), entry["id"], stamp)
    with _cache_lock:
        found = _cache.get(key)
    if found is None:
        found = analysis.model_geometry(services, entry["id"])
        with _cache_lock:
            while len(_cache) >= CACHE_MODELS:
                _cache.pop(next(iter(_cache)))
            _cache[key] = found
    return found


def _number(name: str) -> float | None:
    text = request.args.get(name)
    if text is None or text.strip() == "":
        return None
    try:
        return float(text)
    except ValueError:
        raise analysis.AnalysisError(f"{name} must be a number, got {text!r}") from None


def _project_limits(entry: dict) -> tuple[dict | None, dict]:
    """The project the model belongs to (or None) and its planning limits."""
    project = analysis.find_project(current_services(), tileset=entry, levels=allowed_levels())
    limits = analysis.project_limits(project["properties"]) if project else {}
    return project, limits


@bp.get("/api/analysis/height-check")
@describe("Height control check of a BIM model", tag="analysis", response=OBJECT,
          scope="read:tiles", query={"tileset": "BIM tileset id", "limit_m": "height limit"})
def height_check():
    """?tileset=ID&limit_m=H[&ground_m=G]: the model's height against the limit."""
    entry = _visible_bim(request.args.get("tileset"))
    limit, ground = _number("limit_m"), _number("ground_m")
    project, limits = (None, {}) if limit is not None and ground is not None \
        else _project_limits(entry)
    if limit is None:
        limit = limits.get("max_height_m")
        if limit is None:
            raise analysis.AnalysisError(
                f"pass ?limit_m=H: no project with a height limit holds model '{entry['id']}'")
    result = analysis.height_check(_geometry(entry), limit, ground_m=ground,
                                   site_ground_m=limits.get("ground_m"))
    return jsonify({"tileset": entry["id"], **result,
                    "project_id": project and project["properties"].get("project_id")})


@bp.get("/api/analysis/floor-area")
@describe("Floor area and FAR of a BIM model", tag="analysis", response=OBJECT, scope="read:tiles",
          query={"tileset": "BIM tileset id", "far": "limit", "site_area_m2": "site area"})
def floor_area():
    """?tileset=ID[&far=F&site_area_m2=A]: floor area against FAR x site area."""
    from bim_import import ElementIndex
    from server.bim_imports import element_index_path
    entry = _visible_bim(request.args.get("tileset"))
    far, site = _number("far"), _number("site_area_m2")
    project, limits = _project_limits(entry)
    far = far if far is not None else limits.get("far")
    site = site if site is not None else limits.get("site_area_m2")
    records = analysis.index_records(
        ElementIndex(element_index_path(current_services(), entry["id"])))
    result = analysis.floor_area_check(_geometry(entry), records, far=far, site_area_m2=site)
    return jsonify({"tileset": entry["id"], **result,
                    "project_id": project and project["properties"].get("project_id")})


@bp.get("/api/analysis/storeys")
@describe("Storeys of a BIM model with heights and areas", tag="analysis", response=OBJECT,
          scope="read:tiles", query={"tileset": "BIM tileset id"})
def storeys():
    """?tileset=ID: each storey's lowest and highest point (the viewer's storey cut)."""
    from bim_import import ElementIndex
    from server.bim_imports import element_index_path
    entry = _visible_bim(request.args.get("tileset"))
    index = ElementIndex(element_index_path(current_services(), entry["id"]))
    return jsonify({"tileset": entry["id"],
                    "storeys": analysis.storey_levels(_geometry(entry), index.storeys())})


@bp.get("/api/analysis/projects/<project_id>")
@describe("A project's planning checks", tag="analysis", response=OBJECT, scope="read:tiles")
def project_report(project_id: str):
    """Every check of one project (what `cimtwin check project` prints)."""
    return jsonify(analysis.check_project(current_services(), project_id,
                                          levels=allowed_levels()))
