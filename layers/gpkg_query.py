"""Queries on one GeoPackage feature table with plain SQLite: filters, bbox, order, paging.

A spatial condition is answered by the R-tree first (candidates by envelope), then
``cimtwin_spatial`` settles each candidate from its blob's envelope and, only for
those straddling the edge, its exact geometry; a query never loads a whole layer.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

import shapely

from layers import geojson
from layers.gpkg_geometry import decode_shape, wkb_of
from layers.model import LayerInfo, QueryResult
from layers.query import Query, select_properties, where_clause
from layers.sql_filter import FilterContext, sort_clause


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

    @property
    def rtree(self) -> str:
        return f"rtree_{self.table}_{self.geometry}"


def decode_geometry(blob: bytes | None) -> dict[str, Any] | None:
    """GeoPackage geometry blob -> GeoJSON geometry dict (None for null/empty)."""
    from shapely.geometry import mapping
    shape = decode_shape(blob)
    return None if shape is None else mapping(shape)


def filter_context(ref: TableRef, layer_id: str) -> FilterContext:
    def spatial(op: str, geom: Any) -> tuple[str, list[Any]]:
        test = f'cimtwin_spatial(?, t."{ref.geometry}", ?)'
        params: list[Any] = [op, shapely.to_wkb(geom)]
        if op in ("S_DISJOINT", "S_CONTAINS"):
            return f"({test})", params
        west, south, east, north = geom.bounds
        candidates = (f'(t.fid IN (SELECT id FROM "{ref.rtree}" WHERE maxx >= ? AND minx <= ? '
                      f"AND maxy >= ? AND miny <= ?)")
        box = [west, east, south, north]
        if op == "S_INTERSECTS" and geom.equals(shapely.box(*geom.bounds)):
            # envelopes inside the box intersect it: only the edge ones need a real test
            inside = (f'SELECT id FROM "{ref.rtree}" WHERE minx >= ? AND maxx <= ? '
                      "AND miny >= ? AND maxy <= ?")
            return (f"{candidates} AND (t.fid IN ({inside}) OR {test}))", [*box, *box, *params])
        return f"{candidates} AND {test})", [*box, *params]
    return FilterContext(ref.columns, "?", spatial, layer_id)


def run_query(db: sqlite3.Connection, ref: TableRef, info: LayerInfo,
              query: Query) -> QueryResult:
    """One page of matching features in the query's order, and the total matched."""
    ctx = filter_context(ref, info.id)
    where, params = where_clause(query, info, ctx)
    order = sort_clause(query.sortby, ref.columns, info.id)
    rows = db.execute(f"SELECT {_select(ref)}, count(*) OVER () FROM \"{ref.table}\" t "
                      f"WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?",
                      [*params, query.limit, query.offset]).fetchall()
    if rows:
        total = rows[0][-1]
    else:
        total = db.execute(f'SELECT count(*) FROM "{ref.table}" t WHERE {where}',
                           params).fetchone()[0]
    features = [select_properties(f, query.properties) for f in _features(ref, rows)]
    return QueryResult(features, int(total))


def _features(ref: TableRef, rows: list[tuple]) -> list[dict[str, Any]]:
    """Rows (fid, blob, columns..., [count]) -> GeoJSON features, geometry decoded at once."""
    shapes = geojson.geometries([wkb_of(row[1]) for row in rows])
    width = 2 + len(ref.columns)
    return [{"type": "Feature", "id": row[0], "geometry": shape,
             "properties": dict(zip(ref.columns, row[2:width]))}
            for row, shape in zip(rows, shapes)]


def explain_query(db: sqlite3.Connection, ref: TableRef, info: LayerInfo, query: Query) -> str:
    where, params = where_clause(query, info, filter_context(ref, info.id))
    order = sort_clause(query.sortby, ref.columns, info.id)
    rows = db.execute(f'EXPLAIN QUERY PLAN SELECT {_select(ref)} FROM "{ref.table}" t '
                      f"WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?",
                      [*params, query.limit, query.offset]).fetchall()
    return "\n".join(str(r[-1]) for r in rows)


def _select(ref: TableRef) -> str:
    return ", ".join(["t.fid", f't."{ref.geometry}"'] + [f't."{c}"' for c in ref.columns])


def fetch_feature(db: sqlite3.Connection, ref: TableRef, info: LayerInfo,
                  feature_id: Any) -> dict[str, Any] | None:
    """One feature by its id, or None."""
    try:
        fid = int(feature_id)
    except (TypeError, ValueError):
        return None
    row = db.execute(f'SELECT {_select(ref)} FROM "{ref.table}" t WHERE t.fid = ?',
                     (fid,)).fetchone()
    return _features(ref, [row])[0] if row else None
