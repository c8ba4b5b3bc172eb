"""OGC API - Features (Part 1: Core) documents and parameter parsing, without HTTP.

The server's blueprint passes the base URL and the parsed query; these functions
build the JSON bodies (landing page, conformance, collections, items). Links are
absolute, built from ``base`` (e.g. "http://host:8000/ogc").
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from layers.errors import LayerError
from layers.model import LayerInfo, QueryResult

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GEOJSON = "application/geo+json"
JSON = "application/json"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
]
#: Parameters of /items that are not property filters.
RESERVED_PARAMS = {"bbox", "limit", "offset", "datetime", "f", "bbox-crs", "crs"}
MAX_LIMIT = 10000
DEFAULT_LIMIT = 100


def _link(href: str, rel: str, type_: str, title: str = "") -> dict[str, str]:
    link = {"href": href, "rel": rel, "type": type_}
    if title:
        link["title"] = title
    return link


def landing(base: str, title: str = "cimtwin 城市信息模型 GIS 图层") -> dict[str, Any]:
    return {"title": title,
            "description": "OGC API - Features: public facilities, construction projects, sensors",
            "links": [_link(base, "self", JSON, "this document"),
                      _link(f"{base}/conformance", "conformance", JSON, "conformance classes"),
                      _link(f"{base}/collections", "data", JSON, "feature collections")]}


def conformance() -> dict[str, Any]:
    return {"conformsTo": list(CONFORMANCE)}


def collection(info: LayerInfo, base: str) -> dict[str, Any]:
    """One collection's description; cimtwin fields (kind, ...) sit beside the standard ones."""
    href = f"{base}/collections/{info.id}"
    return {
        "id": info.id, "title": info.title, "description": info.description,
        "itemType": "feature", "crs": [CRS84], "storageCrs": CRS84,
        "extent": {"spatial": {"bbox": [info.bbox], "crs": CRS84}},
        "kind": info.kind, "classification": info.classification, "sourceCrs": info.source_crs,
        "count": info.count, "properties": info.schema, "temporalProperties": info.temporal,
        "updated": info.updated,
        "links": [_link(href, "self", JSON, info.title),
                  _link(f"{href}/items", "items", GEOJSON, "features")],
    }


def collections(infos: list[LayerInfo], base: str) -> dict[str, Any]:
    return {"links": [_link(f"{base}/collections", "self", JSON)],
            "collections": [collection(i, base) for i in infos]}


def items(result: QueryResult, info: LayerInfo, base: str, params: dict[str, str],
          limit: int, offset: int) -> dict[str, Any]:
    """A FeatureCollection page with numberMatched/numberReturned and next/prev links."""
    from urllib.parse import urlencode
    href = f"{base}/collections/{info.id}/items"

    def page(new_offset: int) -> str:
        return f"{href}?{urlencode({**params, 'limit': limit, 'offset': new_offset})}"

    links = [_link(page(offset), "self", GEOJSON), _link(f"{base}/collections/{info.id}",
                                                         "collection", JSON)]
    if offset + len(result.features) < result.number_matched:
        links.append(_link(page(offset + limit), "next", GEOJSON, "next page"))
    if offset > 0:
        links.append(_link(page(max(0, offset - limit)), "prev", GEOJSON, "previous page"))
    return {"type": "FeatureCollection", "features": result.features,
            "numberMatched": result.number_matched, "numberReturned": len(result.features),
            "timeStamp": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "links": links}


def parse_limit(text: str | None) -> int:
    """limit= (1..10000, default 100); larger values are capped as the standard allows."""
    if text is None or text == "":
        return DEFAULT_LIMIT
    value = _int(text, "limit")
    if value < 1:
        raise LayerError("limit must be a positive integer")
    return min(value, MAX_LIMIT)


def parse_offset(text: str | None) -> int:
    value = 0 if text in (None, "") else _int(text, "offset")
    if value < 0:
        raise LayerError("offset must be >= 0")
    return value


def _int(text: str, name: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise LayerError(f"{name} must be an integer, got {text!r}") from None


def parse_bbox(text: str | None) -> list[float] | None:
    """bbox=w,s,e,n in CRS84 degrees (a 6-value 3D bbox keeps its horizontal part)."""
    if not text:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise LayerError(f"bbox must be 4 numbers west,south,east,north; got {text!r}") from None
    if len(values) == 6:
        values = [values[0], values[1], values[3], values[4]]
    if len(values) != 4:
        raise LayerError(f"bbox must be 4 numbers west,south,east,north; got {text!r}")
    west, south, east, north = values
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= north <= 90):
        raise LayerError(f"bbox {text!r} is not lon/lat degrees west,south,east,north")
    if west > east:
        raise LayerError("bbox crossing the antimeridian (west > east) is not supported")
    return values


def parse_datetime(text: str | None) -> tuple[str | None, str | None] | None:
    """datetime= an instant or an interval 'a/b' ('..' or empty = open) -> (start, end)."""
    if not text:
        return None
    parts = text.split("/")
    if len(parts) > 2:
        raise LayerError(f"datetime {text!r} must be an instant or 'start/end'")
    bounds = [None if p in ("", "..") else _instant(p, text) for p in parts]
    start, end = (bounds[0], bounds[0]) if len(bounds) == 1 else bounds
    if start is None and end is None and len(parts) == 1:
        raise LayerError("datetime must not be empty")
    if start and end and end < start:
        raise LayerError(f"datetime {text!r} ends before it starts")
    return start, end


def _instant(part: str, whole: str) -> str:
    try:
        parsed = datetime.fromisoformat(part.replace("Z", "+00:00"))
    except ValueError:
        raise LayerError(f"datetime {whole!r}: {part!r} is not RFC 3339 (e.g. 2024-06-30 "
                         "or 2024-06-30T08:00:00Z)") from None
    return parsed.date().isoformat() if len(part) <= 10 else parsed.isoformat()


def property_filters(args: dict[str, str]) -> dict[str, str]:
    """Query parameters that name properties (everything not reserved)."""
    return {k: v for k, v in args.items() if k not in RESERVED_PARAMS}
