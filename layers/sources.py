"""Read a delivered GIS file into a GeoDataFrame with a known CRS.

GeoJSON, Shapefile (.shp or a .zip holding one), GeoPackage and CSV (lon/lat or x/y
columns). The CRS comes from the file or from ``crs`` (the CLI's --crs); a file
without one and no ``crs`` is refused, and coordinates that do not fit the CRS are
refused with a hint (see :mod:`layers.crs`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from layers.crs import check_fit, fits, resolve_crs
from layers.errors import LayerError

VECTOR_SUFFIXES = {".geojson", ".json", ".shp", ".zip", ".gpkg"}
#: Coordinate column names (lower case) in CSV sheets, English and Chinese.
LON_COLUMNS = ("lon", "lng", "long", "longitude", "经度")
LAT_COLUMNS = ("lat", "latitude", "纬度")
X_COLUMNS = ("x", "easting", "east", "东坐标")
Y_COLUMNS = ("y", "northing", "north", "北坐标")


def read_source(path: str | Path, *, crs: str | None = None, source_layer: str | None = None,
                encoding: str | None = None) -> tuple[Any, list[str]]:
    """(GeoDataFrame in the source CRS, warnings) for one delivered file."""
    path = Path(path)
    if not path.exists():
        raise LayerError(f"file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(path, crs, encoding)
    if suffix not in VECTOR_SUFFIXES:
        raise LayerError(f"{path.name}: unsupported format {suffix!r}; use GeoJSON, Shapefile "
                         "(.shp or .zip), GeoPackage (.gpkg) or CSV")
    if suffix == ".zip":
        _check_zip(path)
    frame = _read_vector(path, source_layer, encoding)
    return _apply_crs(frame, crs, path.name)


def _check_zip(path: Path) -> None:
    """Refuse archives with members whose paths leave the archive (../, absolute paths)."""
    import zipfile
    try:
        names = zipfile.ZipFile(path).namelist()
    except zipfile.BadZipFile:
        raise LayerError(f"{path.name} is not a readable zip archive") from None
    bad = [n for n in names if n.startswith(("/", "\\")) or ".." in n.replace("\\", "/").split("/")
           or (len(n) > 1 and n[1] == ":")]
    if bad:
        raise LayerError(f"{path.name}: member {bad[0]!r} points outside the archive; such "
                         "archives are refused (repack it with plain relative paths)")


def _read_vector(path: Path, source_layer: str | None, encoding: str | None) -> Any:
    import pyogrio
    try:
        layers = [str(row[0]) for row in pyogrio.list_layers(path)]
    except Exception as exc:  # GDAL error types vary by driver
        raise LayerError(f"{path.name} cannot be read as GIS data: {exc}") from None
    if source_layer is None and len(layers) > 1:
        raise LayerError(f"{path.name} holds several layers ({', '.join(layers)}); "
                         "choose one with source_layer= (CLI --source-layer)")
    if source_layer is not None and source_layer not in layers:
        raise LayerError(f"{path.name} has no layer {source_layer!r}; it has: {', '.join(layers)}")
    try:
        return pyogrio.read_dataframe(path, layer=source_layer or (layers[0] if layers else None),
                                      encoding=encoding)
    except Exception as exc:
        raise LayerError(f"{path.name} cannot be read: {exc}") from None


def _apply_crs(frame: Any, crs: str | None, name: str) -> tuple[Any, list[str]]:
    """Settle the CRS: the file's, or --crs (which wins, with a warning, if they differ)."""
    warnings: list[str] = []
    if crs is not None:
        wanted = resolve_crs(crs)
        if frame.crs is not None and not frame.crs.equals(wanted) and not _is_default_geojson(name, frame):
            warnings.append(f"{name} declares {frame.crs.to_string()}; --crs {crs} was used instead")
        frame = frame.set_crs(wanted, allow_override=True)
    elif frame.crs is None:
        raise LayerError(f"{name} has no CRS (no .prj or crs member); pass the CRS it was "
                         "delivered in with --crs, e.g. --crs EPSG:4548 (CGCS2000 / GK CM 117E) "
                         "or --crs EPSG:4490 (CGCS2000 lon/lat)")
    if len(frame) == 0:
        raise LayerError(f"{name} has no features")
    bounds = tuple(frame.geometry.total_bounds)
    if all(map(_finite, bounds)):
        check_fit(frame.crs, bounds, name)
    return frame, warnings


def _is_default_geojson(name: str, frame: Any) -> bool:
    """GeoJSON without a crs member is read as EPSG:4326 by GDAL: overriding it is normal."""
    return name.lower().endswith((".geojson", ".json")) and frame.crs.to_epsg() == 4326


def _finite(value: float) -> bool:
    return value == value and abs(value) != float("inf")


def _read_table(path: Path, encoding: str | None) -> Any:
    """A CSV sheet as text columns; UTF-8 (with or without BOM), else GB18030 (Excel in China)."""
    import pandas as pd
    for attempt in ([encoding] if encoding else ["utf-8-sig", "gb18030"]):
        try:
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=attempt), attempt
        except UnicodeDecodeError:
            continue
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise LayerError(f"{path.name} is not a readable CSV: {exc}") from None
    raise LayerError(f"{path.name} is neither UTF-8 nor GB18030 text; pass encoding=")


def _pick(columns: list[str], names: tuple[str, ...]) -> str | None:
    lowered = {c.strip().lower(): c for c in columns}
    return next((lowered[n] for n in names if n in lowered), None)


def _read_csv(path: Path, crs: str | None, encoding: str | None) -> tuple[Any, list[str]]:
    """Points from lon/lat columns (CRS84 unless --crs) or x/y columns (--crs required)."""
    import geopandas as gpd
    table, used = _read_table(path, encoding)
    columns = list(table.columns)
    lon, lat = _pick(columns, LON_COLUMNS), _pick(columns, LAT_COLUMNS)
    x, y = _pick(columns, X_COLUMNS), _pick(columns, Y_COLUMNS)
    warnings = [f"{path.name} was read as {used}"] if used not in ("utf-8-sig", encoding) else []
    if lon and lat:
        xcol, ycol = lon, lat
        if crs is None:
            crs = "OGC:CRS84"
            warnings.append(f"{path.name}: lon/lat columns without --crs are taken as WGS 84 / "
                            "CGCS2000 degrees (GCJ-02 or BD-09 shifted data must be corrected first)")
    elif x and y:
        xcol, ycol = x, y
        if crs is None:
            raise LayerError(f"{path.name} has x/y columns but no CRS; pass --crs, "
                             "e.g. --crs EPSG:4548 (CGCS2000 / 3-degree GK CM 117E)")
    else:
        raise LayerError(f"{path.name} needs coordinate columns: lon/lat (经度/纬度) or x/y "
                         f"with --crs; it has: {', '.join(columns)}")
    xs, ys = _numbers(table[xcol], xcol, path.name), _numbers(table[ycol], ycol, path.name)
    wanted = resolve_crs(crs)
    if xcol == x and _swapped(wanted, xs, ys):
        xs, ys = ys, xs
        warnings.append(f"{path.name}: column {x!r} holds northings and {y!r} eastings "
                        "(surveying convention); they were swapped")
    props = table.drop(columns=[xcol, ycol])
    frame = gpd.GeoDataFrame(props, geometry=gpd.points_from_xy(xs, ys), crs=wanted)
    check_fit(wanted, tuple(frame.geometry.total_bounds), path.name)
    return frame, warnings


def _numbers(column: Any, name: str, source: str) -> Any:
    import pandas as pd
    values = pd.to_numeric(column.str.strip(), errors="coerce")
    bad = values.isna() | ~values.abs().lt(float("inf"))
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise LayerError(f"{source}: row {row + 1}, field {name!r}: {column.iloc[row]!r} is not a number")
    return values.to_numpy(dtype=float)


def _swapped(crs: Any, xs: Any, ys: Any) -> bool:
    """True when x/y only fit the CRS the other way round (X = northing in Chinese surveys)."""
    if crs.is_geographic:
        return False
    bounds = (xs.min(), ys.min(), xs.max(), ys.max())
    return not fits(crs, bounds) and fits(crs, (ys.min(), xs.min(), ys.max(), xs.max()))
