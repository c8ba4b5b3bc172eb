"""The OpenAPI 3.0 definition of the OGC API - Features service (/ogc/api).

Built from the stored layers, so each collection's path lists its own queryables as
query parameters, and editable layers (projects, facilities) document their writes.
"""
from __future__ import annotations

from typing import Any

from layers.edits import EDITABLE_KINDS
from layers.model import LayerInfo
from layers.ogc import RESERVED_PARAMS, json_type
from layers.ogc_crs import CRS84, SUPPORTED

_REF = "#/components/parameters/"
_COMMON = ("bbox", "bbox-crs", "crs", "limit", "offset", "datetime", "filter", "filter-lang",
           "filter-crs", "sortby", "properties", "f")


def _param(name: str, description: str, schema: dict, style: str | None = None) -> dict:
    param = {"name": name, "in": "query", "required": False, "description": description,
             "schema": schema}
    if style:
        param.update({"style": style, "explode": False})
    return param


def _parameters() -> dict[str, Any]:
    crs_enum = {"type": "string", "format": "uri", "enum": list(SUPPORTED), "default": CRS84}
    return {
        "bbox": _param("bbox", "west,south,east,north (in bbox-crs axis order)",
                       {"type": "array", "minItems": 4, "maxItems": 6,
                        "items": {"type": "number"}}, "form"),
        "bbox-crs": _param("bbox-crs", "CRS of bbox", crs_enum),
        "crs": _param("crs", "CRS of the response geometry (Content-Crs tells)", crs_enum),
        "limit": _param("limit", "page size", {"type": "integer", "minimum": 1,
                                               "maximum": 10000, "default": 100}),
        "offset": _param("offset", "features to skip", {"type": "integer", "minimum": 0}),
        "datetime": _param("datetime", "instant or interval (RFC 3339, '..' open)",
                           {"type": "string"}),
        "filter": _param("filter", "CQL2 text expression", {"type": "string"}),
        "filter-lang": _param("filter-lang", "filter language",
                              {"type": "string", "enum": ["cql2-text", "cql-text"]}),
        "filter-crs": _param("filter-crs", "CRS of filter geometries",
                             {"type": "string", "enum": [CRS84]}),
        "sortby": _param("sortby", "+name or -name, comma-separated",
                         {"type": "array", "items": {"type": "string"}}, "form"),
        "properties": _param("properties", "properties to return",
                             {"type": "array", "items": {"type": "string"}}, "form"),
        "f": _param("f", "format", {"type": "string", "enum": ["json", "html"]}),
        "featureId": {"name": "featureId", "in": "path", "required": True,
                      "schema": {"type": "integer"}},
    }


def _ok(media: str, description: str, schema: dict | None = None) -> dict:
    return {"description": description,
            "content": {media: {"schema": schema or {"type": "object"}}}}


def _problem(description: str) -> dict:
    return _ok("application/problem+json", description)


def _collection_paths(info: LayerInfo, columns: tuple[str, ...]) -> dict[str, Any]:
    path = f"/collections/{info.id}"
    schema_ref = {"$ref": f"#/components/schemas/{info.id}"}
    queryables = [_param(c, f"features whose {c} equals this", json_type(
        info.schema.get(c, "string"))) for c in columns if c not in RESERVED_PARAMS]
    items: dict[str, Any] = {"get": {
        "operationId": f"getItems_{info.id}", "summary": f"features of {info.title}",
        "tags": [info.id],
        "parameters": [{"$ref": _REF + p} for p in _COMMON] + queryables,
        "responses": {"200": _ok("application/geo+json", "a FeatureCollection page"),
                      "400": _problem("a bad parameter"), "404": _problem("no such layer")}}}
    item: dict[str, Any] = {"get": {
        "operationId": f"getItem_{info.id}", "tags": [info.id],
        "parameters": [{"$ref": _REF + "featureId"}, {"$ref": _REF + "crs"}],
        "responses": {"200": _ok("application/geo+json", "one feature", schema_ref),
                      "404": _problem("no such feature")}}}
    if info.kind in EDITABLE_KINDS:
        _add_writes(info, items, item, schema_ref)
    return {
        path: {"get": {"operationId": f"getCollection_{info.id}", "tags": [info.id],
                       "responses": {"200": _ok("application/json", "the collection")}}},
        f"{path}/items": items, f"{path}/items/{{featureId}}": item,
        f"{path}/queryables": {"get": {
            "operationId": f"getQueryables_{info.id}", "tags": [info.id],
            "responses": {"200": _ok("application/schema+json", "queryables")}}},
    }


def _add_writes(info: LayerInfo, items: dict, item: dict, schema_ref: dict) -> None:
    body = {"required": True, "content": {"application/geo+json": {"schema": schema_ref}}}
    security = [{"bearer": []}]
    denied = {"401": _problem("no token"), "403": _problem("the token may not write"),
              "400": _problem("invalid feature")}
    items["post"] = {"operationId": f"createItem_{info.id}", "tags": [info.id],
                     "requestBody": body, "security": security,
                     "responses": {"201": {"description": "created; Location names it"},
                                   **denied}}
    params = [{"$ref": _REF + "featureId"}]
    item["put"] = {"operationId": f"replaceItem_{info.id}", "tags": [info.id],
                   "parameters": params, "requestBody": body, "security": security,
                   "responses": {"200": _ok("application/geo+json", "replaced"), **denied}}
    item["patch"] = {"operationId": f"updateItem_{info.id}", "tags": [info.id],
                     "parameters": params, "security": security,
                     "requestBody": {"required": True, "content": {
                         "application/merge-patch+json": {"schema": {"type": "object"}}}},
                     "responses": {"200": _ok("application/geo+json", "updated"), **denied}}
    item["delete"] = {"operationId": f"deleteItem_{info.id}", "tags": [info.id],
                      "parameters": params, "security": security,
                      "responses": {"204": {"description": "deleted"}, **denied}}


def _feature_schema(info: LayerInfo, columns: tuple[str, ...]) -> dict[str, Any]:
    props = {c: {**json_type(info.schema.get(c, "string")), "nullable": True} for c in columns}
    return {"type": "object", "required": ["type", "geometry", "properties"],
            "properties": {"type": {"type": "string", "enum": ["Feature"]},
                           "geometry": {"type": "object", "nullable": True},
                           "properties": {"type": "object", "properties": props}}}


def openapi(layers: list[tuple[LayerInfo, tuple[str, ...]]], base: str) -> dict[str, Any]:
    """The whole definition; ``layers`` are the visible layers with their columns."""
    root = {"get": {"responses": {"200": _ok("application/json", "this document")}}}
    paths: dict[str, Any] = {
        "/": {"get": {**root["get"], "operationId": "getLanding", "summary": "landing page"}},
        "/conformance": {"get": {**root["get"], "operationId": "getConformance"}},
        "/collections": {"get": {**root["get"], "operationId": "getCollections"}},
        "/api": {"get": {"operationId": "getApi", "responses": {
            "200": _ok("application/vnd.oai.openapi+json;version=3.0", "OpenAPI 3.0")}}},
    }
    schemas = {}
    for info, columns in layers:
        paths.update(_collection_paths(info, columns))
        schemas[info.id] = _feature_schema(info, columns)
    return {"openapi": "3.0.3",
            "info": {"title": "cimtwin OGC API - Features", "version": "1.0.0",
                     "description": "GIS layers of the CIM platform: facilities, projects, "
                                    "buildings, sensors"},
            "servers": [{"url": base}], "paths": paths,
            "components": {"parameters": _parameters(), "schemas": schemas,
                           "securitySchemes": {"bearer": {"type": "http",
                                                          "scheme": "bearer"}}}}
