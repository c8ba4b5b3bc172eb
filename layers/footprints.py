"""Building footprints for white models (LoD1): polygons in metres, base and roof heights.

The height of each building comes from the height field, else floors x storey height,
else the default height; the counts per source are reported, and using the default is
a warning (flat white boxes of one height say little). The base is the footprint's own
Z where it has one, else the given base height. Everything returned is plain arrays and
shapely polygons in a metric CRS, relative to an origin: the server hands them to the
tiles engine (this package imports nothing of it).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from layers.errors import LayerError
from layers.sources import read_source

HEIGHT_FIELDS = ("height_m", "height", "measuredheight", "建筑高度", "高度")
FLOOR_FIELDS = ("floors", "levels", "building:levels", "storeys", "层数", "楼层数")
SOURCES = ("height_field", "floors", "default")


@dataclass
class FootprintSet:
    """Footprints ready to extrude; ``frame`` keeps every attribute (for the layer too)."""

    frame: Any
    crs: str
    origin: tuple[float, float]
    polygons: list[Any]
    base: list[float]
    top: list[float]
    sources: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def read_footprints(path: str | Path, *, crs: str | None = None,
                    height_field: str | None = None, floors_field: str | None = None,
                    storey_height: float = 3.0, default_height: float | None = None,
                    base_height: float = 0.0, source_layer: str | None = None) -> FootprintSet:
    """Read ``path`` (any format the layer import reads) into a :class:`FootprintSet`."""
    frame, warnings = read_source(path, crs=crs, source_layer=source_layer)
    name = Path(path).name
    frame, dropped = _polygons_only(frame, name)
    warnings += dropped
    height_field = _pick_field(frame, height_field, HEIGHT_FIELDS, "--height-field", name)
    floors_field = _pick_field(frame, floors_field, FLOOR_FIELDS, "--floors-field", name)
    if storey_height <= 0:
        raise LayerError(f"--storey-height must be > 0 m, got {storey_height}")
    tops, used = _heights(frame, height_field, floors_field, storey_height, default_height, name)
    sources = {s: used.count(s) for s in SOURCES}
    if sources["default"]:
        warnings.append(f"{sources['default']} of {len(frame)} buildings have no height or "
                        f"floors and were given the default {default_height} m")
    metric = metric_crs(frame)
    projected = frame.to_crs(metric)
    bases = [_base_z(g, base_height) for g in frame.geometry]
    minx, miny, maxx, maxy = projected.geometry.total_bounds
    origin = (round((minx + maxx) / 2, 1), round((miny + maxy) / 2, 1))
    import shapely
    local = shapely.transform(projected.geometry.to_numpy(),
                              lambda xy: xy - [origin[0], origin[1]])
    frame = frame.assign(height_m=tops, height_source=used, base_m=bases)
    return FootprintSet(frame, metric, origin, list(local), bases,
                        [b + t for b, t in zip(bases, tops)], sources, warnings)


def _polygons_only(frame: Any, name: str) -> tuple[Any, list[str]]:
    """Keep polygon rows (repairing invalid ones); other geometry types are an error."""
    import shapely
    geometry = frame.geometry
    empty = geometry.isna() | geometry.is_empty
    kinds = set(geometry[~empty].geom_type)
    if not kinds:
        raise LayerError(f"{name} has no building footprints (every geometry is empty)")
    others = kinds - {"Polygon", "MultiPolygon"}
    if others:
        row = int((~empty & ~geometry.geom_type.isin(["Polygon", "MultiPolygon"])).to_numpy()
                  .nonzero()[0][0])
        raise LayerError(f"{name}: footprints must be polygons; row {row + 1} is a "
                         f"{geometry.iloc[row].geom_type} ({', '.join(sorted(kinds))} found); "
                         "import points or lines with 'cimtwin import layer' instead")
    warnings = [f"{int(empty.sum())} rows without geometry were skipped"] if empty.any() else []
    frame = frame[~empty].copy()
    invalid = ~frame.geometry.is_valid
    if invalid.any():
        rows = [str(i + 1) for i in invalid.to_numpy().nonzero()[0][:5]]
        repaired = shapely.make_valid(frame.geometry[invalid].to_numpy())
        polys = [shapely.union_all([g for g in shapely.get_parts(r)
                                    if g.geom_type in ("Polygon", "MultiPolygon")])
                 for r in repaired]
        frame.loc[invalid, frame.geometry.name] = polys
        warnings.append(f"{int(invalid.sum())} invalid footprints were repaired (make_valid), "
                        f"rows {', '.join(rows)}{'...' if invalid.sum() > 5 else ''}")
    frame = frame[~(frame.geometry.is_empty | frame.geometry.isna())]
    return frame.reset_index(drop=True), warnings


def _pick_field(frame: Any, given: str | None, candidates: tuple[str, ...], flag: str,
                name: str) -> str | None:
    columns = [c for c in frame.columns if c != frame.geometry.name]
    if given is not None:
        if given not in columns:
            raise LayerError(f"{name} has no column {given!r} for {flag}; it has: "
                             f"{', '.join(columns)}")
        return given
    lowered = {str(c).lower(): c for c in columns}
    return next((lowered[c] for c in candidates if c in lowered), None)


def _number(value: Any) -> float | None:
    """A positive number from a cell ('12', '12 m', 12.0); None when there is none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip().lower().removesuffix("m").strip()
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) and number > 0 else None


def _heights(frame: Any, height_field: str | None, floors_field: str | None,
             storey_height: float, default_height: float | None, name: str
             ) -> tuple[list[float], list[str]]:
    heights = frame[height_field].tolist() if height_field else [None] * len(frame)
    floors = frame[floors_field].tolist() if floors_field else [None] * len(frame)
    tops, used = [], []
    for i, (h, f) in enumerate(zip(heights, floors)):
        height, storeys = _number(h), _number(f)
        if height is not None:
            tops.append(height)
            used.append("height_field")
        elif storeys is not None:
            tops.append(storeys * storey_height)
            used.append("floors")
        elif default_height is not None:
            tops.append(float(default_height))
            used.append("default")
        else:
            raise LayerError(
                f"{name}: row {i + 1} has no height ({height_field or 'no height column'}) "
                f"and no floors ({floors_field or 'no floors column'}); pass --height-field, "
                "--floors-field with --storey-height, or --default-height M")
    if default_height is not None and default_height <= 0:
        raise LayerError(f"--default-height must be > 0 m, got {default_height}")
    return tops, used


def _base_z(geometry: Any, base_height: float) -> float:
    """The lowest Z of the footprint's outline, or ``base_height`` when it is 2D."""
    import shapely
    if not geometry.has_z:
        return float(base_height)
    z = shapely.get_coordinates(geometry, include_z=True)[:, 2]
    z = z[~(z != z)]
    return float(z.min()) if len(z) else float(base_height)


def metric_crs(frame: Any) -> str:
    """The frame's own CRS if it is in metres, else the CGCS2000 3-degree Gauss-Kruger
    zone (China) or the WGS 84 UTM zone holding the data's centre."""
    crs = frame.crs
    if crs.is_projected and all(a.unit_name in ("metre", "meter") for a in crs.axis_info[:2]):
        return crs.to_string()
    lonlat = frame.to_crs("OGC:CRS84").geometry.total_bounds
    lon, lat = (lonlat[0] + lonlat[2]) / 2, (lonlat[1] + lonlat[3]) / 2
    if 73.5 <= lon < 136.5 and 15 <= lat <= 55:
        return f"EPSG:{4534 + int(round((lon - 75) / 3))}"
    zone = min(60, int((lon + 180) // 6) + 1)
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"
