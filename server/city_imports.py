"""Imports that turn a user's city data into 3D: footprints -> white models (LoD1), and
CityJSON/CityGML buildings -> a tileset with one feature per Building/BuildingPart.

Each function is what one ``cimtwin import buildings|citymodel`` command does, minus
argument parsing. The tileset is built (and published atomically by the engine) before
the footprint layer is stored, so a failed import leaves both as they were.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from server.imports import Progress, build_options, register_tileset
from server.services import Services
from tiles.model import GeoFrame


def _frame(services: Services, crs: str, origin: tuple[float, float, float]) -> GeoFrame:
    """Heights orthometric when a geoid offset is configured, else used as ellipsoidal."""
    n = float(services.config["tiles"]["geoid_offset_m"] or 0.0)
    return GeoFrame(crs=crs, origin=origin, vertical="orthometric" if n else "ellipsoidal",
                    geoid_offset_m=n)


def _plain(value: Any) -> Any:
    """An attribute as 3D Tiles metadata can hold it (no NaN, no timestamps)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def import_buildings(services: Services, path: str | Path, *, crs: str | None = None,
                     height_field: str | None = None, floors_field: str | None = None,
                     storey_height: float = 3.0, default_height: float | None = None,
                     base_height: float = 0.0, name: str | None = None,
                     tileset_id: str | None = None, layer_id: str | None = None,
                     classification: str = "internal", compression: str | None = None,
                     progress: Progress = None) -> dict:
    """Footprints (GeoJSON/Shapefile/GeoPackage/...) -> white-model tileset + footprint layer."""
    from layers import LayerInfo
    from layers.footprints import read_footprints
    from layers.importer import layer_id_from
    from server.demo.extrude import Footprint, extrude_footprints
    from tiles.pipeline import build_tileset
    path = Path(path)
    fs = read_footprints(path, crs=crs, height_field=height_field, floors_field=floors_field,
                         storey_height=storey_height, default_height=default_height,
                         base_height=base_height)
    columns = [c for c in fs.frame.columns if c != fs.frame.geometry.name]
    records = fs.frame[columns].to_dict("records")
    footprints = [Footprint(poly, base, top, {k: _plain(v) for k, v in rec.items()}, group="")
                  for poly, base, top, rec in zip(fs.polygons, fs.base, fs.top, records)]
    frame = _frame(services, fs.crs, (fs.origin[0], fs.origin[1], 0.0))
    batches = extrude_footprints(footprints, frame)
    name = name or path.stem
    tileset_id = tileset_id or services.catalog.new_id(name)
    options = build_options(services, name=name, kind="buildings", compression=compression,
                            geoid_offset_m=frame.geoid_offset_m)
    summary = build_tileset(batches, services.store, tileset_id, options, progress=progress)
    report = {"buildings": len(footprints), "height_sources": fs.sources,
              "warnings": fs.warnings, "crs": fs.crs}
    entry = register_tileset(services, summary, classification=classification,
                             source=str(path), extra={"buildings": report})
    layer = services.layers.put_layer(fs.frame, LayerInfo(
        id=layer_id or layer_id_from(path), title=name, kind="buildings",
        classification=classification, source=path.name, warnings=fs.warnings))
    return entry["summary"] | report | {"id": tileset_id, "layer": layer.id,
                                        "classification": classification}


def import_citymodel(services: Services, path: str | Path, *, crs: str | None = None,
                     name: str | None = None, tileset_id: str | None = None,
                     classification: str = "internal", compression: str | None = None,
                     progress: Progress = None) -> dict:
    """CityJSON/CityGML buildings -> a tileset, one feature per Building/BuildingPart."""
    import time

    from tiles.pipeline import build_tileset
    from tiles.readers.citymodel import read_citymodel
    path = Path(path)
    offset = float(services.config["tiles"]["geoid_offset_m"] or 0.0)
    started = time.perf_counter()
    model = read_citymodel(path, crs, geoid_offset_m=offset)
    read_s = time.perf_counter() - started
    name = name or path.name.split(".")[0]
    tileset_id = tileset_id or services.catalog.new_id(name)
    options = build_options(services, name=name, kind="buildings", compression=compression,
                            geoid_offset_m=model.frame.geoid_offset_m)
    summary = build_tileset(model.batches(), services.store, tileset_id, options,
                            progress=progress)
    report = {**model.stats, "crs": model.crs, "frame_crs": model.frame.crs,
              "warnings": model.warnings, "read_seconds": round(read_s, 3)}
    entry = register_tileset(services, summary, classification=classification,
                             source=str(path), extra={"citymodel": report})
    return entry["summary"] | report | {"id": tileset_id, "classification": classification}
