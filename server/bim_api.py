"""BIM models over HTTP (/api/bim/...) and the import the CLI and jobs call.

``import_bim_file`` is ``cimtwin import bim`` minus argument parsing: read the IFC
(bim_import), tile it (tiles.pipeline), write the per-model element index, then add
the catalog entry last, so a failure at any step publishes nothing a user can open.
The routes answer the viewer's inspector, storey isolation and class toggles.

Flask is imported only when the blueprint ``bp`` is first asked for (module
``__getattr__``): ``cimtwin import bim`` imports this module for ``import_bim_file``
alone, and Flask's import (~0.1 s) is a tenth of a small model's whole import.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from bim_import import ElementIndex, read_ifc, write_element_index
from bim_import.errors import BimError
from server.services import Services, current_services

log = logging.getLogger(__name__)

Progress = Callable[[dict], None] | None

#: Feature keys with few distinct values: stored as glb ENUMs (smaller tiles).
ENUM_PROPERTIES = ("IfcClass", "Storey", "Building")

#: Models smaller than this are tiled in-process: a process pool costs more to start
#: (~0.5 s on 2 cores) than building their few tiles.
INLINE_BELOW_BYTES = 20 * 1024 * 1024

#: Models smaller than this skip the gltf-validator run inside the import: starting
#: node costs ~0.3 s, as much as meshing a small house. The engine still checks the
#: tileset's structure before publishing, and the glb encoder is validator-tested.
VALIDATE_FROM_BYTES = 5 * 1024 * 1024


def element_index_path(services: Services, tileset_id: str) -> Path:
    """Where a model's element index lives (the tileset id is already checked safe)."""
    return services.data_dir / "bim" / f"{tileset_id}.sqlite"


def import_bim_file(services: Services, path: str | Path, *, name: str | None = None,
                    crs: str | None = None, origin: str | tuple | None = None,
                    rotation: float | None = None, include_spaces: bool = False,
                    classification: str = "internal", tileset_id: str | None = None,
                    progress: Progress = None, validate_glb: bool | None = None) -> dict:
    """Import one IFC file as a BIM tileset; returns the import summary.

    The summary holds the catalog fields plus ``id``, ``elements`` (features built),
    ``skipped`` (GlobalIds whose geometry failed), ``georef_source``, ``georef``
    (frame, notes) and ``warnings``. Bad input raises :class:`BimError` (or a
    ``tiles`` error) before anything is published. ``tileset_id`` re-imports over an
    existing model (the previous version serves until the new one is complete).
    ``validate_glb`` runs the gltf-validator before publishing (None: for files of
    at least :data:`VALIDATE_FROM_BYTES`).
    """
    from server.imports import build_options, parse_origin, register_tileset
    from tiles.pipeline import build_tileset
    if isinstance(origin, str):
        origin = parse_origin(origin) if origin.strip() else None
    path = Path(path)
    reader = read_ifc(path, crs=crs or None, origin=origin, rotation=rotation,
                      include_spaces=include_spaces,
                      geoid_offset_m=float(services.config["tiles"]["geoid_offset_m"] or 0.0))
    name = name or path.stem
    replacing = tileset_id is not None and services.catalog.get(tileset_id) is not None
    tileset_id = tileset_id or services.catalog.new_id(name)
    size = path.stat().st_size
    workers = 1 if size < INLINE_BELOW_BYTES else None
    if validate_glb is None:
        validate_glb = size >= VALIDATE_FROM_BYTES
    options = build_options(services, name=name, kind="bim", workers=workers,
                            enum_properties=ENUM_PROPERTIES, validate_glb=validate_glb)
    batches = reader.batches()
    if services.config["tiles"].get("geoid"):  # heights orthometric, N from the geoid
        from tiles.geoid import apply_geoid
        batches = apply_geoid(batches, services.config["tiles"]["geoid"])
    summary = build_tileset(batches, services.store, tileset_id, options,
                            progress=progress)
    bim = reader.summary()
    try:
        write_element_index(element_index_path(services, tileset_id), reader.features,
                            reader.semantics.storeys(),
                            {"tileset_id": tileset_id, "source": path.name, **bim})
        extra = {"bim": {k: bim[k] for k in ("schema", "elements", "skipped", "georef_source",
                                             "georef", "triangles")}}
        entry = register_tileset(services, summary, classification=classification,
                                 source=str(path), extra=extra)
    except BaseException:
        if not replacing:  # a new model: take back what was published
            services.store.delete(tileset_id)
            element_index_path(services, tileset_id).unlink(missing_ok=True)
        raise
    warnings = list(dict.fromkeys(bim["warnings"] + list(summary.warnings)))
    return (entry.get("summary") or {}) | {
        "id": tileset_id, "name": name, "classification": classification,
        "elements": bim["elements"], "skipped": bim["skipped"], "products": bim["products"],
        "georef_source": bim["georef_source"], "georef": bim["georef"], "warnings": warnings}


def _open_index(tileset_id: str):
    """The model's index if the caller may see the tileset; otherwise a 404 problem."""
    from server.auth import allowed_levels
    from server.errors import problem
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


def model_info(tileset_id: str):
    """The model's import facts: schema, element count, georeference and its warnings."""
    index, error = _open_index(tileset_id)
    if error is not None:
        return error
    from flask import jsonify
    return jsonify(index.meta())


def element(tileset_id: str, global_id: str):
    """All properties of one element, by its IFC GlobalId."""
    index, error = _open_index(tileset_id)
    if error is not None:
        return error
    from flask import jsonify
    from server.errors import problem
    found = index.get(global_id)
    if found is None:
        return problem(404, "Not Found", f"no element with GlobalId '{global_id}' in '{tileset_id}'")
    return jsonify(found)


def elements(tileset_id: str):
    """Elements filtered by ?class=, ?storey=, ?property=Pset.Prop=value (repeatable)."""
    index, error = _open_index(tileset_id)
    if error is not None:
        return error
    from flask import jsonify, request
    properties = []
    for text in request.args.getlist("property"):
        key, sep, value = text.partition("=")
        if not sep or not key:
            raise BimError(f"property filter {text!r} must look like Pset_WallCommon.IsExternal=true")
        properties.append((key, value))
    try:
        limit = int(request.args.get("limit", 100))
        offset = int(request.args.get("offset", 0))
    except ValueError:
        raise BimError("limit and offset must be whole numbers") from None
    return jsonify(index.query(ifc_class=request.args.get("class") or None,
                               storey=request.args.get("storey"), properties=properties,
                               limit=limit, offset=offset))


def storeys(tileset_id: str):
    """Storeys lowest first (name, GlobalId, elevation m, element count)."""
    index, error = _open_index(tileset_id)
    if error is not None:
        return error
    from flask import jsonify
    return jsonify({"storeys": index.storeys()})


def classes(tileset_id: str):
    """IFC classes in the model with their element counts."""
    index, error = _open_index(tileset_id)
    if error is not None:
        return error
    from flask import jsonify
    return jsonify({"classes": index.classes()})


#: URL rule -> view, registered on the blueprint when it is first needed.
ROUTES = (("/api/bim/<tileset_id>", model_info),
          ("/api/bim/<tileset_id>/elements/<global_id>", element),
          ("/api/bim/<tileset_id>/elements", elements),
          ("/api/bim/<tileset_id>/storeys", storeys),
          ("/api/bim/<tileset_id>/classes", classes))


def __getattr__(name: str):
    """``bp``, the Flask blueprint, built on first access (see the module docstring)."""
    if name != "bp":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from flask import Blueprint
    blueprint = Blueprint("bim_api", __name__)
    for rule, view in ROUTES:
        blueprint.add_url_rule(rule, view_func=view, methods=["GET"])
    globals()["bp"] = blueprint
    return blueprint
