"""Make a GeoDataFrame storable: CRS84 geometry, safe column names, a measured schema."""
from __future__ import annotations

from typing import Any

from layers.edits import EDITABLE_KINDS, UPDATED, now_utc
from layers.errors import LayerError
from layers.model import STORAGE_CRS, LayerInfo

#: Column names the store uses itself (GeoPackage fid, geometry column).
RESERVED = {"fid", "geom", "geometry"}


def prepare_frame(frame: Any, info: LayerInfo) -> tuple[Any, LayerInfo]:
    """Return (frame in CRS84 with clean columns, info with count/bbox/schema filled in)."""
    import geopandas as gpd
    if not isinstance(frame, gpd.GeoDataFrame):
        raise LayerError("put_layer needs a GeoDataFrame (geopandas)")
    if len(frame) == 0:
        raise LayerError(f"layer {info.id!r} has no features; nothing was stored")
    if frame.crs is None:
        raise LayerError(f"layer {info.id!r} has no CRS; set one (e.g. --crs EPSG:4548)")
    if not info.source_crs:
        info.source_crs = frame.crs.to_string()
    frame = frame.to_crs(STORAGE_CRS) if not _is_crs84(frame.crs) else frame
    frame = _clean_columns(frame, info.id)
    if info.kind in EDITABLE_KINDS:  # each item keeps its own update time (Part 4)
        frame[UPDATED] = now_utc()
        info.schema = {**(info.schema or {}), UPDATED: "datetime"}
    info.count = int(len(frame))
    info.bbox = _bbox(frame, info.id)
    info.schema = measured_schema(frame, info.schema)
    return frame, info


def _is_crs84(crs: Any) -> bool:
    return crs.to_string() == STORAGE_CRS


def _clean_columns(frame: Any, layer_id: str) -> Any:
    """Rename columns that clash with the store's own and refuse case-only duplicates."""
    geometry = frame.geometry.name
    renames = {c: f"source_{c}" for c in frame.columns
               if c != geometry and str(c).lower() in RESERVED}
    frame = frame.rename(columns=renames)
    if geometry != "geometry":
        frame = frame.rename_geometry("geometry")
    seen: dict[str, str] = {}
    for column in frame.columns:
        key = str(column).lower()
        if key in seen:
            raise LayerError(f"layer {layer_id!r}: columns {seen[key]!r} and {column!r} differ "
                             "only in case, which GeoPackage cannot keep apart; rename one")
        seen[key] = str(column)
    return frame


def _bbox(frame: Any, layer_id: str) -> list[float]:
    import numpy as np
    bounds = frame.geometry.total_bounds
    if not np.all(np.isfinite(bounds)):
        raise LayerError(f"layer {layer_id!r} has no usable geometry (all empty or null)")
    return [round(float(v), 9) for v in bounds]


def measured_schema(frame: Any, declared: dict[str, str] | None = None) -> dict[str, str]:
    """Property name -> JSON-ish type, from the column dtypes (declared types win)."""
    import pandas as pd
    declared = declared or {}
    schema: dict[str, str] = {}
    for column in frame.columns:
        if column == frame.geometry.name:
            continue
        dtype = frame[column].dtype
        if column in declared:
            schema[column] = declared[column]
        elif pd.api.types.is_bool_dtype(dtype):
            schema[column] = "boolean"
        elif pd.api.types.is_integer_dtype(dtype):
            schema[column] = "integer"
        elif pd.api.types.is_float_dtype(dtype):
            schema[column] = "number"
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            schema[column] = "datetime"
        else:
            schema[column] = "string"
    return schema
