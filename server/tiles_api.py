"""Tilesets over HTTP: the catalog (/api/tilesets) and the stored files (/tiles)."""
from __future__ import annotations

import mimetypes
from pathlib import PurePosixPath

from flask import Blueprint, jsonify
from werkzeug.exceptions import NotFound

from server.auth import allowed_levels
from server.services import current_services
from server.tile_files import regular_stat, tile_response
from server.api_schemas import TEXT, TILESET, array
from server.openapi import describe

bp = Blueprint("tiles_api", __name__)

CONTENT_TYPES = {
    ".json": "application/json",
    ".glb": "model/gltf-binary",
    ".gltf": "model/gltf+json",
    ".b3dm": "application/octet-stream",
    ".i3dm": "application/octet-stream",
    ".pnts": "application/octet-stream",
    ".cmpt": "application/octet-stream",
    ".subtree": "application/octet-stream",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".ktx2": "image/ktx2",
}
PUBLIC_FIELDS = ("id", "name", "kind", "bounds", "height", "classification", "created")


def visible_entry(tileset_id: str) -> dict:
    """The catalog entry if this request may see it; otherwise 404 (not 403: no leak)."""
    entry = current_services().catalog.get(tileset_id)
    if entry is None or entry["classification"] not in allowed_levels():
        raise NotFound(f"no tileset '{tileset_id}'")
    return entry


@bp.get("/api/tilesets")
@describe("The tilesets the caller may see", tag="tilesets", response=array(TILESET),
          scope="read:tiles")
def list_tilesets():
    entries = current_services().catalog.list(levels=allowed_levels())
    return jsonify([{k: e.get(k) for k in PUBLIC_FIELDS} | {"url": f"/tiles/{e['id']}/tileset.json"}
                    for e in entries])


@bp.get("/api/tilesets/<tileset_id>")
@describe("One tileset's catalog entry (frame, summary, classification)", tag="tilesets",
          response=TILESET, scope="read:tiles")
def get_tileset(tileset_id: str):
    entry = visible_entry(tileset_id)
    # The source is a server path: never in a response (docs/security.md, hardening).
    shown = {k: v for k, v in entry.items() if k != "source"}
    return jsonify(shown | {"url": f"/tiles/{tileset_id}/tileset.json"})


@bp.get("/tiles/<tileset_id>/<path:path>")
@describe("A stored file of a tileset (tileset.json, glb, subtree, ...)", tag="tilesets",
          media="application/octet-stream", response=TEXT, scope="read:tiles")
def get_tile(tileset_id: str, path: str):
    entry = visible_entry(tileset_id)
    parts = PurePosixPath(path).parts
    if not parts or any(p in ("..", ".") or "\\" in p or "%" in p for p in parts):
        raise NotFound("no such tile")
    services = current_services()
    try:
        file_path = services.store.path_for(tileset_id, path)
    except Exception:  # the store refuses anything that leaves the tileset
        raise NotFound("no such tile") from None
    if (st := regular_stat(file_path)) is None:
        raise NotFound("no such tile")
    suffix = file_path.suffix.lower()
    mimetype = CONTENT_TYPES.get(suffix) or mimetypes.guess_type(file_path.name)[0] \
        or "application/octet-stream"
    scope = "public" if entry["classification"] == "public" else "private"
    # tileset.json changes when a tileset is re-published: always revalidate it.
    max_age = 0 if suffix == ".json" else 300
    return tile_response(file_path, st, mimetype, f"{scope}, max-age={max_age}, must-revalidate",
                         services.store.root, services.data_dir / "cache" / "gzip",
                         services.config["server"]["accel_redirect_prefix"])
