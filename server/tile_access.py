"""Who may read a tileset's files, for nginx's ``auth_request`` (docs/deploy.md).

``GET /api/tilesets/<tileset_id>/access`` makes the same decision as ``/tiles/<id>/...``
(``visible_entry``: the catalog classification against the request's levels, with its
session, token or share link; the same audit hooks) without touching a file. Allowed: an
empty 200 naming the live version folder under the tile store (``X-Cimtwin-Tile-Dir``)
and the Cache-Control the tile answers carry (``X-Cimtwin-Cache-Control``), so nginx sends
the file itself and caches this answer a few seconds per tileset and credential. Not
allowed: 404, exactly as for the tile; but when nginx asks (``X-Cimtwin-Subrequest:
auth``), 403 for a hidden and a missing tileset alike, since auth_request understands only
2xx, 401 and 403 (nginx answers the client 404).
"""
from __future__ import annotations

from flask import Blueprint, Response, request
from werkzeug.exceptions import NotFound

from server.openapi import describe
from server.services import current_services
from server.tiles_api import visible_entry

bp = Blueprint("tile_access", __name__)
SUBREQUEST_HEADER = "X-Cimtwin-Subrequest"


@bp.after_request
def _for_nginx(response: Response) -> Response:
    """nginx's auth_request turns any status but 2xx/401/403 into a 500: a refusal made
    before the view (429 past the failure limit, 503) becomes 403 for it (the client 404)."""
    if request.headers.get(SUBREQUEST_HEADER) == "auth" and response.status_code not in (
            200, 401, 403):
        return Response(status=403)
    return response


@bp.get("/api/tilesets/<tileset_id>/access")
@describe("May the caller read this tileset's files? (nginx auth_request: 200 with the "
          "live version's folder in X-Cimtwin-Tile-Dir, 403/404 otherwise)", tag="tilesets",
          scope="read:tiles")
def tile_access(tileset_id: str):
    try:
        entry = visible_entry(tileset_id)
        store = current_services().store
        folder = (store.root / tileset_id).resolve()
        if not folder.is_dir() or not folder.is_relative_to(store.root.resolve()):
            raise NotFound(f"no tileset '{tileset_id}'")
    except NotFound:
        if request.headers.get(SUBREQUEST_HEADER) == "auth":
            return Response(status=403)
        raise
    scope = "public" if entry["classification"] == "public" else "private"
    relative = folder.relative_to(store.root.resolve()).as_posix()
    return Response(status=200, headers={
        "X-Cimtwin-Tile-Dir": relative,
        "X-Cimtwin-Cache-Control": f"{scope}, max-age=300, must-revalidate",
        "Cache-Control": "private, no-store"})
