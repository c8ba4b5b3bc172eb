"""The server LayerStore: layers in PostgreSQL + PostGIS (``layers.url = postgresql://...``).

Same behaviour as the GeoPackage store (one contract test runs both): a registry table
maps a layer id to its current feature table and :class:`LayerInfo`; each layer
version is its own table with a GiST index; replacing a layer and editing an item are
each one transaction, so readers never see half a change. Queries compile to the same
SQL as in GeoPackage, with ``ST_Intersects`` & co. on the indexed geometry.
"""
from __future__ import annotations

import json
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from layers import postgis_tables as tables
from layers.edits import ItemEditing, now_utc
from layers.errors import LayerError, LayerNotFound
from layers.frames import prepare_frame
from layers.model import LayerInfo, QueryResult, check_layer_id
from layers.query import Query, select_properties, where_clause
from layers.sql_filter import FilterContext, sort_clause

_SPATIAL = {"S_INTERSECTS": "ST_Intersects(t.geom, {g})",
            "S_DISJOINT": "NOT ST_Intersects(t.geom, {g})",
            "S_WITHIN": "ST_Within(t.geom, {g})", "S_CONTAINS": "ST_Contains(t.geom, {g})"}


@dataclass
class _Tx:
    cur: Any
    table: str
    columns: tuple[str, ...]
    info: LayerInfo


class PostGISLayerStore(ItemEditing):
    """Layers in a PostGIS database; one connection per thread."""

    def __init__(self, url: str):
        import psycopg
        self.url = url
        self._psycopg = psycopg
        self._local = threading.local()
        self._columns: dict[str, tuple[str, ...]] = {}
        with self._db().cursor() as cur:
            cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")
            if cur.fetchone() is None:
                raise LayerError(f"database {self._safe_url()} has no PostGIS; run "
                                 "CREATE EXTENSION postgis as its owner")
            cur.execute(tables.REGISTRY)
            cur.execute(tables.HISTORY)

    def _safe_url(self) -> str:
        return self.url.split("@")[-1]

    def _db(self) -> Any:
        db = getattr(self._local, "db", None)
        if db is None or db.closed:
            try:
                db = self._psycopg.connect(self.url, autocommit=True)
            except self._psycopg.OperationalError as exc:
                raise LayerError(f"cannot connect to the layer database {self._safe_url()}: "
                                 f"{str(exc).strip()}") from None
            self._local.db = db
        return db

    # -- metadata -------------------------------------------------------------------
    def _row(self, cur: Any, layer_id: str, lock: bool = False) -> tuple[str, LayerInfo] | None:
        cur.execute("SELECT table_name, info FROM cimtwin_layers WHERE id = %s"
                    + (" FOR UPDATE" if lock else ""), (layer_id,))
        row = cur.fetchone()
        return (row[0], LayerInfo.from_dict(row[1])) if row else None

    def list_layers(self, levels: Iterable[str] | None = None) -> list[LayerInfo]:
        with self._db().cursor() as cur:
            cur.execute("SELECT info FROM cimtwin_layers ORDER BY id")
            infos = [LayerInfo.from_dict(r[0]) for r in cur.fetchall()]
        allowed = None if levels is None else set(levels)
        return [i for i in infos if allowed is None or i.classification in allowed]

    def get_layer(self, layer_id: str, levels: Iterable[str] | None = None) -> LayerInfo:
        with self._db().cursor() as cur:
            return self._visible(cur, layer_id, levels)[1]

    def _visible(self, cur: Any, layer_id: str, levels: Iterable[str] | None,
                 lock: bool = False) -> tuple[str, LayerInfo]:
        row = self._row(cur, layer_id, lock) if isinstance(layer_id, str) else None
        if row is None or (levels is not None and row[1].classification not in set(levels)):
            raise LayerNotFound(f"no layer {layer_id!r}; GET /ogc/collections lists the layers")
        return row

    def columns(self, layer_id: str, levels: Iterable[str] | None = None) -> tuple[str, ...]:
        with self._db().cursor() as cur:
            return self._table_columns(cur, self._visible(cur, layer_id, levels)[0])

    def _table_columns(self, cur: Any, table: str) -> tuple[str, ...]:
        if table not in self._columns:
            self._columns[table] = tables.table_columns(cur, table)
        return self._columns[table]

    # -- writes ---------------------------------------------------------------------
    def put_layer(self, frame: Any, info: LayerInfo) -> LayerInfo:
        """Store ``frame`` as layer ``info.id`` (replacing it), in one transaction."""
        check_layer_id(info.id)
        frame, info = prepare_frame(frame, info)
        table = f"layer_{info.id.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
        columns = [c for c in frame.columns if c != frame.geometry.name]
        db = self._db()
        try:
            with db.transaction(), db.cursor() as cur:
                tables.create_feature_table(cur, table, columns, info.schema)
                tables.copy_rows(cur, table, frame, columns)
                tables.index_feature_table(cur, table)
                old = self._row(cur, info.id, lock=True)
                now = now_utc()
                info.created, info.updated = (old[1].created if old else now), now
                cur.execute("INSERT INTO cimtwin_layers (id, table_name, info) VALUES (%s, %s, %s)"
                            " ON CONFLICT (id) DO UPDATE SET table_name = EXCLUDED.table_name, "
                            "info = EXCLUDED.info", (info.id, table, json.dumps(info.to_dict())))
                if old:
                    tables.drop_feature_table(cur, old[0])
        except self._psycopg.Error as exc:
            raise LayerError(f"could not store layer {info.id!r} in {self._safe_url()}: "
                             f"{str(exc).strip()}") from exc
        return info

    def delete_layer(self, layer_id: str) -> None:
        db = self._db()
        with db.transaction(), db.cursor() as cur:
            table, _ = self._visible(cur, layer_id, None, lock=True)
            cur.execute("DELETE FROM cimtwin_layers WHERE id = %s", (layer_id,))
            tables.drop_feature_table(cur, table)

    # -- reads ----------------------------------------------------------------------
    def _context(self, columns: tuple[str, ...], layer_id: str) -> FilterContext:
        def spatial(op: str, geom: Any) -> tuple[str, list[Any]]:
            import shapely
            text = _SPATIAL[op].format(g="ST_GeomFromWKB(%s, 4326)")
            return f"({text})", [shapely.to_wkb(geom)]
        return FilterContext(columns, "%s", spatial, layer_id)

    def _select(self, columns: tuple[str, ...]) -> str:
        return ", ".join(["t.fid", "ST_AsGeoJSON(t.geom, 9)"] + [f't."{c}"' for c in columns])

    def query(self, layer_id: str, *, bbox: list[float] | None = None, limit: int = 100,
              offset: int = 0, filters: dict[str, str] | None = None,
              datetime: tuple[str | None, str | None] | None = None,
              levels: Iterable[str] | None = None, cql: tuple | None = None,
              sortby: list[tuple[str, bool]] | None = None,
              properties: list[str] | None = None) -> QueryResult:
        query = Query(bbox=bbox, limit=limit, offset=offset, filters=filters or {},
                      interval=datetime, cql=cql, sortby=sortby, properties=properties)
        for _ in range(3):  # the table may be replaced between lookup and read
            try:
                return self._run(layer_id, levels, query)
            except self._psycopg.errors.UndefinedTable:
                continue
        raise LayerError(f"layer {layer_id!r} is being replaced; retry the request")

    def _statement(self, cur: Any, layer_id: str, levels: Any, query: Query
                   ) -> tuple[str, list[Any], tuple[str, ...], LayerInfo, str]:
        table, info = self._visible(cur, layer_id, levels)
        columns = self._table_columns(cur, table)
        where, params = where_clause(query, info, self._context(columns, layer_id))
        order = sort_clause(query.sortby, columns, layer_id)
        return where, params, columns, info, f'"{table}" t WHERE {where} ORDER BY {order}'

    def _run(self, layer_id: str, levels: Any, query: Query) -> QueryResult:
        with self._db().cursor() as cur:
            where, params, columns, info, body = self._statement(cur, layer_id, levels, query)
            try:
                cur.execute(f"SELECT {self._select(columns)}, count(*) OVER () FROM {body} "
                            "LIMIT %s OFFSET %s", [*params, query.limit, query.offset])
                rows = cur.fetchall()
                if not rows:
                    cur.execute(f"SELECT count(*) FROM {body.split(' ORDER BY ')[0]}", params)
                    total = cur.fetchone()[0]
            except (self._psycopg.errors.UndefinedFunction, self._psycopg.errors.DataError,
                    self._psycopg.errors.InvalidTextRepresentation) as exc:
                raise LayerError(f"the filter compares values of different types: "
                                 f"{str(exc).splitlines()[0]}") from None
        total = rows[0][-1] if rows else total
        features = [select_properties(_feature(columns, r[:-1]), query.properties) for r in rows]
        return QueryResult(features, int(total))

    def explain(self, layer_id: str, **kwargs: Any) -> str:
        """The PostgreSQL plan of an items query (shows the GiST index at work)."""
        with self._db().cursor() as cur:
            _, params, columns, _, body = self._statement(cur, layer_id, None, Query(**kwargs))
            cur.execute(f"EXPLAIN SELECT {self._select(columns)} FROM {body} LIMIT %s OFFSET %s",
                        [*params, kwargs.get("limit", 100), kwargs.get("offset", 0)])
            return "\n".join(r[0] for r in cur.fetchall())

    def get_feature(self, layer_id: str, feature_id: Any,
                    levels: Iterable[str] | None = None) -> dict[str, Any]:
        with self._db().cursor() as cur:
            table, _ = self._visible(cur, layer_id, levels)
            feature = self._fetch(cur, table, self._table_columns(cur, table), feature_id)
        if feature is None:
            raise LayerNotFound(f"layer {layer_id!r} has no feature {feature_id!r}")
        return feature

    def _fetch(self, cur: Any, table: str, columns: tuple[str, ...], feature_id: Any):
        try:
            fid = int(feature_id)
        except (TypeError, ValueError):
            return None
        cur.execute(f'SELECT {self._select(columns)} FROM "{table}" t WHERE t.fid = %s', (fid,))
        row = cur.fetchone()
        return _feature(columns, row) if row else None

    # -- item edits (Part 4): hooks of ItemEditing ------------------------------------
    @contextmanager
    def _edit_tx(self, layer_id: str, levels: Iterable[str] | None) -> Iterator[_Tx]:
        db = self._db()
        with db.transaction(), db.cursor() as cur:
            table, info = self._visible(cur, layer_id, levels, lock=True)
            yield _Tx(cur, table, self._table_columns(cur, table), info)

    def _tx_fetch(self, tx: _Tx, fid: int) -> dict[str, Any] | None:
        return self._fetch(tx.cur, tx.table, tx.columns, fid)

    def _tx_insert(self, tx: _Tx, row: dict[str, Any], shape: Any) -> int:
        names = ", ".join(f'"{c}"' for c in tx.columns)
        marks = ", ".join(["ST_GeomFromWKB(%s, 4326)"] + ["%s"] * len(tx.columns))
        tx.cur.execute(f'INSERT INTO "{tx.table}" (geom{", " if names else ""}{names}) '
                       f"VALUES ({marks}) RETURNING fid", [_wkb(shape), *_values(tx, row)])
        return int(tx.cur.fetchone()[0])

    def _tx_update(self, tx: _Tx, fid: int, row: dict[str, Any], shape: Any) -> None:
        sets = ", ".join(["geom = ST_GeomFromWKB(%s, 4326)"] + [f'"{c}" = %s' for c in tx.columns])
        tx.cur.execute(f'UPDATE "{tx.table}" SET {sets} WHERE fid = %s',
                       [_wkb(shape), *_values(tx, row), fid])

    def _tx_delete(self, tx: _Tx, fid: int) -> None:
        tx.cur.execute(f'DELETE FROM "{tx.table}" WHERE fid = %s', (fid,))

    def _tx_history(self, tx: _Tx, entry: dict[str, Any]) -> None:
        tx.cur.execute("INSERT INTO cimtwin_history (layer_id, feature_id, action, actor, at, "
                       "old, new) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                       (entry["layer"], entry["feature"], entry["action"], entry["actor"],
                        entry["at"], _json(entry["old"]), _json(entry["new"])))

    def _tx_save_info(self, tx: _Tx) -> None:
        tx.info.updated = now_utc()
        tx.cur.execute("UPDATE cimtwin_layers SET info = %s WHERE id = %s",
                       (json.dumps(tx.info.to_dict()), tx.info.id))

    def history(self, layer_id: str, feature_id: int | None = None,
                levels: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Every recorded change of a layer's items (or of one item), oldest first."""
        with self._db().cursor() as cur:
            self._visible(cur, layer_id, levels)
            sql = ("SELECT seq, layer_id, feature_id, action, actor, at, old, new "
                   "FROM cimtwin_history WHERE layer_id = %s")
            params: list[Any] = [layer_id]
            if feature_id is not None:
                sql += " AND feature_id = %s"
                params.append(int(feature_id))
            cur.execute(sql + " ORDER BY seq", params)
            return [{"seq": r[0], "layer": r[1], "feature": r[2], "action": r[3],
                     "actor": r[4], "at": r[5], "old": r[6], "new": r[7]}
                    for r in cur.fetchall()]

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


def _feature(columns: tuple[str, ...], row: tuple) -> dict[str, Any]:
    import orjson
    geometry = None if row[1] is None else orjson.loads(row[1])
    if geometry is not None and not geometry.get("coordinates", geometry.get("geometries")):
        geometry = None  # an empty geometry
    return {"type": "Feature", "id": row[0], "geometry": geometry,
            "properties": dict(zip(columns, row[2:]))}


def _wkb(shape: Any) -> bytes:
    import shapely
    return shapely.to_wkb(shape)


def _values(tx: _Tx, row: dict[str, Any]) -> list[Any]:
    return [row.get(c) for c in tx.columns]


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, default=str)
