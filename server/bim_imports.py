"""``cimtwin import bim`` minus argument parsing: IFC -> tileset + element index + catalog.

Read the IFC (bim_import), tile it (tiles.pipeline), write the per-model element index,
then add the catalog entry last, so a failure at any step publishes nothing a user can
open. Options are declared in the registry (:mod:`server.imports`); the HTTP routes
over the element index are in :mod:`server.bim_api`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from bim_import import read_ifc, write_element_index
from server.placement import Placement
from server.services import Services
from server.tileset_imports import build_options, geoid_offset, parse_origin, register_tileset
from tiles.pipeline import build_tileset

Progress = Callable[[dict], None] | None

#: BIM feature keys with few distinct values: stored as glb ENUMs (smaller tiles).
ENUM_PROPERTIES = ("IfcClass", "Storey", "Building")

#: IFC models smaller than this are tiled in-process: a process pool costs more to start
#: (~0.5 s on 2 cores) than building their few tiles.
INLINE_BELOW_BYTES = 20 * 1024 * 1024

#: IFC models smaller than this skip the gltf-validator run inside the import: starting
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
                    geoid_offset_m: float | None = None, compression: str | None = None,
                    progress: Progress = None, validate_glb: bool | None = None,
                    placement: Placement | None = None) -> dict:
    """Import one IFC file as a BIM tileset; returns the import summary.

    The summary holds the catalog fields plus ``id``, ``elements``
    (features built), ``skipped`` (GlobalIds whose geometry failed), ``georef_source``,
    ``georef`` (frame, notes) and ``warnings``. ``tileset_id`` re-imports over an
    existing model (the previous version serves until the new one is complete).
    ``validate_glb`` runs the gltf-validator before publishing (None: for files of
    at least :data:`VALIDATE_FROM_BYTES`).
    """
    placement = placement or Placement()
    if isinstance(origin, str):
        origin = parse_origin(origin) if origin.strip() else None
    path = Path(path)
    reader = read_ifc(path, crs=crs or None, origin=origin, rotation=rotation,
                      include_spaces=include_spaces,
                      geoid_offset_m=geoid_offset(services, geoid_offset_m))
    name = name or path.stem
    replacing = tileset_id is not None and services.catalog.get(tileset_id) is not None
    tileset_id = tileset_id or services.catalog.new_id(name)
    size = path.stat().st_size
    if validate_glb is None:
        validate_glb = size >= VALIDATE_FROM_BYTES
    options = build_options(services, name=name, kind="bim", compression=compression,
                            workers=1 if size < INLINE_BELOW_BYTES else None,
                            enum_properties=ENUM_PROPERTIES, validate_glb=validate_glb)
    batches = reader.batches()
    if services.config["tiles"].get("geoid"):  # heights orthometric, N from the geoid
        from tiles.geoid import apply_geoid
        batches = apply_geoid(batches, services.config["tiles"]["geoid"])
    summary = build_tileset(placement.batches(batches), services.store, tileset_id,
                            options, progress=progress)
    bim = reader.summary()
    try:
        write_element_index(element_index_path(services, tileset_id), reader.features,
                            reader.semantics.storeys(),
                            {"tileset_id": tileset_id, "source": path.name, **bim,
                             "units": reader.semantics.units()})
        extra = {"bim": {k: bim[k] for k in ("schema", "elements", "skipped", "georef_source",
                                             "georef", "triangles")}}
        entry = register_tileset(services, summary, classification=classification,
                                 source=str(path), extra=extra)
    except BaseException:
        if not replacing:  # a new model: take back what was published
            services.store.delete(tileset_id)
            element_index_path(services, tileset_id).unlink(missing_ok=True)
        raise
    warnings = list(dict.fromkeys(bim["warnings"] + list(summary.warnings) + placement.warnings))
    return (entry.get("summary") or {}) | {
        "id": tileset_id, "name": name, "classification": classification,
        "elements": bim["elements"], "skipped": bim["skipped"], "products": bim["products"],
        "georef_source": bim["georef_source"], "georef": bim["georef"], "warnings": warnings}
