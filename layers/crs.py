"""CRS decisions on import: which CRS the data is in, and whether the coordinates fit it.

Chinese deliveries come in CGCS2000 (EPSG:4490) or its Gauss-Kruger zones: 3-degree
zones with the zone number prefixed to the easting (EPSG:4513-4533, zones 25-45) and
without (EPSG:4534-4554, CM 75E-135E), 6-degree zones (EPSG:4491-4512). Coordinates that
do not fall in the CRS's area of use are refused with a hint, never placed somewhere wrong.
"""
from __future__ import annotations

from typing import Any

from layers.errors import LayerError

_MARGIN_DEG = 1.0


def resolve_crs(text: Any) -> Any:
    """pyproj CRS from 'EPSG:4548', '4548', a PROJ string or WKT; LayerError if unknown."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError
    value = str(text).strip()
    if value.isdigit():
        value = f"EPSG:{value}"
    try:
        return CRS.from_user_input(value)
    except CRSError as exc:
        raise LayerError(f"--crs {text!r} is not a CRS pyproj knows ({exc}); "
                         "pass e.g. EPSG:4490 (CGCS2000) or EPSG:4548 (CGCS2000 / GK CM 117E)") from None


def to_lonlat(crs: Any, x: Any, y: Any) -> tuple[Any, Any]:
    """Arrays of x (east), y (north) in ``crs`` -> lon, lat degrees."""
    from pyproj import Transformer
    transformer = Transformer.from_crs(crs, "OGC:CRS84", always_xy=True)
    return transformer.transform(x, y)


def fits(crs: Any, bounds: tuple[float, float, float, float]) -> bool:
    """Do data bounds (minx, miny, maxx, maxy, in ``crs``) fall in its area of use?"""
    import numpy as np
    xs = np.array([bounds[0], bounds[2], bounds[0], bounds[2]], dtype=float)
    ys = np.array([bounds[1], bounds[1], bounds[3], bounds[3]], dtype=float)
    lon, lat = to_lonlat(crs, xs, ys)
    if not (np.all(np.isfinite(lon)) and np.all(np.isfinite(lat))):
        return False
    if np.any(np.abs(lon) > 180) or np.any(np.abs(lat) > 90):
        return False
    area = crs.area_of_use
    if area is None:
        return True
    return bool(np.all(lon >= area.west - _MARGIN_DEG) and np.all(lon <= area.east + _MARGIN_DEG)
                and np.all(lat >= area.south - _MARGIN_DEG) and np.all(lat <= area.north + _MARGIN_DEG))


def check_fit(crs: Any, bounds: tuple[float, float, float, float], source: str) -> None:
    """Raise a LayerError with a hint when the coordinates cannot be in ``crs``."""
    if fits(crs, bounds):
        return
    name = crs.to_string()
    minx, miny, maxx, maxy = bounds
    hint = _zone_hint(minx, maxx) or _swap_hint(crs, bounds) or (
        "the coordinates look projected (metres); pass --crs with the projected CRS, "
        "e.g. EPSG:4548 (CGCS2000 / 3-degree GK CM 117E, Jinan)"
        if crs.is_geographic else
        "check the CRS: for CGCS2000 Gauss-Kruger pick the zone whose central meridian is "
        "nearest the data (EPSG:4548 = CM 117E for Jinan)")
    raise LayerError(f"{source}: coordinates x {minx:.6g}..{maxx:.6g}, y {miny:.6g}..{maxy:.6g} "
                     f"do not fall in the area of {name}; {hint}")


def _swap_hint(crs: Any, bounds: tuple[float, float, float, float]) -> str | None:
    """Latitude written before longitude (the common mistake): say so."""
    minx, miny, maxx, maxy = bounds
    if crs.is_geographic and fits(crs, (miny, minx, maxy, maxx)):
        return ("the values look like latitude, longitude: GeoJSON, Shapefile and CSV lon/lat "
                "columns want longitude first; swap the two coordinates")
    return None


def _zone_hint(minx: float, maxx: float) -> str | None:
    """Eastings like 39512345.6 carry a 3-degree zone prefix (here 39): name the CRS."""
    zone = int(minx // 1_000_000)
    if 1e7 <= minx and zone == int(maxx // 1_000_000) and 25 <= zone <= 45:
        return (f"the eastings carry the zone number {zone} in front; use "
                f"--crs EPSG:{4513 + zone - 25} (CGCS2000 / 3-degree Gauss-Kruger zone {zone})")
    if 1e7 <= minx and zone == int(maxx // 1_000_000) and 13 <= zone <= 23:
        return (f"the eastings carry the 6-degree zone number {zone} in front; use "
                f"--crs EPSG:{4491 + zone - 13} (CGCS2000 / Gauss-Kruger zone {zone})")
    return None
