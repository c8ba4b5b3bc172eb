"""The placement check every import passes: placed geometry must lie in its CRS's area of use.

A new user's two classic mistakes both land a model at 112.5 E on the equator when the
CRS is EPSG:4548 (CM 117 E, 115.5-118.5 E): an origin typed as latitude,longitude, and
a mesh in local metres imported with ``--crs`` but no ``--origin``. pyproj converts such
coordinates without complaint, so the registry checks where the geometry lands and names
the flags to fix; ``--force`` accepts the placement knowingly.
"""
from __future__ import annotations

import dataclasses
from typing import Iterable, Iterator

import numpy as np

from tiles.errors import GeoreferenceError
from tiles.georef import resolve_crs, to_lonlatheight
from tiles.model import GeoFrame, MeshBatch

#: Degrees the geometry may reach beyond the area of use (data at a zone's edge).
MARGIN_DEG = 0.25


class Placement:
    """Checks placed geometry against the CRS's area of use; ``force`` only records it.

    ``checked`` turns True once a kind's run has asked for a check, so the registry can
    refuse a kind that forgot to (see ``server.imports.run_import``).
    """

    def __init__(self, force: bool = False):
        self.force = bool(force)
        self.checked = False
        self.warnings: list[str] = []
        self._seen: dict[GeoFrame, tuple[np.ndarray, np.ndarray]] = {}  # frame -> checked box

    def batches(self, batches: Iterable[MeshBatch]) -> Iterator[MeshBatch]:
        """Pass ``batches`` on, checking each one's placed corners on the way."""
        self.checked = True
        for batch in batches:
            self._check_batch(batch)
            yield batch

    def lonlat_bounds(self, crs: str, bounds: tuple[float, float, float, float]) -> None:
        """Check geometry already converted to lon/lat (w, s, e, n) that came from ``crs``."""
        self.checked = True
        west, south, east, north = (float(v) for v in bounds)
        if not np.all(np.isfinite([west, south, east, north])):
            return  # nothing with a location (e.g. a layer of null geometries)
        self._check_lonlat(crs, np.array([[west, south], [east, north]]), None)

    def _check_batch(self, batch: MeshBatch) -> None:
        if len(batch.positions) == 0:
            return
        lo, hi = _placed_box(batch)
        seen = self._seen.get(batch.frame)
        if seen is not None:
            if bool(np.all(lo >= seen[0]) and np.all(hi <= seen[1])):
                return  # inside a box of this frame already checked: no pyproj call
            lo, hi = np.minimum(lo, seen[0]), np.maximum(hi, seen[1])
        frame = dataclasses.replace(batch.frame, vertical="ellipsoidal")  # horizontal only
        lonlat = to_lonlatheight(_box_corners(lo, hi), frame)[:, :2]
        self._check_lonlat(str(frame.crs), lonlat, frame)
        self._seen[batch.frame] = (lo, hi)

    def _check_lonlat(self, crs: str, lonlat: np.ndarray, frame: GeoFrame | None) -> None:
        area = _area_of_use(crs)
        if area is None:
            return
        west, south, east, north = area
        lon, lat = lonlat[:, 0], lonlat[:, 1]
        inside = ((lon >= west - MARGIN_DEG) & (lon <= east + MARGIN_DEG)
                  & (lat >= south - MARGIN_DEG) & (lat <= north + MARGIN_DEG))
        if bool(np.all(inside)):
            return
        message = _message(crs, area, lonlat[~inside][0], frame)
        if not self.force:
            raise GeoreferenceError(message)
        if message not in self.warnings:
            self.warnings.append(message.split(" Check ")[0] + " (accepted with --force)")


def _placed_box(batch: MeshBatch) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) of the batch in its frame's local coordinates, instances placed."""
    pts = np.asarray(batch.positions, dtype=np.float64)
    lo = np.array([pts[:, k].min() for k in range(3)])
    hi = np.array([pts[:, k].max() for k in range(3)])
    if batch.instances is None:
        return lo, hi
    inst = np.asarray(batch.instances, dtype=np.float64).reshape(-1, 4, 4)
    placed = np.einsum("kij,nj->kni", inst[:, :3, :3], _box_corners(lo, hi))
    placed = (placed + inst[:, None, :3, 3]).reshape(-1, 3)
    return placed.min(axis=0), placed.max(axis=0)


def _box_corners(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1])
                     for z in (lo[2], hi[2])])


def _area_of_use(crs: str) -> tuple[float, float, float, float] | None:
    """(west, south, east, north) degrees, or None for a CRS without one (local frames)."""
    try:
        area = resolve_crs(crs).area_of_use
    except GeoreferenceError:
        return None
    if area is None or (area.east - area.west >= 359 and area.north - area.south >= 179):
        return None
    return (area.west, area.south, area.east, area.north)


def _message(crs: str, area: tuple, lonlat: np.ndarray, frame: GeoFrame | None) -> str:
    name = resolve_crs(crs).name
    west, south, east, north = area
    where = (f"the imported geometry lands at {lonlat[0]:.4f}°E, {lonlat[1]:.4f}°N, outside "
             f"the area of use of {name} ({west:g}°E to {east:g}°E, {south:g}°N to {north:g}°N).")
    hint = (" Check --crs and --origin: --origin takes E,N,H in the CRS's own units "
            "(metres for a projected CRS such as EPSG:4548), not latitude,longitude;")
    if frame is not None and not any(frame.origin):
        hint += (" coordinates in local metres need --origin E,N,H, the easting, northing "
                 "and height of their (0,0,0);")
    return where + hint + " pass --force to import this placement anyway."
