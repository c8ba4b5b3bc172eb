"""GeoPackage geometry blobs, and the SQL functions plain SQLite needs to work with them.

A blob is a small header ("GP", version, flags, srs_id, optional envelope) then WKB.
GDAL's R-tree triggers call ST_IsEmpty/ST_MinX/...; Python's sqlite3 does not have
them, so :func:`register_functions` adds them (and ``cimtwin_spatial`` for filters)
to each connection: edits made here keep the R-tree right.
"""
from __future__ import annotations

import sqlite3
import struct
from functools import lru_cache
from typing import Any

from layers.errors import LayerError

#: Envelope sizes in bytes by the header's envelope indicator (flags bits 1-3).
_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}
CRS84_SRS_ID = 4326


def decode_shape(blob: bytes | None) -> Any:
    """GeoPackage geometry blob -> shapely geometry (None for null/empty)."""
    import shapely
    if blob is None or len(blob) < 8 or blob[:2] != b"GP":
        return None
    flags = blob[3]
    if flags & 0b10000:  # empty geometry flag
        return None
    envelope = _ENVELOPE_BYTES.get((flags >> 1) & 0b111)
    if envelope is None:
        raise LayerError("a stored geometry has an invalid GeoPackage header; re-import the layer")
    return shapely.from_wkb(blob[8 + envelope:])


def wkb_of(blob: bytes | None) -> bytes | None:
    """The WKB part of a GeoPackage blob (None for null/empty geometry)."""
    if blob is None or len(blob) < 8 or blob[:2] != b"GP" or blob[3] & 0b10000:
        return None
    envelope = _ENVELOPE_BYTES.get((blob[3] >> 1) & 0b111)
    if envelope is None:
        raise LayerError("a stored geometry has an invalid GeoPackage header; re-import the layer")
    return bytes(blob[8 + envelope:])


def encode_shape(shape: Any, srs_id: int) -> bytes | None:
    """shapely geometry -> GeoPackage blob with an xy envelope (little-endian)."""
    import shapely
    if shape is None:
        return None
    if shape.is_empty:
        return b"GP\x00" + bytes([0b10001]) + struct.pack("<i", srs_id) + shapely.to_wkb(shape)
    minx, miny, maxx, maxy = shape.bounds
    header = b"GP\x00" + bytes([0b00011]) + struct.pack("<i4d", srs_id, minx, maxx, miny, maxy)
    return header + shapely.to_wkb(shape, byte_order=1)


def envelope(blob: bytes | None) -> tuple[float, float, float, float] | None:
    """(minx, maxx, miny, maxy) from the header, or from the shape when it has none."""
    if blob is None or len(blob) < 8 or blob[3] & 0b10000:
        return None
    indicator = (blob[3] >> 1) & 0b111
    if indicator:
        order = "<" if blob[3] & 1 else ">"
        return struct.unpack(order + "4d", blob[8:40])
    shape = decode_shape(blob)
    if shape is None or shape.is_empty:
        return None
    minx, miny, maxx, maxy = shape.bounds
    return minx, maxx, miny, maxy


@lru_cache(maxsize=64)
def _query_shape(wkb: bytes) -> tuple[Any, tuple[float, float, float, float], bool]:
    """The filter geometry (prepared), its bounds and whether it is an axis-aligned box."""
    import shapely
    shape = shapely.from_wkb(wkb)
    shapely.prepare(shape)
    is_box = shape.geom_type == "Polygon" and shape.equals(shapely.box(*shape.bounds))
    return shape, shape.bounds, is_box


def spatial_test(op: str, blob: bytes | None, wkb: bytes) -> int:
    """cimtwin_spatial(op, geometry, filter_wkb): 1 if the CQL2 spatial relation holds."""
    env = envelope(blob)
    if env is None:
        return 0
    shape, (qminx, qminy, qmaxx, qmaxy), is_box = _query_shape(bytes(wkb))
    minx, maxx, miny, maxy = env
    disjoint = maxx < qminx or minx > qmaxx or maxy < qminy or miny > qmaxy
    if op in ("S_INTERSECTS", "S_DISJOINT") and disjoint:
        return int(op == "S_DISJOINT")
    inside = minx >= qminx and maxx <= qmaxx and miny >= qminy and maxy <= qmaxy
    if op == "S_INTERSECTS" and is_box and inside:
        return 1
    if op == "S_WITHIN" and not inside:
        return 0
    feature = decode_shape(blob)
    test = {"S_INTERSECTS": shape.intersects, "S_DISJOINT": shape.disjoint,
            "S_WITHIN": shape.contains, "S_CONTAINS": shape.within}[op]
    return int(test(feature))


def _bound(index: int):
    def value(blob: bytes | None) -> float | None:
        env = envelope(blob)
        return None if env is None else env[index]
    return value


def _is_empty(blob: bytes | None) -> int | None:
    if blob is None:
        return None
    return int(len(blob) >= 8 and bool(blob[3] & 0b10000))


def register_functions(db: sqlite3.Connection) -> None:
    """The ST_* functions GDAL's R-tree triggers call, plus cimtwin_spatial."""
    db.create_function("ST_IsEmpty", 1, _is_empty, deterministic=True)
    for index, name in enumerate(("ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY")):
        db.create_function(name, 1, _bound(index), deterministic=True)
    db.create_function("cimtwin_spatial", 3, spatial_test, deterministic=True)
