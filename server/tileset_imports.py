"""Imports that end in a tileset: run a reader through the engine, then catalog the result.

``import_mesh`` and ``import_production`` are what ``cimtwin import mesh|photo`` do minus
argument parsing (their options are declared in the registry, :mod:`server.imports`);
``build_options`` and ``register_tileset`` are the pieces every tileset import reuses.
Geometry goes through the registry's :class:`server.placement.Placement` on its way.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from server.placement import Placement
from server.services import Services
from tiles.errors import GeoreferenceError, InputError
from tiles.model import GeoFrame
from tiles.pipeline import BuildOptions, build_tileset
from tiles.readers.contextcapture import read_production
from tiles.readers.mesh import read_mesh

Progress = Callable[[dict], None] | None


def parse_origin(text: str | None) -> tuple[float, float, float]:
    """'E,N[,H]' -> (E, N, H); a clear error otherwise."""
    if text is None or text == "":
        return (0.0, 0.0, 0.0)
    try:
        values = [float(v) for v in str(text).split(",")]
    except ValueError:
        values = []
    if len(values) not in (2, 3):
        raise GeoreferenceError(
            f"--origin must be 'E,N' or 'E,N,H' in the CRS's units, got {text!r}")
    return (values[0], values[1], values[2] if len(values) == 3 else 0.0)


def build_options(services: Services, *, name: str, kind: str, **overrides: Any) -> BuildOptions:
    """BuildOptions from the [tiles] config, with per-import overrides (None = config)."""
    tiles_cfg = services.config["tiles"]
    values = {"name": name, "kind": kind,
              **{key: tiles_cfg[key] for key in ("max_triangles_per_tile", "max_texture_px",
                                                 "compression", "workers", "dask_scheduler",
                                                 "geoid_offset_m")},
              "work_dir": str(services.data_dir / "work")}  # kept: a failed import resumes
    values.update({k: v for k, v in overrides.items() if v is not None})
    return BuildOptions(**values)


def register_tileset(services: Services, summary, *, classification: str, source: str,
                     extra: dict | None = None) -> dict:
    """Record a published tileset in the catalog (and emit ``tileset.published``);
    returns the catalog entry."""
    data = summary.to_dict() if hasattr(summary, "to_dict") else dict(summary)
    entry = {
        "id": data["tileset_id"], "name": data.get("name") or data["tileset_id"],
        "kind": data["kind"], "bounds": data.get("bounds"), "height": data.get("height"),
        "classification": classification, "frame": data.get("frame"),
        "summary": data | (extra or {}), "source": source,
    }
    added = services.catalog.add(entry)
    services.events.emit("tileset.published", {
        "id": added["id"], "name": added["name"], "kind": added["kind"],
        "url": f"/tiles/{added['id']}/tileset.json"}, classification)
    return added


def geoid_offset(services: Services, geoid_offset_m: float | None) -> float:
    """The geoid offset N of an import: the option, else config tiles.geoid_offset_m."""
    configured = services.config["tiles"]["geoid_offset_m"]
    return float(configured if geoid_offset_m is None else geoid_offset_m)


def published(services: Services, summary, placement: Placement, *, tileset_id: str,
               classification: str, source: str) -> dict:
    """Catalog a built tileset; the import's summary with the placement warnings added."""
    entry = register_tileset(services, summary, classification=classification, source=source)
    result = entry["summary"] | {"id": tileset_id, "classification": classification}
    if placement.warnings:
        result["warnings"] = list(result.get("warnings") or []) + placement.warnings
    return result


def import_mesh(services: Services, path: str | Path, *, crs: str | None,
                origin: str | tuple | None = None, name: str | None = None,
                tileset_id: str | None = None, classification: str = "internal",
                kind: str = "mesh", vertical: str = "ellipsoidal",
                geoid_offset_m: float | None = None, compression: str | None = None,
                progress: Progress = None, placement: Placement | None = None) -> dict:
    """A mesh file (OBJ/PLY/glb, read with trimesh) -> a published tileset + catalog entry."""
    placement = placement or Placement()
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such file: {path}")
    if not crs:
        raise GeoreferenceError(
            "a mesh file carries no CRS: pass --crs (e.g. --crs EPSG:4548) and "
            "--origin E,N,H (the easting, northing and height its coordinates are relative to)")
    if not isinstance(origin, tuple):
        origin = parse_origin(origin)
    offset = geoid_offset(services, geoid_offset_m)
    frame = GeoFrame(crs=crs, origin=origin, vertical=vertical, geoid_offset_m=offset)
    name = name or path.stem
    tileset_id = tileset_id or services.catalog.new_id(name)
    options = build_options(services, name=name, kind=kind, compression=compression,
                            geoid_offset_m=offset)
    summary = build_tileset(placement.batches(read_mesh(path, frame)), services.store,
                            tileset_id, options, progress=progress)
    return published(services, summary, placement, tileset_id=tileset_id,
                      classification=classification, source=str(path))


def import_production(services: Services, folder: str | Path, *, name: str | None = None,
                      tileset_id: str | None = None, classification: str = "internal",
                      geoid_offset_m: float | None = None, compression: str | None = None,
                      progress: Progress = None, placement: Placement | None = None) -> dict:
    """A ContextCapture production (metadata.xml + Data/Tile_*/ with OBJ or OSGB) ->
    a published reality-mesh tileset + catalog entry.

    The CRS and origin come from metadata.xml (its WKT parameters win over a contradicting
    AUTHORITY code). Heights are taken as ellipsoidal unless a geoid offset is given, in
    which case they are orthometric (a national height datum) and N is added.
    """
    placement = placement or Placement()
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder: pass the production folder that holds "
                         "metadata.xml and Data/")
    frame, batches = read_production(folder)
    if geoid_offset_m is not None:
        frame = replace(frame, vertical="orthometric", geoid_offset_m=geoid_offset_m)
    name = name or folder.name
    tileset_id = tileset_id or services.catalog.new_id(name)
    options = build_options(services, name=name, kind="reality", compression=compression,
                            geoid_offset_m=frame.geoid_offset_m)
    summary = build_tileset(placement.batches(batches), services.store, tileset_id, options,
                            progress=progress)
    return published(services, summary, placement, tileset_id=tileset_id,
                      classification=classification, source=str(folder))
