"""Geoid undulation N (ellipsoidal height h = orthometric height H + N) from a grid.

Survey deliveries in China carry orthometric heights (the 1985 national height datum),
lidar from elsewhere its own (NAVD88, ...); 3D Tiles wants WGS84 ellipsoidal heights.
One geoid is applied the same way to every import: ``"egm96"`` (EGM96, the 15' grid
``egm96_15.gtx`` of Debian's proj-data, read through PROJ's ``vgridshift``), or the
path of a site grid (``.gtx`` or GeoTIFF, as PROJ reads them). A site constant needs no
grid: it is the GeoFrame's ``geoid_offset_m``.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import pyproj

from tiles.errors import GeoreferenceError

#: Geoid model names -> grid file names (looked up in the PROJ data folders).
GEOID_MODELS = {"egm96": "egm96_15.gtx"}
_SEARCH = ("/usr/share/proj", "/usr/local/share/proj")


def grid_path(geoid: str) -> Path:
    """The grid file of a model name or path; GeoreferenceError saying what to install."""
    name = GEOID_MODELS.get(geoid.lower(), geoid)
    candidate = Path(name)
    if candidate.is_absolute() or os.sep in name:
        if candidate.is_file():
            return candidate
        raise GeoreferenceError(f"geoid grid {name} does not exist: give the path of a "
                                ".gtx or GeoTIFF geoid grid, or 'egm96'")
    folders = [os.environ.get("PROJ_DATA", ""), os.environ.get("PROJ_LIB", ""),
               pyproj.datadir.get_data_dir(), *_SEARCH]
    for folder in filter(None, folders):
        if (Path(folder) / name).is_file():
            return Path(folder) / name
    raise GeoreferenceError(
        f"geoid grid {name!r} not found in {', '.join(filter(None, folders))}: install "
        "Debian's proj-data (apt-get install proj-data; EGM96 is egm96_15.gtx), or give "
        "the path of a site geoid grid, or a constant N with geoid_offset_m")


@functools.lru_cache(maxsize=8)
def _transformer(path: str) -> pyproj.Transformer:
    # vgridshift with multiplier +1 adds the grid value: z_out = z_in + N
    return pyproj.Transformer.from_pipeline(f"+proj=vgridshift +grids={path} +multiplier=1")


def undulation(lon, lat, geoid: str) -> np.ndarray:
    """N in metres at each (lon, lat) in degrees; an error outside the grid."""
    lon = np.atleast_1d(np.asarray(lon, dtype=np.float64))
    lat = np.atleast_1d(np.asarray(lat, dtype=np.float64))
    path = grid_path(geoid)
    _, _, n = _transformer(str(path)).transform(lon, lat, np.zeros_like(lon))
    n = np.asarray(n, dtype=np.float64)
    if not np.all(np.isfinite(n)) or np.any(np.abs(n) > 200):
        raise GeoreferenceError(f"the geoid grid {path.name} does not cover the data "
                                f"(around lon {lon.mean():.4f}, lat {lat.mean():.4f})")
    return n


def apply_geoid(batches, geoid: str):
    """MeshBatch stream with heights declared orthometric, N from ``geoid`` (the same
    rule for BIM, meshes and point clouds); batches already carrying a geoid keep it."""
    from dataclasses import replace
    for batch in batches:
        if not batch.frame.geoid:
            batch = replace(batch, frame=replace(batch.frame, vertical="orthometric",
                                                 geoid=geoid, geoid_offset_m=0.0))
        yield batch


def centre_undulation(frame: dict, bounds: list[float]) -> float | None:
    """N at the centre of lon/lat ``bounds`` for a described frame (catalog record)."""
    if frame.get("vertical") != "orthometric":
        return None
    if not frame.get("geoid"):
        return float(frame.get("geoid_offset_m") or 0.0)
    lon, lat = (bounds[0] + bounds[2]) / 2.0, (bounds[1] + bounds[3]) / 2.0
    return float(undulation(lon, lat, frame["geoid"])[0])
