"""OGC API - Features over the LayerStore: /ogc, /ogc/conformance, /ogc/collections...

Routes only: documents are built by :mod:`layers.ogc`, data comes from the layer
store. Every response respects classification (a layer the caller may not see is a
404, exactly like a missing one); errors are JSON problems (LayerError -> 400/404).
"""
from __future__ import annotations

from flask import Blueprint, Response, json, request

from layers import ogc
from layers.errors import LayerError
from server.auth import allowed_levels
from server.services import current_services

bp = Blueprint("ogc_api", __name__, url_prefix="/ogc")


def _base() -> str:
    return request.host_url.rstrip("/") + bp.url_prefix


def _respond(body: dict, mimetype: str = ogc.JSON) -> Response:
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return Response(data, mimetype=mimetype)


def _check_format() -> None:
    """Only JSON is served; f=json/geojson (or none) is accepted, anything else is a 400."""
    wanted = request.args.get("f")
    if wanted not in (None, "", "json", "geojson"):
        raise LayerError(f"f={wanted!r} is not offered; use f=json")


@bp.get("")
@bp.get("/")
def landing():
    _check_format()
    return _respond(ogc.landing(_base()))


@bp.get("/conformance")
def conformance():
    _check_format()
    return _respond(ogc.conformance())


@bp.get("/collections")
def collections():
    _check_format()
    infos = current_services().layers.list_layers(allowed_levels())
    return _respond(ogc.collections(infos, _base()))


@bp.get("/collections/<collection_id>")
def collection(collection_id: str):
    _check_format()
    info = current_services().layers.get_layer(collection_id, allowed_levels())
    return _respond(ogc.collection(info, _base()))


@bp.get("/collections/<collection_id>/items")
def items(collection_id: str):
    _check_format()
    store, levels = current_services().layers, allowed_levels()
    info = store.get_layer(collection_id, levels)
    args = request.args.to_dict(flat=True)
    limit, offset = ogc.parse_limit(args.get("limit")), ogc.parse_offset(args.get("offset"))
    result = store.query(collection_id, bbox=ogc.parse_bbox(args.get("bbox")), limit=limit,
                         offset=offset, filters=ogc.property_filters(args),
                         datetime=ogc.parse_datetime(args.get("datetime")), levels=levels)
    params = {k: v for k, v in args.items() if k not in ("limit", "offset")}
    return _respond(ogc.items(result, info, _base(), params, limit, offset), ogc.GEOJSON)


@bp.get("/collections/<collection_id>/items/<feature_id>")
def item(collection_id: str, feature_id: str):
    _check_format()
    feature = current_services().layers.get_feature(collection_id, feature_id, allowed_levels())
    base = f"{_base()}/collections/{collection_id}"
    feature["links"] = [{"href": f"{base}/items/{feature_id}", "rel": "self", "type": ogc.GEOJSON},
                        {"href": base, "rel": "collection", "type": ogc.JSON}]
    return _respond(feature, ogc.GEOJSON)
