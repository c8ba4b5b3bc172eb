"""LAS/LAZ point clouds (laspy; LAZ through lazrs) -> placed points with colours.

The CRS comes from the file (OGC WKT VLR, else GeoTIFF keys, as laspy parses them);
``crs`` overrides it, because real headers lie (some claim degrees for coordinates in
metres). Northing-first CRSs (EPSG:4326's lat/lon, many Gauss-Kruger codes) need no
flag: LAS stores x east / y north whatever the CRS's axis order, and the transforms
run with x = east. Heights are converted to metres: ``vertical_unit`` if given, else
the CRS's vertical axis unit, else its horizontal unit (a survey in feet measures
heights in feet too; py3dtiles leaves them unconverted).

Coordinates that cannot be in the declared CRS (degrees beyond +-180/90, a cloud
outside the CRS's area of use) raise a GeoreferenceError naming ``--crs``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyproj

from tiles.errors import GeoreferenceError, InputError
from tiles.georef import resolve_crs

#: Metres per vertical unit name (international foot; US survey foot).
VERTICAL_UNITS = {"m": 1.0, "ft": 0.3048, "us-ft": 1200.0 / 3937.0}
#: Degrees a cloud may stick out of its CRS's declared area of use.
AREA_MARGIN_DEG = 1.0
_UNIT_FACTORS = {"metre": 1.0, "meter": 1.0, "foot": 0.3048, "us survey foot": 1200 / 3937,
                 "foot_us": 1200 / 3937}


@dataclass
class PointCloud:
    """Points in the CRS's horizontal units and metres of height, plus RGBA colours."""

    path: Path
    crs: str  # what pyproj understands (WKT or "EPSG:n")
    crs_name: str
    xyz: np.ndarray  # (N, 3) float64: x east, y north in CRS units; z metres
    colors: np.ndarray | None  # (N, 4) uint8 or None
    vertical_factor: float  # metres per source height unit
    classification: np.ndarray | None = None  # (N,) uint8


def _unit_factor(name: str | None) -> float | None:
    return None if name is None else _UNIT_FACTORS.get(name.lower())


def vertical_factor(crs: pyproj.CRS, vertical_unit: str | None) -> float:
    """Metres per height unit: the flag, else the vertical axis, else the horizontal."""
    if vertical_unit is not None:
        if vertical_unit not in VERTICAL_UNITS:
            raise InputError(f"--vertical-unit {vertical_unit!r}: use one of "
                             f"{', '.join(VERTICAL_UNITS)}")
        return VERTICAL_UNITS[vertical_unit]
    axes = crs.axis_info
    vertical = [a for a in axes if a.direction.lower() == "up"]
    if vertical:
        return _unit_factor(vertical[0].unit_name) or 1.0
    if crs.is_geographic:
        return 1.0
    return _unit_factor(axes[0].unit_name if axes else None) or 1.0


def file_crs(header, path: Path) -> pyproj.CRS | None:
    """The CRS the file declares, or None; a broken record is an error naming --crs."""
    try:
        return header.parse_crs()
    except Exception as exc:  # laspy raises several kinds for broken VLRs
        raise GeoreferenceError(f"{path.name}: its CRS record cannot be read ({exc}); "
                                "pass --crs") from exc


def _horizontal(crs: pyproj.CRS) -> pyproj.CRS:
    return crs.sub_crs_list[0] if crs.is_compound and crs.sub_crs_list else crs


def check_coordinates(lo: np.ndarray, hi: np.ndarray, crs: pyproj.CRS, label: str,
                      path: Path) -> None:
    """Refuse a bounding box that cannot be in ``crs`` (see the module doc)."""
    horizontal = _horizontal(crs)
    if horizontal.is_geographic and (np.abs([lo[0], hi[0]]).max() > 180 or
                                     np.abs([lo[1], hi[1]]).max() > 90):
        raise GeoreferenceError(
            f"{path.name}: coordinates x {lo[0]:.2f}..{hi[0]:.2f}, y {lo[1]:.2f}..{hi[1]:.2f} "
            f"are not degrees, but the CRS ({label}) {horizontal.name!r} is geographic: "
            "pass the real CRS with --crs (e.g. --crs EPSG:2994)")
    area = horizontal.area_of_use
    to_lonlat = pyproj.Transformer.from_crs(horizontal, horizontal.geodetic_crs,
                                            always_xy=True)
    xs, ys = np.meshgrid([lo[0], hi[0]], [lo[1], hi[1]])
    lon, lat = to_lonlat.transform(xs.ravel(), ys.ravel())
    if not np.all(np.isfinite(lon)) or not np.all(np.isfinite(lat)):
        raise GeoreferenceError(f"{path.name}: the coordinates are impossible in the CRS "
                                f"({label}) {horizontal.name!r}: pass the right one with --crs")
    if area is not None:
        m = AREA_MARGIN_DEG
        inside = (lon >= area.west - m) & (lon <= area.east + m) & \
                 (lat >= area.south - m) & (lat <= area.north + m)
        if not inside.all():
            raise GeoreferenceError(
                f"{path.name}: the cloud (around lon {np.mean(lon):.3f}, lat "
                f"{np.mean(lat):.3f}) lies outside the area of use of its CRS ({label}) "
                f"{horizontal.name!r} ({area.name}): pass the right CRS with --crs")


def _colors(points, point_format) -> np.ndarray | None:
    names = set(point_format.dimension_names)
    if {"red", "green", "blue"} <= names:
        rgb = np.column_stack([points.red, points.green, points.blue]).astype(np.uint32)
        if rgb.max(initial=0) > 255:  # LAS colours are 16-bit; some writers use 8
            rgb >>= 8
        alpha = np.full((len(rgb), 1), 255, dtype=np.uint32)
        return np.hstack([rgb, alpha]).astype(np.uint8)
    if "intensity" in names:
        value = np.asarray(points.intensity, dtype=np.float64)
        top = np.percentile(value, 99) if len(value) else 0
        if top > 0:
            grey = np.clip(64 + 191 * value / top, 0, 255).astype(np.uint8)
            return np.column_stack([grey, grey, grey, np.full_like(grey, 255)])
    return None


def read_las(path: str | Path, crs: str | None = None,
             vertical_unit: str | None = None) -> PointCloud:
    """Read a .las/.laz file whole (see the module doc for CRS and units)."""
    import laspy
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such file: {path}")
    try:
        las = laspy.read(str(path))
    except Exception as exc:  # laspy/lazrs raise their own error kinds
        raise InputError(f"cannot read {path} as LAS/LAZ: {exc}") from exc
    declared = file_crs(las.header, path)
    if crs:
        chosen, label, text = resolve_crs(crs), "--crs", crs
    elif declared is not None:
        chosen, label, text = declared, "from the file", declared.to_wkt()
    else:
        raise GeoreferenceError(f"{path.name} declares no CRS: pass it with --crs "
                                "(e.g. --crs EPSG:2994 for Oregon GIC Lambert in feet)")
    if len(las.points) == 0:
        raise InputError(f"{path} holds no points")
    lo, hi = np.asarray(las.header.mins), np.asarray(las.header.maxs)
    check_coordinates(lo, hi, chosen, label, path)
    factor = vertical_factor(chosen, vertical_unit)
    xyz = np.column_stack([np.asarray(las.x), np.asarray(las.y),
                           np.asarray(las.z) * factor])
    classes = np.asarray(las.classification, dtype=np.uint8) \
        if "classification" in las.point_format.dimension_names else None
    return PointCloud(path=path, crs=text, crs_name=chosen.name, xyz=xyz,
                      colors=_colors(las.points, las.point_format), vertical_factor=factor,
                      classification=classes)
