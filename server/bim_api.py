"""BIM models over HTTP (/api/bim/...): the viewer's inspector, storey isolation and
class toggles, answered from each model's element index.

The import itself (``cimtwin import bim``) is :func:`server.bim_imports.import_bim_file`.
"""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from bim_import import ElementIndex
from bim_import.errors import BimError
from server.auth import allowed_levels
from server.bim_imports import element_index_path
from server.errors import problem
from server.services import current_services
from server.api_schemas import OBJECT
from server.openapi import describe

bp = Blueprint("bim_api", __name__)


def _open_index(tileset_id: str):
    """The model's index if the caller may see the tileset; otherwise a 404 problem."""
    services = current_services()
    entry = services.catalog.get(tileset_id)
    if entry is None or entry.get("kind") != "bim" or \
            entry.get("classification") not in allowed_levels():
        return None, problem(404, "Not Found", f"no BIM model '{tileset_id}'")
    path = element_index_path(services, tileset_id)
    if not path.is_file():
        return None, problem(404, "Not Found",
                             f"BIM model '{tileset_id}' has no element index; import it again")
    return ElementIndex(path), None


@bp.get("/api/bim/<tileset_id>")
@describe("A BIM model's summary", tag="bim", response=OBJECT, scope="read:tiles")
def model_info(tileset_id: str):
    """The model's import facts: schema, element count, georeference and its warnings."""
    index, error = _open_index(tileset_id)
    if error is not None:
        return error
    return jsonify(index.meta())


@bp.get("/api/bim/<tileset_id>/elements/<global_id>")
@describe("One BIM element by GlobalId: class, storey, property sets", tag="bim", response=OBJECT,
          scope="read:tiles")
def element(tileset_id: str, global_id: str):
    """All properties of one element, by its IFC GlobalId, with ``units``: {property:
    symbol} of its measured ones (IfcUnitAssignment or the property's own unit)."""
    index, error = _open_index(tileset_id)
    if error is not None:
        return error
    found = index.get(global_id, with_units=True)
    if found is None:
        return problem(404, "Not Found",
                       f"no element with GlobalId '{global_id}' in '{tileset_id}'")
    return jsonify(found)


@bp.get("/api/bim/<tileset_id>/elements")
@describe("Search a BIM model's elements", tag="bim", response=OBJECT, scope="read:tiles",
          query={"class": "IFC class", "storey": "storey GlobalId",
                 "property": "Pset.Prop=value (repeatable)", "limit": "page size",
                 "offset": "skip"})
def elements(tileset_id: str):
    """Elements filtered by ?class=, ?storey=, ?property=Pset.Prop=value (repeatable)."""
    index, error = _open_index(tileset_id)
    if error is not None:
        return error
    properties = []
    for text in request.args.getlist("property"):
        key, sep, value = text.partition("=")
        if not sep or not key:
            raise BimError(f"property filter {text!r} must look like "
                           "Pset_WallCommon.IsExternal=true")
        properties.append((key, value))
    try:
        limit = int(request.args.get("limit", 100))
        offset = int(request.args.get("offset", 0))
    except ValueError:
        raise BimError("limit and offset must be whole numbers") from None
    return jsonify(index.query(ifc_class=request.args.get("class") or None,
                               storey=request.args.get("storey"), properties=properties,
                               limit=limit, offset=offset))


@bp.get("/api/bim/<tileset_id>/storeys")
@describe("A BIM model's storeys", tag="bim", response=OBJECT, scope="read:tiles")
def storeys(tileset_id: str):
    """Storeys lowest first (name, GlobalId, elevation m, element count)."""
    index, error = _open_index(tileset_id)
    if error is not None:
        return error
    return jsonify({"storeys": index.storeys()})


@bp.get("/api/bim/<tileset_id>/classes")
@describe("A BIM model's IFC classes with counts", tag="bim", response=OBJECT, scope="read:tiles")
def classes(tileset_id: str):
    """IFC classes in the model with their element counts."""
    index, error = _open_index(tileset_id)
    if error is not None:
        return error
    return jsonify({"classes": index.classes()})


@bp.get("/api/bim/<tileset_id>/tree")
@describe("A BIM model's element tree: storeys with their IFC classes and counts", tag="bim",
          response=OBJECT, scope="read:tiles")
def tree(tileset_id: str):
    """Storeys lowest first, each with its element count and classes with counts."""
    index, error = _open_index(tileset_id)
    if error is not None:
        return error
    return jsonify({"storeys": index.tree()})
