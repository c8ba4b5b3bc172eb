"""The embedded LayerStore: one GeoPackage file holding every layer (the default).

Each layer version is its own feature table with an R-tree index; the table
``cimtwin_layers`` maps a layer id to its current table and its :class:`LayerInfo`.
Replacing a layer stages the new table (GDAL, in a separate file), then moves it in
and switches the mapping in one transaction, so a failed import leaves the old layer
untouched and readers never see half a layer. Reads go straight to SQLite
(:mod:`layers.gpkg_query`).
"""
from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

from layers import gpkg_edits
from layers.edits import ItemEditing
from layers.errors import LayerError, LayerNotFound
from layers.frames import prepare_frame
from layers.gpkg_query import TableRef, fetch_feature, run_query
from layers.gpkg_tables import connect, copy_in, create_geopackage, drop_table, write_staging
from layers.model import LayerInfo, QueryResult, check_layer_id
from layers.query import Query

_META = """CREATE TABLE IF NOT EXISTS cimtwin_layers (
    id TEXT PRIMARY KEY, table_name TEXT NOT NULL, info TEXT NOT NULL)"""


@dataclass
class _Tx:
    """One open edit transaction on a layer's table."""

    db: sqlite3.Connection
    ref: TableRef
    info: LayerInfo

    @property
    def columns(self) -> tuple[str, ...]:
        return self.ref.columns


class GeoPackageLayerStore(ItemEditing):
    """Layers in one GeoPackage file (safe for many reader threads, one writer at a time)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        if not self.path.exists():
            create_geopackage(self.path)
        self._db().execute(_META)
        self._db().execute(gpkg_edits.HISTORY)

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = connect(self.path)
        return db

    # -- metadata -------------------------------------------------------------------
    def _row(self, layer_id: str) -> tuple[str, LayerInfo] | None:
        row = self._db().execute("SELECT table_name, info FROM cimtwin_layers WHERE id = ?",
                                 (layer_id,)).fetchone()
        return (row[0], LayerInfo.from_dict(json.loads(row[1]))) if row else None

    def list_layers(self, levels: Iterable[str] | None = None) -> list[LayerInfo]:
        rows = self._db().execute("SELECT info FROM cimtwin_layers ORDER BY id").fetchall()
        infos = [LayerInfo.from_dict(json.loads(r[0])) for r in rows]
        allowed = None if levels is None else set(levels)
        return [i for i in infos if allowed is None or i.classification in allowed]

    def get_layer(self, layer_id: str, levels: Iterable[str] | None = None) -> LayerInfo:
        return self._visible(layer_id, levels)[1]

    def _visible(self, layer_id: str, levels: Iterable[str] | None) -> tuple[str, LayerInfo]:
        """(table, info) of a layer the caller may see; LayerNotFound otherwise."""
        row = self._row(layer_id) if isinstance(layer_id, str) else None
        if row is None or (levels is not None and row[1].classification not in set(levels)):
            raise LayerNotFound(f"no layer {layer_id!r}; GET /ogc/collections lists the layers")
        return row

    # -- writes ---------------------------------------------------------------------
    def put_layer(self, frame: Any, info: LayerInfo) -> LayerInfo:
        """Store ``frame`` (a GeoDataFrame with a CRS) as layer ``info.id``, atomically.

        The frame is reprojected to CRS84; count, bbox and schema in the returned info
        are measured from what was stored.
        """
        check_layer_id(info.id)
        frame, info = prepare_frame(frame, info)
        table = f"layer_{info.id.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
        staging = write_staging(frame, self.path.parent, table)
        try:
            with self._write_lock:
                return self._switch_in(staging, table, info)
        finally:
            staging.unlink(missing_ok=True)

    def _switch_in(self, staging: Path, table: str, info: LayerInfo) -> LayerInfo:
        """Move the staged table in, point the layer at it, drop the old one: one transaction."""
        db = self._db()
        db.execute("ATTACH DATABASE ? AS staging", (str(staging),))
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                old = self._row(info.id)
                now = _now()
                info.created, info.updated = (old[1].created if old else now), now
                copy_in(db, staging, table)
                db.execute("INSERT OR REPLACE INTO cimtwin_layers (id, table_name, info) "
                           "VALUES (?, ?, ?)",
                           (info.id, table, json.dumps(info.to_dict(), ensure_ascii=False)))
                if old:
                    drop_table(db, old[0])
                db.execute("COMMIT")
            except BaseException as exc:
                db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise LayerError(f"could not store layer {info.id!r} in {self.path}: "
                                     f"{exc}") from exc
                raise
        finally:
            db.execute("DETACH DATABASE staging")
        return info

    def delete_layer(self, layer_id: str) -> None:
        with self._write_lock:
            table, _ = self._visible(layer_id, None)
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("DELETE FROM cimtwin_layers WHERE id = ?", (layer_id,))
                drop_table(db, table)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    # -- reads ----------------------------------------------------------------------
    def _ref(self, layer_id: str, levels: Iterable[str] | None) -> tuple[TableRef, LayerInfo]:
        table, info = self._visible(layer_id, levels)
        return TableRef.load(self._db(), table), info

    def query(self, layer_id: str, *, bbox: list[float] | None = None, limit: int = 100,
              offset: int = 0, filters: dict[str, str] | None = None,
              datetime: tuple[str | None, str | None] | None = None,
              levels: Iterable[str] | None = None, cql: tuple | None = None,
              sortby: list[tuple[str, bool]] | None = None,
              properties: list[str] | None = None) -> QueryResult:
        query = Query(bbox=bbox, limit=limit, offset=offset, filters=filters or {},
                      interval=datetime, cql=cql, sortby=sortby, properties=properties)
        for _ in range(3):  # the table may be replaced between lookup and read
            ref, info = self._ref(layer_id, levels)
            try:
                return run_query(self._db(), ref, info, query)
            except sqlite3.OperationalError as exc:
                if "no such table" not in str(exc):
                    raise
        raise LayerError(f"layer {layer_id!r} is being replaced; retry the request")

    def get_feature(self, layer_id: str, feature_id: int,
                    levels: Iterable[str] | None = None) -> dict[str, Any]:
        ref, info = self._ref(layer_id, levels)
        feature = fetch_feature(self._db(), ref, info, feature_id)
        if feature is None:
            raise LayerNotFound(f"layer {layer_id!r} has no feature {feature_id!r}")
        return feature

    def explain(self, layer_id: str, **kwargs: Any) -> str:
        """SQLite's plan of an items query (shows the R-tree at work)."""
        from layers.gpkg_query import explain_query
        ref, info = self._ref(layer_id, None)
        return explain_query(self._db(), ref, info, Query(**kwargs))

    def columns(self, layer_id: str, levels: Iterable[str] | None = None) -> tuple[str, ...]:
        """The layer's property columns in stored order."""
        return self._ref(layer_id, levels)[0].columns

    # -- item edits (Part 4): hooks of ItemEditing ------------------------------------
    @contextmanager
    def _edit_tx(self, layer_id: str, levels: Iterable[str] | None) -> Iterator[_Tx]:
        with self._write_lock:
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            try:
                table, info = self._visible(layer_id, levels)
                yield _Tx(db, TableRef.load(db, table), info)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def _tx_fetch(self, tx: _Tx, fid: int) -> dict[str, Any] | None:
        return fetch_feature(tx.db, tx.ref, tx.info, fid)

    def _tx_insert(self, tx: _Tx, row: dict[str, Any], shape: Any) -> int:
        return gpkg_edits.insert_item(tx.db, tx.ref, row, shape)

    def _tx_update(self, tx: _Tx, fid: int, row: dict[str, Any], shape: Any) -> None:
        gpkg_edits.update_item(tx.db, tx.ref, fid, row, shape)

    def _tx_delete(self, tx: _Tx, fid: int) -> None:
        gpkg_edits.delete_item(tx.db, tx.ref, fid)

    def _tx_history(self, tx: _Tx, entry: dict[str, Any]) -> None:
        gpkg_edits.add_history(tx.db, entry)

    def _tx_save_info(self, tx: _Tx) -> None:
        tx.info.updated = _now()
        tx.db.execute("UPDATE cimtwin_layers SET info = ? WHERE id = ?",
                      (json.dumps(tx.info.to_dict(), ensure_ascii=False), tx.info.id))

    def history(self, layer_id: str, feature_id: int | None = None,
                levels: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Every recorded change of a layer's items (or of one item), oldest first."""
        self._visible(layer_id, levels)
        return gpkg_edits.read_history(self._db(), layer_id, feature_id)

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None



def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
