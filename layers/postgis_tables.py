"""PostGIS table plumbing: the registry tables, a layer version's feature table, rows in.

Each layer version is its own table (``fid`` bigserial, ``geom`` geometry(4326) with a
GiST index, one column per property); replacing a layer creates the new table, copies
the rows in, switches the registry row and drops the old table in one transaction.
"""
from __future__ import annotations

import math
from typing import Any

from psycopg import sql

#: Stored property type -> PostgreSQL column type (dates stay ISO 8601 text, as in GPKG).
PG_TYPES = {"integer": "bigint", "number": "double precision", "boolean": "boolean"}

REGISTRY = ("CREATE TABLE IF NOT EXISTS cimtwin_layers ("
            "id text PRIMARY KEY, table_name text NOT NULL, info jsonb NOT NULL)")
HISTORY = ("CREATE TABLE IF NOT EXISTS cimtwin_history ("
           "seq bigserial PRIMARY KEY, layer_id text NOT NULL, feature_id bigint NOT NULL, "
           "action text NOT NULL, actor text NOT NULL, at text NOT NULL, old jsonb, new jsonb)")


def create_feature_table(cur: Any, table: str, columns: list[str], schema: dict[str, str]) -> None:
    cols = [sql.SQL("fid bigserial PRIMARY KEY"), sql.SQL("geom geometry(Geometry, 4326)")]
    cols += [sql.SQL("{} {}").format(sql.Identifier(c),
                                     sql.SQL(PG_TYPES.get(schema.get(c, "string"), "text")))
             for c in columns]
    cur.execute(sql.SQL("CREATE TABLE {} ({})").format(sql.Identifier(table),
                                                       sql.SQL(", ").join(cols)))


def index_feature_table(cur: Any, table: str) -> None:
    """GiST index on the geometry and fresh planner statistics (so it is used)."""
    cur.execute(sql.SQL("CREATE INDEX {} ON {} USING gist (geom)").format(
        sql.Identifier(f"{table}_geom_idx"), sql.Identifier(table)))
    cur.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))


def copy_rows(cur: Any, table: str, frame: Any, columns: list[str]) -> None:
    """COPY the frame's rows in (fid 1..n in frame order, like GDAL does in a GeoPackage)."""
    import shapely
    geoms = shapely.set_srid(frame.geometry.to_numpy(), 4326)
    wkb = shapely.to_wkb(geoms, hex=True, include_srid=True)
    names = sql.SQL(", ").join(sql.Identifier(n) for n in ["fid", "geom", *columns])
    values = [frame[c].tolist() for c in columns]
    with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(table), names)) as copy:
        for i in range(len(frame)):
            copy.write_row([i + 1, wkb[i], *(plain(v[i]) for v in values)])
    cur.execute(sql.SQL("SELECT setval(pg_get_serial_sequence({}, 'fid'), {})").format(
        sql.Literal(f'"{table}"'), sql.Literal(max(len(frame), 1))))


def plain(value: Any) -> Any:
    """A pandas/numpy cell -> a value psycopg writes (NaN/NaT -> NULL, times -> ISO text)."""
    if value is None:
        return None
    if hasattr(value, "isoformat"):
        try:
            return None if value != value else value.isoformat()
        except (TypeError, ValueError):
            return value.isoformat()
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def drop_feature_table(cur: Any, table: str) -> None:
    cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))


def table_columns(cur: Any, table: str) -> tuple[str, ...]:
    cur.execute("SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                "AND table_schema = current_schema() ORDER BY ordinal_position", (table,))
    return tuple(r[0] for r in cur.fetchall() if r[0] not in ("fid", "geom"))
