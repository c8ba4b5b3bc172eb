"""Queries on one GeoPackage feature table with plain SQLite: filters, bbox, paging.

Geometry blobs are GeoPackage binary (a small header, then WKB); the R-tree finds
bbox candidates and only those straddling the bbox edge are tested exactly, so a
query never loads a whole layer's geometry.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from layers.errors import LayerError
from layers.model import LayerInfo, QueryResult

#: Envelope sizes in bytes by the GeoPackage header's envelope indicator (flags bits 1-3).
_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}


@dataclass(frozen=True)
class TableRef:
    """A feature table: its name, geometry column and property columns (stored order)."""

    table: str
    geometry: str
    columns: tuple[str, ...]

    @classmethod
    def load(cls, db: sqlite3.Connection, table: str) -> "TableRef":
        row = db.execute("SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?",
                         (table,)).fetchone()
        if row is None:
            raise sqlite3.OperationalError(f"no such table: {table}")
        names = [r[1] for r in db.execute(f'PRAGMA table_info("{table}")')]
        columns = tuple(n for n in names if n not in ("fid", row[0]))
        return cls(table, row[0], columns)


def decode_geometry(blob: bytes | None) -> dict[str, Any] | None:
    """GeoPackage geometry blob -> GeoJSON geometry dict (None for null/empty)."""
    from shapely.geometry import mapping
    shape = decode_shape(blob)
    return None if shape is None else mapping(shape)


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


def _where(ref: TableRef, info: LayerInfo, filters: dict[str, str],
           interval: tuple[str | None, str | None] | None) -> tuple[str, list[Any]]:
    """SQL WHERE clause and parameters for property filters and a time interval."""
    clauses, params = ["1=1"], []
    for name, raw in filters.items():
        if name not in ref.columns:
            queryable = ", ".join(ref.columns) or "(none)"
            raise LayerError(f"unknown property {name!r} for layer {info.id!r}; "
                             f"queryable properties: {queryable}")
        clauses.append(f't."{name}" = ?')
        params.append(_typed(raw, info.schema.get(name, "string"), name))
    if interval is not None:
        if not info.temporal:
            raise LayerError(f"layer {info.id!r} has no time extent; drop the datetime parameter")
        start_col, end_col = info.temporal
        lo, hi = interval
        clauses.append(f't."{start_col}" IS NOT NULL')
        if hi is not None:  # dates compare as ISO text; only the date part matters
            clauses.append(f'substr(t."{start_col}", 1, 10) <= ?')
            params.append(hi[:10])
        if lo is not None:
            clauses.append(f'(t."{end_col}" IS NULL OR substr(t."{end_col}", 1, 10) >= ?)')
            params.append(lo[:10])
    return " AND ".join(clauses), params


def _typed(raw: str, kind: str, name: str) -> Any:
    """A query string value converted to the column's type, so '3' matches 3."""
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw)
        if kind == "boolean":
            return {"true": 1, "false": 0, "1": 1, "0": 0}[raw.lower()]
    except (ValueError, KeyError):
        raise LayerError(f"property {name!r} is a {kind}; {raw!r} is not one") from None
    return raw


def run_query(db: sqlite3.Connection, ref: TableRef, info: LayerInfo, *,
              bbox: list[float] | None, limit: int, offset: int,
              filters: dict[str, str],
              interval: tuple[str | None, str | None] | None) -> QueryResult:
    """One page of matching features, ordered by feature id, and the total matched."""
    if limit < 0 or offset < 0:
        raise LayerError("limit and offset must be >= 0")
    where, params = _where(ref, info, filters, interval)
    if bbox is None:
        total = db.execute(f'SELECT count(*) FROM "{ref.table}" t WHERE {where}', params).fetchone()[0]
        rows = db.execute(f'SELECT {_select(ref)} FROM "{ref.table}" t WHERE {where} '
                          "ORDER BY t.fid LIMIT ? OFFSET ?", [*params, limit, offset]).fetchall()
    else:
        fids = _bbox_fids(db, ref, bbox, where, params)
        total, page = len(fids), fids[offset:offset + limit]
        rows = _rows_by_fid(db, ref, page)
    return QueryResult([_feature(ref, row) for row in rows], int(total))


def _select(ref: TableRef) -> str:
    return ", ".join(["t.fid", f't."{ref.geometry}"'] + [f't."{c}"' for c in ref.columns])


def _bbox_fids(db: sqlite3.Connection, ref: TableRef, bbox: list[float], where: str,
               params: list[Any]) -> list[int]:
    """Ids of features intersecting ``bbox`` [w, s, e, n] and matching ``where``, sorted."""
    import shapely
    west, south, east, north = bbox
    rtree = f"rtree_{ref.table}_{ref.geometry}"
    rows = db.execute(
        f'SELECT t.fid, (r.minx >= ? AND r.maxx <= ? AND r.miny >= ? AND r.maxy <= ?) '
        f'FROM "{rtree}" r JOIN "{ref.table}" t ON t.fid = r.id '
        f"WHERE r.maxx >= ? AND r.minx <= ? AND r.maxy >= ? AND r.miny <= ? AND {where}",
        [west, east, south, north, west, east, south, north, *params]).fetchall()
    inside = [fid for fid, within in rows if within]
    edge = [fid for fid, within in rows if not within]
    box = shapely.box(west, south, east, north)
    for chunk_start in range(0, len(edge), 500):
        chunk = edge[chunk_start:chunk_start + 500]
        marks = ",".join("?" * len(chunk))
        for fid, blob in db.execute(f'SELECT fid, "{ref.geometry}" FROM "{ref.table}" '
                                    f"WHERE fid IN ({marks})", chunk):
            shape = decode_shape(blob)
            if shape is not None and shape.intersects(box):
                inside.append(fid)
    return sorted(inside)


def _rows_by_fid(db: sqlite3.Connection, ref: TableRef, fids: list[int]) -> list[tuple]:
    if not fids:
        return []
    marks = ",".join("?" * len(fids))
    return db.execute(f'SELECT {_select(ref)} FROM "{ref.table}" t WHERE t.fid IN ({marks}) '
                      "ORDER BY t.fid", fids).fetchall()


def _feature(ref: TableRef, row: tuple) -> dict[str, Any]:
    properties = dict(zip(ref.columns, row[2:]))
    return {"type": "Feature", "id": row[0], "geometry": decode_geometry(row[1]),
            "properties": properties}


def fetch_feature(db: sqlite3.Connection, ref: TableRef, info: LayerInfo,
                  feature_id: Any) -> dict[str, Any] | None:
    """One feature by its id, or None."""
    try:
        fid = int(feature_id)
    except (TypeError, ValueError):
        return None
    rows = _rows_by_fid(db, ref, [fid])
    return _feature(ref, rows[0]) if rows else None
