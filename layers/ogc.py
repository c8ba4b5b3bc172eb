"""OGC API - Features documents (Parts 1-4) and parameter parsing, without HTTP.

The server's blueprint passes the base URL and the parsed query; these functions
build the JSON bodies (landing page, conformance, collections, items). Links are
absolute, built from ``base`` (e.g. "http://host:8000/ogc").
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from layers.errors import LayerError
from layers.model import LayerInfo, QueryResult
from layers.ogc_crs import CRS84, SUPPORTED, bbox_to_crs84

GEOJSON = "application/geo+json"
JSON = "application/json"
HTML = "text/html"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
_F1, _F2 = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf", \
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf"
_F3, _F4 = "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf", \
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf"
_CQL = "http://www.opengis.net/spec/cql2/1.0/conf"
CONFORMANCE = [
    f"{_F1}/core", f"{_F1}/geojson", f"{_F1}/html", f"{_F1}/oas30", f"{_F2}/crs",
    f"{_F3}/queryables", f"{_F3}/queryables-query-parameters", f"{_F3}/filter",
    f"{_F3}/features-filter", "http://www.opengis.net/spec/ogcapi-features-5/1.0/conf/sortables",
    "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/sorting",
    f"{_CQL}/cql2-text", f"{_CQL}/basic-cql2", f"{_CQL}/advanced-comparison-operators",
    f"{_CQL}/basic-spatial-functions", f"{_CQL}/basic-spatial-functions-plus",
    f"{_CQL}/spatial-functions", f"{_CQL}/temporal-functions",
    f"{_F4}/create-replace-delete", f"{_F4}/update", f"{_F4}/features",
]
#: Parameters of /items that are not property filters.
RESERVED_PARAMS = {"bbox", "limit", "offset", "datetime", "f", "bbox-crs", "crs", "filter",
                   "filter-lang", "filter-crs", "sortby", "properties"}
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
                      _link(f"{base}?f=html", "alternate", HTML, "this document (HTML)"),
                      _link(f"{base}/api", "service-desc", OPENAPI, "OpenAPI 3.0 definition"),
                      _link(f"{base}/conformance", "conformance", JSON, "conformance classes"),
                      _link(f"{base}/collections", "data", JSON, "feature collections")]}


def conformance() -> dict[str, Any]:
    return {"conformsTo": list(CONFORMANCE)}


def collection(info: LayerInfo, base: str) -> dict[str, Any]:
    """One collection's description; cimtwin fields (kind, ...) sit beside the standard ones."""
    href = f"{base}/collections/{info.id}"
    return {
        "id": info.id, "title": info.title, "description": info.description,
        "itemType": "feature", "crs": list(SUPPORTED), "storageCrs": CRS84,
        "extent": {"spatial": {"bbox": [info.bbox], "crs": CRS84}},
        "kind": info.kind, "classification": info.classification, "sourceCrs": info.source_crs,
        "count": info.count, "properties": info.schema, "temporalProperties": info.temporal,
        "updated": info.updated,
        "links": [_link(href, "self", JSON, info.title),
                  _link(f"{href}/items", "items", GEOJSON, "features"),
                  _link(f"{href}/items?f=html", "items", HTML, "features (HTML)"),
                  _link(f"{href}/queryables", "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                        "application/schema+json", "queryables")],
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
            "timeStamp": datetime.now(timezone.utc).isoformat(timespec="seconds")
            .replace("+00:00", "Z"),
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


def parse_bbox(text: str | None, crs: str = CRS84) -> list[float] | None:
    """bbox=w,s,e,n in CRS84 degrees (a 6-value 3D bbox keeps its horizontal part), or
    in bbox-crs ``crs``'s axis order (then converted to CRS84)."""
    if not text:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise LayerError(f"bbox must be 4 numbers west,south,east,north; got {text!r}") from None
    if len(values) == 6:
        values = [values[0], values[1], values[3], values[4]]
    if len(values) != 4 or not all(v == v and abs(v) != float("inf") for v in values):
        raise LayerError(f"bbox must be 4 numbers west,south,east,north; got {text!r}")
    if crs != CRS84:
        if values[0] > values[2] or values[1] > values[3]:
            raise LayerError(f"bbox {text!r}: the lower corner must come first (in {crs}'s "
                             "axis order)")
        return bbox_to_crs84(values, crs)
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


def parse_sortby(text: str | None) -> list[tuple[str, bool]] | None:
    """sortby=name,-date (+ or none ascending, - descending) -> [(name, ascending)]."""
    if not text:
        return None
    keys = []
    for part in text.split(","):
        part = part.strip()
        name = part.lstrip("+-").strip()
        if not name:
            raise LayerError(f"sortby {text!r}: empty property name")
        keys.append((name, not part.startswith("-")))
    return keys


def parse_properties(text: str | None, columns: tuple[str, ...], layer_id: str) -> list | None:
    """properties=a,b: only these properties in each feature (unknown names are a 400)."""
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in columns]
    if unknown:
        raise LayerError(f"properties: layer {layer_id!r} has no {', '.join(unknown)}; "
                         f"it has: {', '.join(columns)}")
    return names


def parse_filter(args: dict[str, str]) -> tuple | None:
    """filter= in CQL2 text (filter-lang must be cql2-text; filter-crs CRS84)."""
    from layers.cql2 import parse
    lang = args.get("filter-lang") or "cql2-text"
    if lang not in ("cql2-text", "cql-text"):  # cql-text: the draft's name, sent by GDAL
        raise LayerError(f"filter-lang={lang!r} is not offered; use cql2-text")
    filter_crs = args.get("filter-crs")
    if filter_crs and parse_crs_arg(filter_crs, "filter-crs") != CRS84:
        raise LayerError("filter-crs: only CRS84 geometries are accepted in filters")
    text = args.get("filter")
    return None if text is None else parse(text)


def parse_crs_arg(text: str | None, name: str) -> str:
    from layers.ogc_crs import parse_crs
    return parse_crs(text, name)


def queryables(info: LayerInfo, columns: tuple[str, ...], base: str) -> dict[str, Any]:
    """The JSON Schema of what a filter may name (Part 3 /queryables)."""
    props: dict[str, Any] = {"geometry": {"$ref": "https://geojson.org/schema/Geometry.json",
                                          "x-ogc-role": "primary-geometry"}}
    for name in columns:
        props[name] = json_type(info.schema.get(name, "string"))
        props[name]["title"] = name
    for name, labels in vocabulary(info.kind).items():
        if name in props:  # the viewer's icons and colours key on these codes
            props[name]["enum"] = list(labels)
            props[name]["x-labels-zh"] = labels
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"{base}/collections/{info.id}/queryables", "type": "object",
            "title": info.title, "properties": props, "additionalProperties": False}


def json_type(kind: str) -> dict[str, Any]:
    """JSON Schema of a stored property type."""
    return {"integer": {"type": "integer"}, "number": {"type": "number"},
            "boolean": {"type": "boolean"}, "date": {"type": "string", "format": "date"},
            "datetime": {"type": "string", "format": "date-time"}}.get(kind, {"type": "string"})


def vocabulary(kind: str) -> dict[str, dict[str, str]]:
    """Controlled values of a layer kind (code -> Chinese label): stages, categories."""
    from layers.vocab import CATEGORIES, STAGES
    return {"projects": {"stage": dict(STAGES)},
            "facilities": {"category": dict(CATEGORIES)}}.get(kind, {})
