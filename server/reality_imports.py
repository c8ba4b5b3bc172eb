"""Reality imports: oblique photography (OSGB/OBJ productions), point clouds, delivered
3D Tiles. Each function is one ``cimtwin import ...`` command minus argument parsing.

``import_photo`` keeps the producer's PagedLOD pyramid (:mod:`tiles.production`) unless
``rebuild_lod`` asks for today's re-simplification of the finest level
(:func:`tiles.pipeline.build_tileset`); OBJ productions and single mesh files are
always re-tiled (they carry no pyramid).
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from server.placement import Placement
from server.services import Services
from server.tileset_imports import Progress, build_options, parse_origin, register_tileset
from tiles.errors import InputError


def _photo_options(services: Services, name: str, compression: str | None,
                   texture_format: str = "jpeg"):
    from tiles.production import PhotoOptions
    cfg = services.config["tiles"]
    return PhotoOptions(name=name, workers=cfg["workers"], texture_format=texture_format,
                        dask_scheduler=cfg["dask_scheduler"],
                        compression=compression or cfg["compression"],
                        max_texture_px=cfg["max_texture_px"],
                        max_triangles_per_tile=cfg["max_triangles_per_tile"])


def import_photo(services: Services, path: str | Path, *, crs: str | None = None,
                 origin: str | tuple | None = None, name: str | None = None,
                 tileset_id: str | None = None, classification: str = "internal",
                 geoid_offset_m: float | None = None, compression: str | None = None,
                 rebuild_lod: bool = False, geoid: str | None = None,
                 texture_format: str = "jpeg",
                 progress: Progress = None, placement: Placement | None = None) -> dict:
    """A production folder, one tile folder, one .osgb, or one mesh file -> a published
    reality-mesh tileset + catalog entry (see the module doc).

    Heights are orthometric with N from ``geoid`` / [tiles] geoid when one is set (or
    the constant ``geoid_offset_m``), ellipsoidal otherwise."""
    path = Path(path)
    placement = placement or Placement()
    vertical = {"vertical": "orthometric", "geoid": "", "geoid_offset_m": geoid_offset_m} \
        if geoid_offset_m else vertical_options(services, geoid)
    if path.is_file() and path.suffix.lower() != ".osgb":
        return _import_mesh_file(services, path, crs, origin, name, tileset_id,
                                 classification, compression, vertical, progress, placement)
    from tiles.readers.contextcapture import open_photo
    if origin is not None and not isinstance(origin, tuple):
        origin = parse_origin(origin)
    source = open_photo(path, crs=crs, origin=origin)
    source.frame = replace(source.frame, **vertical)
    name = name or (path.stem if path.is_file() else path.name)
    tileset_id = tileset_id or services.catalog.new_id(name)
    if source.kind == "osgb" and not rebuild_lod:
        from tiles.production import build_production
        _check_first_root(source, placement)
        summary = build_production(source, services.store, tileset_id,
                                   _photo_options(services, name, compression,
                                                  texture_format),
                                   progress=progress)
    else:
        summary = _rebuild(services, path, source, tileset_id, name, compression, progress,
                           placement)
    entry = register_tileset(services, summary, classification=classification,
                             source=str(path), extra=geoid_record(summary) | {
                                 "pyramid": "producer" if (source.kind == "osgb"
                                                           and not rebuild_lod) else "rebuilt"})
    return entry["summary"] | {"id": tileset_id, "classification": classification}


def _check_first_root(source, placement: Placement) -> None:
    """The placement check on the first tile's root level, before anything is built
    (a wrong --crs/--origin is refused in a second, not after the whole production)."""
    from tiles.readers.contextcapture import osgb_batches
    first = source.roots[source.folders[0].name][0]
    for _ in placement.batches(osgb_batches(first, source.frame, [])):
        pass


def geoid_record(summary) -> dict:
    """What the catalog records of the vertical datum: the geoid and N at the centre."""
    from tiles.geoid import centre_undulation
    frame = summary.frame if hasattr(summary, "frame") else summary["frame"]
    bounds = summary.bounds if hasattr(summary, "bounds") else summary["bounds"]
    return {"vertical_datum": {"vertical": frame.get("vertical"),
                               "geoid": frame.get("geoid") or None,
                               "n_at_centre_m": centre_undulation(frame, bounds)}}


def _import_mesh_file(services, path: Path, crs, origin, name, tileset_id, classification,
                      compression, vertical: dict, progress, placement: Placement) -> dict:
    """One mesh file (OBJ/PLY/glb) as a reality mesh; it carries no CRS."""
    from tiles.errors import GeoreferenceError
    from tiles.model import GeoFrame
    from tiles.pipeline import build_tileset
    from tiles.readers.mesh import read_mesh
    if not crs:
        raise GeoreferenceError(
            "a mesh file carries no CRS: pass --crs (e.g. --crs EPSG:4548) and --origin "
            "E,N,H (the easting, northing and height its coordinates are relative to)")
    if not isinstance(origin, tuple):
        origin = parse_origin(origin)
    frame = GeoFrame(crs=crs, origin=origin, **vertical)
    name = name or path.stem
    tileset_id = tileset_id or services.catalog.new_id(name)
    options = build_options(services, name=name, kind="reality", compression=compression)
    summary = build_tileset(placement.batches(read_mesh(path, frame)), services.store,
                            tileset_id, options, progress=progress)
    entry = register_tileset(services, summary, classification=classification,
                             source=str(path), extra=geoid_record(summary))
    return entry["summary"] | {"id": tileset_id, "classification": classification}


def _rebuild(services, path: Path, source, tileset_id: str, name: str,
             compression: str | None, progress: Progress, placement: Placement):
    """``--rebuild-lod`` and OBJ productions: the finest level, re-tiled and simplified."""
    from tiles.pipeline import build_tileset
    warnings: list[str] = []
    if not source.folders:
        raise InputError(f"{path} holds no tile to import")
    options = build_options(services, name=name, kind="reality", compression=compression,
                            geoid_offset_m=source.frame.geoid_offset_m)
    summary = build_tileset(placement.batches(source.finest_batches(warnings)),
                            services.store, tileset_id, options, progress=progress)
    summary.warnings = warnings + summary.warnings
    return summary


def import_pointcloud(services: Services, path: str | Path, *, crs: str | None = None,
                      vertical_unit: str | None = None, name: str | None = None,
                      tileset_id: str | None = None, classification: str = "internal",
                      geoid: str | None = None, geoid_offset_m: float | None = None,
                      progress: Progress = None, placement: Placement | None = None) -> dict:
    """A .las/.laz file -> a published point tileset + catalog entry.

    Heights are taken as orthometric when a geoid is configured ([tiles] geoid, or
    ``geoid``), with N from it; ellipsoidal otherwise.
    """
    from tiles.pointcloud import PointOptions, build_pointcloud
    from tiles.readers.pointcloud import read_las
    path = Path(path)
    cloud = read_las(path, crs=crs, vertical_unit=vertical_unit)
    (placement or Placement()).lonlat_bounds(cloud.crs, cloud_lonlat_bounds(cloud))
    name = name or path.stem
    tileset_id = tileset_id or services.catalog.new_id(name)
    vertical = {"vertical": "orthometric", "geoid": "", "geoid_offset_m": geoid_offset_m} \
        if geoid_offset_m else vertical_options(services, geoid)
    options = PointOptions(name=name, **vertical)
    summary = build_pointcloud(cloud, services.store, tileset_id, options)
    entry = register_tileset(services, summary, classification=classification,
                             source=str(path), extra=geoid_record(summary))
    return entry["summary"] | {"id": tileset_id, "classification": classification}


def cloud_lonlat_bounds(cloud) -> tuple[float, float, float, float]:
    """(west, south, east, north) of a cloud's bounding box corners."""
    import numpy as np

    from tiles.georef import to_lonlatheight
    from tiles.model import GeoFrame
    lo, hi = cloud.xyz.min(axis=0), cloud.xyz.max(axis=0)
    corners = np.array([[x, y, 0.0] for x in (lo[0], hi[0]) for y in (lo[1], hi[1])])
    llh = to_lonlatheight(corners, GeoFrame(crs=cloud.crs))
    return (float(llh[:, 0].min()), float(llh[:, 1].min()), float(llh[:, 0].max()),
            float(llh[:, 1].max()))


def vertical_options(services: Services, geoid: str | None) -> dict:
    """vertical/geoid/geoid_offset_m from ``geoid`` or the [tiles] config: a model name
    or grid path makes heights orthometric with N from the grid; a number is N."""
    cfg = services.config["tiles"]
    value = geoid if geoid is not None else str(cfg.get("geoid", "") or "")
    if not value:
        offset = float(cfg.get("geoid_offset_m", 0.0) or 0.0)
        return {"vertical": "orthometric" if offset else "ellipsoidal",
                "geoid": "", "geoid_offset_m": offset}
    try:
        return {"vertical": "orthometric", "geoid": "", "geoid_offset_m": float(value)}
    except ValueError:
        return {"vertical": "orthometric", "geoid": value, "geoid_offset_m": 0.0}


def import_tileset(services: Services, path: str | Path, *, name: str | None = None,
                   tileset_id: str | None = None, classification: str = "internal",
                   progress: Progress = None, placement: Placement | None = None,
                   upgrade: bool = False) -> dict:
    """A delivered 3D Tiles folder (or its tileset.json) -> checked, copied, published
    and registered with its bounds; a broken one raises with the list of problems."""
    from tiles.delivered import import_delivered
    path = Path(path)
    placement = placement or Placement()
    name = name or (path.parent.name if path.is_file() else path.name)
    tileset_id = tileset_id or services.catalog.new_id(name)
    summary = import_delivered(path, services.store, tileset_id, name=name, upgrade=upgrade,
                               check_bounds=lambda b: placement.lonlat_bounds("EPSG:4326", b))
    entry = register_tileset(services, summary, classification=classification,
                             source=str(path))
    return entry["summary"] | {"id": tileset_id, "classification": classification}
