"""The per-model element index: SQLite, written once after an import, then read-only.

It answers what the viewer's inspector and tools ask: one element by GlobalId, elements
filtered by class / storey / property value, the storeys (by elevation) and classes.
The file is written to ``<path>.tmp-<pid>`` and renamed, so a reader never sees half.
"""
from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any, Iterable

from bim_import.errors import ElementIndexError

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE elements (
    fid INTEGER PRIMARY KEY, global_id TEXT UNIQUE NOT NULL, ifc_class TEXT NOT NULL,
    storey TEXT, building TEXT, name TEXT, props TEXT NOT NULL);
CREATE TABLE props (fid INTEGER NOT NULL, key TEXT NOT NULL, value_text TEXT, value_num REAL);
CREATE TABLE storeys (name TEXT, global_id TEXT, elevation REAL, ord INTEGER);
CREATE INDEX elements_class ON elements (ifc_class);
CREATE INDEX elements_storey ON elements (storey);
CREATE INDEX props_key ON props (key, value_text);
"""

MAX_LIMIT = 1000


def write_element_index(path: str | os.PathLike, features: dict[int, dict[str, Any]],
                        storeys: Iterable[dict[str, Any]], meta: dict[str, Any]) -> Path:
    """Write the index for ``features`` (feature id -> properties) atomically to ``path``.

    One transaction without journal or per-statement syncs (the file is private until
    the rename), then one fsync: ~0.15 s less than SQLite's defaults per import.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        con = sqlite3.connect(tmp, isolation_level=None)
        try:
            con.execute("PRAGMA journal_mode = OFF")
            con.execute("PRAGMA synchronous = OFF")
            con.execute("BEGIN")
            _fill(con, features, storeys, meta)
            con.execute("COMMIT")
        finally:
            con.close()
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _fill(con: sqlite3.Connection, features, storeys, meta) -> None:
    """Tables, rows, then indexes (faster than indexing row by row)."""
    tables, indexes = SCHEMA.split("CREATE INDEX", 1)
    for statement in tables.split(";"):
        if statement.strip():
            con.execute(statement)
    con.executemany("INSERT INTO meta VALUES (?, ?)",
                    [(k, json.dumps(v, ensure_ascii=False)) for k, v in meta.items()])
    con.executemany("INSERT INTO storeys VALUES (?, ?, ?, ?)",
                    [(s["name"], s.get("global_id"), s.get("elevation"), i)
                     for i, s in enumerate(storeys)])
    con.executemany("INSERT INTO elements VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (_element_row(fid, props) for fid, props in features.items()))
    con.executemany("INSERT INTO props VALUES (?, ?, ?, ?)",
                    (row for fid, props in features.items() for row in _prop_rows(fid, props)))
    for statement in ("CREATE INDEX" + indexes).split(";"):
        if statement.strip():
            con.execute(statement)


class ElementIndex:
    """Read-only queries on one model's index (one connection per use)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.is_file():
            raise ElementIndexError(f"no element index at {self.path}; import the model again")

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        con.row_factory = sqlite3.Row
        return con

    def get(self, global_id: str, with_units: bool = False) -> dict[str, Any] | None:
        """The element's properties (with its feature id), or None. ``with_units`` adds
        ``units``: {property: symbol} of its measured properties (from the import's
        IfcUnitAssignment reading; empty for an index written before units were kept)."""
        with self._connect() as con:
            row = con.execute("SELECT fid, props FROM elements WHERE global_id = ?",
                              (global_id,)).fetchone()
            units = con.execute("SELECT value FROM meta WHERE key = 'units'").fetchone()
        if row is None:
            return None
        element = _element(row)
        if with_units:
            known = json.loads(units[0]) if units else {}
            element["units"] = {k: known[k] for k in element if k in known}
        return element

    def query(self, *, ifc_class: str | None = None, storey: str | None = None,
              properties: Iterable[tuple[str, str]] = (), limit: int = 100,
              offset: int = 0) -> dict[str, Any]:
        """Elements matching every filter: ``{"total", "limit", "offset", "elements"}``.

        ``ifc_class`` matches the class or, case-insensitively, its name (IfcWall also
        matches IfcWallStandardCase, as users expect). A property value matches its text
        ("true", "Level 1") or, when numeric, its number (``3`` matches ``3.0``).
        """
        if not 0 < limit <= MAX_LIMIT or offset < 0:
            raise ElementIndexError(f"limit must be 1..{MAX_LIMIT} and offset >= 0")
        where, args = [], []
        if ifc_class:
            where.append("lower(ifc_class) IN (lower(?), lower(?), lower(?))")
            args += [ifc_class, ifc_class + "StandardCase", ifc_class + "ElementedCase"]
        if storey is not None:
            where.append("storey = ?")
            args.append(storey)
        for key, value in properties:
            clause, values = _property_clause(key, value)
            where.append(clause)
            args += values
        sql_where = (" WHERE " + " AND ".join(where)) if where else ""
        with self._connect() as con:
            total = con.execute(f"SELECT count(*) FROM elements{sql_where}", args).fetchone()[0]
            rows = con.execute(f"SELECT fid, props FROM elements{sql_where} ORDER BY fid "
                               f"LIMIT ? OFFSET ?", args + [limit, offset]).fetchall()
        return {"total": total, "limit": limit, "offset": offset,
                "elements": [_element(r) for r in rows]}

    def storeys(self) -> list[dict[str, Any]]:
        """Storeys lowest first, each with how many elements it holds."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT s.name, s.global_id, s.elevation, "
                "(SELECT count(*) FROM elements e WHERE e.storey = s.name) AS elements "
                "FROM storeys s ORDER BY s.ord").fetchall()
        return [dict(r) for r in rows]

    def tree(self) -> list[dict[str, Any]]:
        """The element tree: storeys lowest first (elements outside any storey last, as
        ``name`` None), each with its element count and its classes, most frequent first."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT e.storey, e.ifc_class, count(*) FROM elements e "
                "LEFT JOIN storeys s ON s.name = e.storey GROUP BY e.storey, e.ifc_class "
                "ORDER BY s.ord IS NULL, s.ord, count(*) DESC, e.ifc_class").fetchall()
        nodes: dict[Any, dict[str, Any]] = {}
        for storey, ifc_class, count in rows:
            node = nodes.setdefault(storey, {"name": storey, "elements": 0, "classes": []})
            node["elements"] += count
            node["classes"].append({"class": ifc_class, "elements": count})
        return list(nodes.values())

    def classes(self) -> list[dict[str, Any]]:
        """IFC classes present, most frequent first."""
        with self._connect() as con:
            rows = con.execute("SELECT ifc_class AS class, count(*) AS elements FROM elements "
                               "GROUP BY ifc_class ORDER BY elements DESC, ifc_class").fetchall()
        return [dict(r) for r in rows]

    def meta(self) -> dict[str, Any]:
        with self._connect() as con:
            return {k: json.loads(v) for k, v in con.execute("SELECT key, value FROM meta")}


def _element_row(fid: int, props: dict[str, Any]) -> tuple:
    return (int(fid), props["GlobalId"], props["IfcClass"], props.get("Storey"),
            props.get("Building"), props.get("Name"), json.dumps(props, ensure_ascii=False))


def _prop_rows(fid: int, props: dict[str, Any]):
    for key, value in props.items():
        yield (int(fid), key, _as_text(value), _as_number(value))


def _as_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _as_number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _property_clause(key: str, value: str) -> tuple[str, list]:
    """SQL matching elements whose property ``key`` equals ``value`` (text or number)."""
    text = value.strip()
    lowered = text.lower()
    if lowered in ("true", "false"):
        text = lowered
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is None:
        return ("fid IN (SELECT fid FROM props WHERE key = ? AND value_text = ?)", [key, text])
    return ("fid IN (SELECT fid FROM props WHERE key = ? AND (value_text = ? OR value_num = ?))",
            [key, text, number])


def _element(row) -> dict[str, Any]:
    props = json.loads(row["props"])
    return {"fid": row["fid"], **props}
