"""Search over what the viewer shows (``GET /api/search?q=``): GIS features (facilities,
projects, building footprints, sensors) by name or id, tilesets by name, and BIM elements
by name or GlobalId. Case-insensitive substring match, so a part of a Chinese name finds it
(no pinyin). Only data the caller may see is searched (``auth.allowed_levels()``); each hit
has a kind and a position (lon, lat, height or null) the viewer flies to.
"""
from __future__ import annotations

import sqlite3
from typing import Any, Iterable

from flask import Blueprint, jsonify, request

from server.api_schemas import OBJECT
from server.auth import allowed_levels
from server.bim_imports import element_index_path
from server.errors import problem
from server.openapi import describe
from server.services import current_services

bp = Blueprint("search_api", __name__)

MAX_QUERY_CHARS = 100
DEFAULT_LIMIT, MAX_LIMIT = 20, 100
#: Feature properties a search looks at (names in both languages, and ids).
NAME_KEYS = ("name", "name:zh", "name:en", "name_en", "project_id", "sensor_id", "id")
#: Features read per layer (a district's layers are thousands, not millions, of features).
MAX_LAYER_FEATURES = 20000


def _rank(text: str, needle: str) -> int | None:
    """0 exact, 1 prefix, 2 substring, None no match (``needle`` already case-folded)."""
    folded = str(text).casefold()
    if folded == needle:
        return 0
    if folded.startswith(needle):
        return 1
    return 2 if needle in folded else None


def _best(values: Iterable[Any], needle: str) -> int | None:
    ranks = [r for v in values if v not in (None, "") and (r := _rank(v, needle)) is not None]
    return min(ranks) if ranks else None


def _position(geometry: dict | None, props: dict) -> dict | None:
    """A point to fly to: the point itself, or the mean of a polygon's outer ring."""
    if not geometry:
        return None
    kind, coords = geometry.get("type"), geometry.get("coordinates")
    if kind == "Point":
        point = coords
    elif kind in ("Polygon", "MultiPolygon"):
        ring = coords[0] if kind == "Polygon" else coords[0][0]
        point = [sum(c[0] for c in ring) / len(ring), sum(c[1] for c in ring) / len(ring)]
    else:
        return None
    ground = props.get("ground_m")
    height = float(ground) if isinstance(ground, (int, float)) else None
    return {"lon": float(point[0]), "lat": float(point[1]), "height": height}


def layer_hits(needle: str, levels: set[str]) -> list[tuple[int, dict]]:
    """(rank, hit) for every visible GIS feature whose name or id matches."""
    store, hits = current_services().layers, []
    for info in store.list_layers(levels):
        result = store.query(info.id, limit=MAX_LAYER_FEATURES, levels=levels)
        for feature in result.features:
            props = feature.get("properties") or {}
            rank = _best([props.get(k) for k in NAME_KEYS] + [feature.get("id")], needle)
            if rank is None:
                continue
            hits.append((rank, {
                "kind": info.kind, "name": props.get("name") or str(feature.get("id")),
                "name_en": props.get("name:en") or props.get("name_en"),
                "layer": info.id, "id": feature.get("id"),
                "position": _position(feature.get("geometry"), props)}))
    return hits


def _entry_position(entry: dict) -> dict | None:
    bounds, height = entry.get("bounds"), entry.get("height")
    if not (isinstance(bounds, list) and len(bounds) == 4):
        return None
    top = float(height[1]) if isinstance(height, list) and len(height) == 2 else None
    return {"lon": (bounds[0] + bounds[2]) / 2, "lat": (bounds[1] + bounds[3]) / 2, "height": top}


def tileset_hits(needle: str, entries: list[dict]) -> list[tuple[int, dict]]:
    """(rank, hit) for every visible tileset whose name or id matches."""
    hits = []
    for entry in entries:
        rank = _best([entry.get("name"), entry["id"]], needle)
        if rank is not None:
            hits.append((rank, {"kind": "tileset", "name": entry.get("name") or entry["id"],
                                "tileset": entry["id"], "tileset_kind": entry.get("kind"),
                                "position": _entry_position(entry)}))
    return hits


def _bim_rows(path, needle: str, limit: int) -> list[sqlite3.Row]:
    """Elements of one element index (bim_import/index.py) by name substring or GlobalId."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        return db.execute(
            "SELECT global_id, ifc_class, name, storey FROM elements "
            "WHERE instr(lower(coalesce(name, '')), ?) > 0 OR lower(global_id) = ? "
            "ORDER BY name LIMIT ?", (needle, needle, limit)).fetchall()
    finally:
        db.close()


def bim_hits(needle: str, entries: list[dict], limit: int) -> list[tuple[int, dict]]:
    """(rank, hit) for BIM elements of the visible BIM models (placed at the model)."""
    hits, services = [], current_services()
    for entry in (e for e in entries if e.get("kind") == "bim"):
        path = element_index_path(services, entry["id"])
        if not path.is_file():
            continue
        for row in _bim_rows(path, needle, limit):
            rank = _best([row["name"], row["global_id"]], needle)
            hits.append((rank if rank is not None else 2, {
                "kind": "bim_element", "name": row["name"] or row["global_id"],
                "tileset": entry["id"], "global_id": row["global_id"],
                "ifc_class": row["ifc_class"], "storey": row["storey"],
                "position": _entry_position(entry)}))
    return hits


def _limit() -> int | None:
    try:
        limit = int(request.args.get("limit", DEFAULT_LIMIT))
    except ValueError:
        return None
    return limit if 0 < limit <= MAX_LIMIT else None


@bp.get("/api/search")
@describe("Facilities, projects, buildings, tilesets and BIM elements by name or id (the "
          "caller's levels only), each with a position to fly to", tag="search",
          response=OBJECT, query={"q": "text (Chinese substring or id)", "limit": "max"})
def search():
    """Hits best first (exact, then prefix, then substring; shorter names first)."""
    query = (request.args.get("q") or "").strip()
    limit = _limit()
    if not query or len(query) > MAX_QUERY_CHARS:
        return problem(400, "Bad Request", f"'q' must be 1 to {MAX_QUERY_CHARS} characters "
                       "of a name or id, e.g. ?q=泉城")
    if limit is None:
        return problem(400, "Bad Request", f"'limit' must be a whole number 1..{MAX_LIMIT}")
    needle, levels = query.casefold(), allowed_levels()
    entries = current_services().catalog.list(levels)
    hits = layer_hits(needle, levels) + tileset_hits(needle, entries) + \
        bim_hits(needle, entries, limit)
    hits.sort(key=lambda h: (h[0], len(h[1]["name"] or ""), h[1]["name"] or ""))
    return jsonify({"query": query, "results": [h for _, h in hits[:limit]],
                    "matched": len(hits)})
