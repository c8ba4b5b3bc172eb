"""OGC API - Features over the LayerStore: Parts 1 (core, geojson, html, oas30),
2 (crs, bbox-crs), 3 (CQL2 text filter, queryables, sortby, properties) and
4 (create/replace/update/delete of project and facility items).

Routes only: documents are built by :mod:`layers.ogc`, data comes from the layer
store. Every response respects classification (a layer the caller may not see is a
404, exactly like a missing one); errors are JSON problems (LayerError -> 400/404).
"""
from __future__ import annotations

from flask import Blueprint, Response, request

from layers import geojson, ogc, ogc_html
from layers.errors import LayerError
from layers.ogc_crs import CRS84, features_to, geometry_to_crs84, header_value, parse_crs
from layers.ogc_openapi import openapi
from server import auth
from server.auth import allowed_levels
from server.services import current_services
from server.api_schemas import FEATURE, FEATURES, OBJECT
from server.openapi import describe

bp = Blueprint("ogc_api", __name__, url_prefix="/ogc")


def _base() -> str:
    return request.host_url.rstrip("/") + bp.url_prefix


def _respond(body: dict, mimetype: str = ogc.JSON, status: int = 200,
             crs: str | None = None) -> Response:
    response = Response(geojson.dumps(body), status=status, mimetype=mimetype)
    if crs is not None:
        response.headers["Content-Crs"] = header_value(crs)
    return response


def _wants_html() -> bool:
    """f=html, or a browser asking for HTML first; f=json/geojson or none: JSON."""
    wanted = request.args.get("f")
    if wanted not in (None, "", "json", "geojson", "html"):
        raise LayerError(f"f={wanted!r} is not offered; use f=json or f=html")
    if wanted:
        return wanted == "html"
    return request.accept_mimetypes.best_match([ogc.JSON, ogc.HTML]) == ogc.HTML


def _html(text: str) -> Response:
    return Response(text, mimetype="text/html")


@bp.get("")
@bp.get("/")
@describe("OGC API Features landing page", tag="ogc", response=OBJECT, scope="read:layers")
def landing():
    doc = ogc.landing(_base())
    return _html(ogc_html.landing(doc)) if _wants_html() else _respond(doc)


@bp.get("/conformance")
@describe("OGC API Features conformance classes", tag="ogc", response=OBJECT, scope="read:layers")
def conformance():
    doc = ogc.conformance()
    return _html(ogc_html.conformance(doc)) if _wants_html() else _respond(doc)


@bp.get("/api")
@describe("The OGC API Features OpenAPI document (Part 1 oas30)", tag="ogc", response=OBJECT,
          scope="read:layers")
def api():
    store = current_services().layers
    visible = [(info, store.columns(info.id)) for info in store.list_layers(allowed_levels())]
    return _respond(openapi(visible, _base()), ogc.OPENAPI)


@bp.get("/collections")
@describe("The layers the caller may see", tag="ogc", response=OBJECT, scope="read:layers")
def collections():
    html = _wants_html()
    infos = current_services().layers.list_layers(allowed_levels())
    doc = ogc.collections(infos, _base())
    return _html(ogc_html.collections(doc)) if html else _respond(doc)


@bp.get("/collections/<collection_id>")
@describe("One layer", tag="ogc", response=OBJECT, scope="read:layers")
def collection(collection_id: str):
    html = _wants_html()
    info = current_services().layers.get_layer(collection_id, allowed_levels())
    doc = ogc.collection(info, _base())
    return _html(ogc_html.collection(doc)) if html else _respond(doc)


@bp.get("/collections/<collection_id>/queryables")
@describe("A layer's queryable properties (Part 3)", tag="ogc", media="application/schema+json",
          response=OBJECT, scope="read:layers")
def queryables(collection_id: str):
    store, levels = current_services().layers, allowed_levels()
    info = store.get_layer(collection_id, levels)
    doc = ogc.queryables(info, store.columns(collection_id, levels), _base())
    return _respond(doc, "application/schema+json")


@bp.get("/collections/<collection_id>/items")
@describe("A layer's features (bbox, datetime, CQL2 filter, sortby, crs)", tag="ogc",
          media="application/geo+json", response=FEATURES, scope="read:layers",
          query={"bbox": "west,south,east,north", "filter": "CQL2 text", "limit": "page size",
                 "datetime": "instant or interval", "crs": "output CRS URI"})
def items(collection_id: str):
    html = _wants_html()
    store, levels = current_services().layers, allowed_levels()
    info = store.get_layer(collection_id, levels)
    args = request.args.to_dict(flat=True)
    crs = parse_crs(args.get("crs"), "crs")
    bbox_crs = parse_crs(args.get("bbox-crs"), "bbox-crs")
    if "bbox-crs" in args and "bbox" not in args:
        raise LayerError("bbox-crs was given without bbox")
    limit, offset = ogc.parse_limit(args.get("limit")), ogc.parse_offset(args.get("offset"))
    result = store.query(
        collection_id, bbox=ogc.parse_bbox(args.get("bbox"), bbox_crs), limit=limit,
        offset=offset, filters=ogc.property_filters(args),
        datetime=ogc.parse_datetime(args.get("datetime")), levels=levels,
        cql=ogc.parse_filter(args), sortby=ogc.parse_sortby(args.get("sortby")),
        properties=ogc.parse_properties(args.get("properties"),
                                        store.columns(collection_id, levels), collection_id))
    features_to(result.features, crs)
    params = {k: v for k, v in args.items() if k not in ("limit", "offset")}
    doc = ogc.items(result, info, _base(), params, limit, offset)
    if html:
        return _html(ogc_html.items(doc, info.title))
    return _respond(doc, ogc.GEOJSON, crs=crs)


def _feature_doc(collection_id: str, feature_id, crs: str) -> dict:
    feature = current_services().layers.get_feature(collection_id, feature_id, allowed_levels())
    features_to([feature], crs)
    base = f"{_base()}/collections/{collection_id}"
    feature["links"] = [{"href": f"{base}/items/{feature_id}", "rel": "self", "type": ogc.GEOJSON},
                        {"href": base, "rel": "collection", "type": ogc.JSON}]
    return feature


@bp.get("/collections/<collection_id>/items/<feature_id>")
@describe("One feature", tag="ogc", media="application/geo+json", response=FEATURE,
          scope="read:layers")
def item(collection_id: str, feature_id: str):
    html = _wants_html()
    crs = parse_crs(request.args.get("crs"), "crs")
    feature = _feature_doc(collection_id, feature_id, crs)
    return _html(ogc_html.item(feature)) if html else _respond(feature, ogc.GEOJSON, crs=crs)


# -- Part 4: writes ------------------------------------------------------------------
def _body() -> dict:
    """The request's GeoJSON feature, its geometry moved from Content-Crs to CRS84."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise LayerError("send a GeoJSON Feature as the JSON request body "
                         "(Content-Type: application/geo+json)")
    crs = parse_crs(request.headers.get("Content-Crs", "").strip("<> ") or None, "Content-Crs")
    if crs != CRS84 and body.get("geometry") is not None:
        body = {**body, "geometry": geometry_to_crs84(body["geometry"], crs)}
    return body


def _actor() -> str:
    """Who made the change, for the history row: the user (or token) and how they came."""
    principal = auth.current_principal()
    return f"{principal.name} ({principal.via})"


def _stage(feature: dict | None):
    return ((feature or {}).get("properties") or {}).get("stage")


def _project_stage(collection_id: str, feature_id: str):
    """The stage of a project feature before an edit (None for other layer kinds)."""
    store = current_services().layers
    if store.get_layer(collection_id, allowed_levels()).kind != "projects":
        return None
    return _stage(store.get_feature(collection_id, feature_id, allowed_levels()))


def _emit_change(collection_id: str, fid, change: str, stage_before=None) -> None:
    """layer.changed with the feature id; project.stage_changed when an edit moved a
    project to another stage (server.events)."""
    services = current_services()
    info = services.layers.get_layer(collection_id)
    events = services.events
    events.emit("layer.changed", {"layer": collection_id, "change": change,
                                  "feature_ids": [fid]}, info.classification)
    if stage_before is None or change == "deleted":
        return
    feature = services.layers.get_feature(collection_id, fid)
    if _stage(feature) != stage_before:
        events.emit("project.stage_changed", {
            "layer": collection_id, "feature_id": fid,
            "name": (feature.get("properties") or {}).get("name"),
            "from": stage_before, "to": _stage(feature)}, info.classification)


@bp.post("/collections/<collection_id>/items")
@auth.require_token("admin")
@describe("Add a feature (Part 4)", tag="ogc", status=201, body=FEATURE,
          body_type="application/geo+json", response=FEATURE)
def create_item(collection_id: str):
    store = current_services().layers
    fid = store.create_feature(collection_id, _body(), _actor(), allowed_levels())
    _emit_change(collection_id, fid, "created")
    response = _respond(_feature_doc(collection_id, fid, CRS84), ogc.GEOJSON, 201, CRS84)
    response.headers["Location"] = f"{_base()}/collections/{collection_id}/items/{fid}"
    return response


@bp.put("/collections/<collection_id>/items/<feature_id>")
@auth.require_token("admin")
@describe("Replace a feature (Part 4)", tag="ogc", body=FEATURE, body_type="application/geo+json",
          response=FEATURE)
def replace_item(collection_id: str, feature_id: str):
    before = _project_stage(collection_id, feature_id)
    current_services().layers.replace_feature(collection_id, feature_id, _body(), _actor(),
                                              allowed_levels())
    _emit_change(collection_id, _fid(feature_id), "replaced", before)
    return _respond(_feature_doc(collection_id, feature_id, CRS84), ogc.GEOJSON, crs=CRS84)


@bp.patch("/collections/<collection_id>/items/<feature_id>")
@auth.require_token("admin")
@describe("Update some properties of a feature (Part 4)", tag="ogc", body=OBJECT,
          body_type="application/merge-patch+json", response=FEATURE)
def update_item(collection_id: str, feature_id: str):
    before = _project_stage(collection_id, feature_id)
    current_services().layers.update_feature(collection_id, feature_id, _body(), _actor(),
                                             allowed_levels())
    _emit_change(collection_id, _fid(feature_id), "updated", before)
    return _respond(_feature_doc(collection_id, feature_id, CRS84), ogc.GEOJSON, crs=CRS84)


@bp.delete("/collections/<collection_id>/items/<feature_id>")
@auth.require_token("admin")
@describe("Delete a feature (Part 4)", tag="ogc", status=204)
def delete_item(collection_id: str, feature_id: str):
    current_services().layers.delete_feature(collection_id, feature_id, _actor(),
                                             allowed_levels())
    _emit_change(collection_id, _fid(feature_id), "deleted")
    return Response(status=204)


@bp.get("/collections/<collection_id>/items/<feature_id>/history")
@describe("A feature's lifecycle history (project stages)", tag="ogc", response=OBJECT,
          scope="read:layers")
def item_history(collection_id: str, feature_id: str):
    """Every change of one item (who, when, old and new values): a cimtwin extension."""
    rows = current_services().layers.history(collection_id, int(_fid(feature_id)),
                                             allowed_levels())
    return _respond({"history": rows})


def _fid(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise LayerError(f"feature id {text!r} is not an integer") from None
