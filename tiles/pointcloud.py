"""A LAS/LAZ point cloud -> a checked, atomically published 3D Tiles 1.1 point tileset.

The points are placed once in float64 (:func:`tiles.georef.to_ecef`, which applies the
vertical datum and geoid like every other import), moved into an ENU frame at the
cloud's centre, tiled by :class:`tiles.build.points.PointTiler` (ADD, every point kept
once) and checked (3D Tiles rules and gltf-validator on every glb) before publishing.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from tiles import georef
from tiles.build.points import FLAT_RATIO, PointTiler, tileset_bytes
from tiles.model import GeoFrame
from tiles.readers.pointcloud import PointCloud
from tiles.model import TileStore

#: Points placed per transform call (bounds the float64 temporaries).
PLACE_BATCH = 1_000_000


@dataclass
class PointOptions:
    name: str = ""
    max_points_per_tile: int = 60_000
    vertical: str = "ellipsoidal"  # "orthometric": heights above the geoid
    geoid: str = ""
    geoid_offset_m: float = 0.0
    validate_glb: bool = True


def place(cloud: PointCloud, frame: GeoFrame) -> tuple[np.ndarray, np.ndarray]:
    """(ENU points at the cloud's centre, that centre in ECEF), in batches."""
    lo, hi = cloud.xyz.min(axis=0), cloud.xyz.max(axis=0)
    centre = georef.to_ecef(((lo + hi) / 2.0).reshape(1, 3), frame)[0]
    out = np.empty_like(cloud.xyz)
    for start in range(0, len(cloud.xyz), PLACE_BATCH):
        part = cloud.xyz[start:start + PLACE_BATCH]
        out[start:start + len(part)] = georef.ecef_to_enu_points(
            georef.to_ecef(part, frame), centre)
    return out, centre


def build_pointcloud(cloud: PointCloud, store: TileStore, tileset_id: str,
                     options: PointOptions | None = None):
    """Tile ``cloud`` into ``store``; returns a :class:`tiles.pipeline.BuildSummary`."""
    import uuid

    from tiles.store import check_tileset_id
    from tiles.validate_early import EarlyValidator, check_version
    options = options or PointOptions()
    check_tileset_id(tileset_id)
    started = time.monotonic()
    frame = GeoFrame(crs=cloud.crs, vertical=options.vertical, geoid=options.geoid,
                     geoid_offset_m=options.geoid_offset_m)
    validator = EarlyValidator() if options.validate_glb else None
    version = uuid.uuid4().hex
    try:
        enu, centre = place(cloud, frame)
        matrix = georef.enu_to_ecef_matrix(centre)
        described = frame.describe() | {"crs_name": cloud.crs_name,
                                         "vertical_factor_m": cloud.vertical_factor}
        tiler = PointTiler((store, tileset_id, version), options.max_points_per_tile)
        lo, hi = enu.min(axis=0), enu.max(axis=0)
        flat = (hi[2] - lo[2]) < FLAT_RATIO * float((hi - lo)[:2].max())
        root = tiler.node(enu, cloud.colors, lo, hi, "r", 0, flat)
        store.put(tileset_id, "tileset.json", tileset_bytes(root, matrix, {"cimtwin": {
            "kind": "pointcloud", "frame": described}}), version=version)
        check_version(store, tileset_id, version, validator, options.validate_glb,
                      "point tileset")
        store.publish(tileset_id, version)
    except BaseException:
        store.delete(tileset_id, version=version)  # nothing half-written stays
        raise
    finally:
        if validator is not None:
            validator.close()
    return _summary(tileset_id, options, tiler.tiles, lo, hi, centre, matrix, described,
                    len(enu), started)


def _summary(tileset_id, options, tiles, lo, hi, centre, matrix, described, points,
             started):
    """The BuildSummary of a published point tileset (bounds from its ENU box)."""
    from tiles.pipeline import BuildSummary
    transform = georef.column_major(matrix)
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1])
                        for z in (lo[2], hi[2])])
    llh = georef.ecef_to_lonlatheight(georef.enu_to_ecef_points(corners, centre))
    return BuildSummary(
        tileset_id=tileset_id, name=options.name or tileset_id, kind="pointcloud",
        triangles=0, tiles=tiles, features=0,
        bounds=[float(llh[:, 0].min()), float(llh[:, 1].min()),
                float(llh[:, 0].max()), float(llh[:, 1].max())],
        height=[float(llh[:, 2].min()), float(llh[:, 2].max())],
        root_transform=transform, frame=described | {"points": points},
        seconds=round(time.monotonic() - started, 3), refine="ADD")


def with_geoid(options: PointOptions, geoid: str, offset: float) -> PointOptions:
    """``options`` for orthometric heights with the given geoid or constant N."""
    return replace(options, vertical="orthometric", geoid=geoid, geoid_offset_m=offset)
