"""Item writes and the history table in a GeoPackage, inside the caller's transaction.

GDAL's triggers keep the R-tree in step (their ST_* functions are registered on every
connection by :func:`layers.gpkg_tables.connect`).
"""
from __future__ import annotations

import json
import sqlite3
from typing import Any

from layers.gpkg_geometry import encode_shape
from layers.gpkg_query import TableRef

HISTORY = """CREATE TABLE IF NOT EXISTS cimtwin_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, layer_id TEXT NOT NULL, feature_id INTEGER NOT NULL,
    action TEXT NOT NULL, actor TEXT NOT NULL, at TEXT NOT NULL, old TEXT, new TEXT)"""


def _srs_id(db: sqlite3.Connection, ref: TableRef) -> int:
    row = db.execute("SELECT srs_id FROM gpkg_geometry_columns WHERE table_name = ?",
                     (ref.table,)).fetchone()
    return int(row[0]) if row else 4326


def insert_item(db: sqlite3.Connection, ref: TableRef, row: dict[str, Any], shape: Any) -> int:
    names = [ref.geometry, *ref.columns]
    marks = ", ".join("?" * len(names))
    quoted = ", ".join(f'"{n}"' for n in names)
    values = [encode_shape(shape, _srs_id(db, ref)), *(row.get(c) for c in ref.columns)]
    cursor = db.execute(f'INSERT INTO "{ref.table}" ({quoted}) VALUES ({marks})', values)
    return int(cursor.lastrowid)


def update_item(db: sqlite3.Connection, ref: TableRef, fid: int, row: dict[str, Any],
                shape: Any) -> None:
    names = [ref.geometry, *ref.columns]
    sets = ", ".join(f'"{n}" = ?' for n in names)
    values = [encode_shape(shape, _srs_id(db, ref)), *(row.get(c) for c in ref.columns)]
    db.execute(f'UPDATE "{ref.table}" SET {sets} WHERE fid = ?', [*values, fid])


def delete_item(db: sqlite3.Connection, ref: TableRef, fid: int) -> None:
    db.execute(f'DELETE FROM "{ref.table}" WHERE fid = ?', (fid,))


def add_history(db: sqlite3.Connection, entry: dict[str, Any]) -> None:
    db.execute("INSERT INTO cimtwin_history (layer_id, feature_id, action, actor, at, old, new) "
               "VALUES (?, ?, ?, ?, ?, ?, ?)",
               (entry["layer"], entry["feature"], entry["action"], entry["actor"], entry["at"],
                _dump(entry["old"]), _dump(entry["new"])))


def read_history(db: sqlite3.Connection, layer_id: str, feature_id: int | None
                 ) -> list[dict[str, Any]]:
    sql = ("SELECT seq, layer_id, feature_id, action, actor, at, old, new FROM cimtwin_history "
           "WHERE layer_id = ?")
    params: list[Any] = [layer_id]
    if feature_id is not None:
        sql += " AND feature_id = ?"
        params.append(int(feature_id))
    rows = db.execute(sql + " ORDER BY seq", params).fetchall()
    return [{"seq": r[0], "layer": r[1], "feature": r[2], "action": r[3], "actor": r[4],
             "at": r[5], "old": _load(r[6]), "new": _load(r[7])} for r in rows]


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, default=str)


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)
