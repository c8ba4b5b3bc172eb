"""import_layer: a delivered GIS file -> a validated, reprojected, stored layer.

The one tool behind ``cimtwin import layer`` and the upload API. Field mapping makes
foreign data usable: ``field_map={"stage": "状态"}`` renames a source column to the name
a kind expects, ``defaults={"stage": "completed"}`` fills a field the source lacks.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path
from typing import Any

from layers.errors import LayerError
from layers.model import CLASSIFICATIONS, KINDS, LayerInfo, check_choice
from layers.schema import validate_kind
from layers.sources import read_source


def import_layer(store: Any, path: str | Path, *, layer_id: str | None = None,
                 title: str | None = None, kind: str | None = None, crs: str | None = None,
                 classification: str = "internal", field_map: dict[str, str] | None = None,
                 defaults: dict[str, Any] | None = None, description: str = "",
                 source_layer: str | None = None, encoding: str | None = None) -> LayerInfo:
    """Read ``path``, map and validate its fields for ``kind``, store it as ``layer_id``.

    Replaces an existing layer of the same id atomically. Returns the stored LayerInfo
    (count, lon/lat bbox, schema, source CRS, warnings).
    """
    path = Path(path)
    kind = check_choice("kind", kind or "other", KINDS)
    check_choice("classification", classification, CLASSIFICATIONS)
    frame, warnings = read_source(path, crs=crs, source_layer=source_layer, encoding=encoding)
    source_crs = frame.crs.to_string()
    frame = apply_field_map(frame, field_map or {}, defaults or {}, path.name)
    frame, repaired = _repair_geometry(frame)
    warnings += repaired
    result = validate_kind(frame, kind)
    info = LayerInfo(id=layer_id or layer_id_from(path), title=title or path.stem, kind=kind,
                     classification=classification, source_crs=source_crs,
                     description=description, source=path.name, schema=result.schema,
                     temporal=result.temporal, warnings=warnings + result.warnings)
    return store.put_layer(result.frame, info)


def apply_field_map(frame: Any, field_map: dict[str, str], defaults: dict[str, Any],
                    source: str) -> Any:
    """Rename source columns to target names and fill defaults where values are missing."""
    missing = [src for src in field_map.values() if src not in frame.columns]
    if missing:
        available = ", ".join(c for c in frame.columns if c != frame.geometry.name)
        raise LayerError(f"{source}: field_map names columns that are not in the file: "
                         f"{', '.join(missing)}; it has: {available}")
    frame = frame.copy()
    for target, src in field_map.items():
        if target in frame.columns and target != src and target not in field_map.values():
            frame = frame.drop(columns=[target])  # the mapped column replaces it
    frame = frame.rename(columns={src: target for target, src in field_map.items()})
    for name, value in defaults.items():
        if name not in frame.columns:
            frame[name] = value
        else:
            column = frame[name].astype(object)
            empty = column.isna() | (column.astype(str).str.strip() == "")
            frame[name] = column.where(~empty, value)
    return frame


def _repair_geometry(frame: Any) -> tuple[Any, list[str]]:
    """Make invalid polygons valid (self-intersections are common in digitised data)."""
    import shapely
    warnings = []
    geometry = frame.geometry
    nulls = int((geometry.isna() | geometry.is_empty).sum())
    if nulls:
        warnings.append(f"{nulls} features have no geometry; they are kept without a location")
    invalid = ~geometry.is_valid & ~(geometry.isna() | geometry.is_empty)
    if invalid.any():
        frame = frame.copy()
        frame.loc[invalid, frame.geometry.name] = shapely.make_valid(geometry[invalid].to_numpy())
        warnings.append(f"{int(invalid.sum())} invalid geometries were repaired (make_valid)")
    return frame, warnings


def layer_id_from(path: Path) -> str:
    """A URL-safe layer id from a file name (ASCII slug, or a short hash for CJK names)."""
    ascii_name = unicodedata.normalize("NFKD", path.stem).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:56]
    return slug or "layer-" + hashlib.sha1(path.stem.encode()).hexdigest()[:8]
