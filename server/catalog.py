"""The catalog of tilesets: what exists, where it is on Earth, who may see it.

One SQLite file in the data directory (WAL, so the server reads while an import
writes). Entries are plain dicts; ``summary`` and ``frame`` are kept as JSON.
"""
from __future__ import annotations

import json
import re
import sqlite3
import unicodedata
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from layers.model import CLASSIFICATIONS
from tiles.pipeline import KINDS  # tileset kinds: defined once, by the engine
from server.sqlite_local import ThreadLocalConnections

_COLUMNS = ("id", "name", "kind", "bounds", "height", "classification", "created",
            "frame", "summary", "source")
_JSON_COLUMNS = {"bounds", "height", "frame", "summary"}


class CatalogError(Exception):
    """A catalog entry that is incomplete or names an unknown kind/classification."""


class Catalog:
    """Tileset entries in ``<data_dir>/catalog.sqlite``."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._connections = ThreadLocalConnections(self.path)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("""CREATE TABLE IF NOT EXISTS tilesets (
                id TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL,
                bounds TEXT, height TEXT, classification TEXT NOT NULL,
                created TEXT NOT NULL, frame TEXT, summary TEXT, source TEXT)""")

    def _connect(self) -> sqlite3.Connection:
        return self._connections.connect()

    def new_id(self, name: str) -> str:
        """A URL-safe id from ``name`` (ASCII slug), unique in this catalog."""
        ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
        slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:40]
        base = slug or "ts-" + uuid.uuid5(uuid.NAMESPACE_URL, name).hex[:8]
        candidate, n = base, 2
        while self.get(candidate) is not None:
            candidate, n = f"{base}-{n}", n + 1
        return candidate

    def add(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Insert or replace an entry; fills ``created`` when absent. Returns the entry."""
        entry = dict(entry)
        entry.setdefault("created", datetime.now(timezone.utc).isoformat(timespec="seconds"))
        _check_entry(entry)
        row = [json.dumps(entry.get(c)) if c in _JSON_COLUMNS else entry.get(c) for c in _COLUMNS]
        with self._connect() as db:
            db.execute(f"INSERT OR REPLACE INTO tilesets ({', '.join(_COLUMNS)}) "
                       f"VALUES ({', '.join('?' * len(_COLUMNS))})", row)
        return self.get(entry["id"])

    def get(self, tileset_id: str) -> dict[str, Any] | None:
        row = self._connect().execute("SELECT * FROM tilesets WHERE id = ?",
                                      (tileset_id,)).fetchone()
        return _row_to_entry(row) if row else None

    def list(self, levels: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Entries, newest first; only the given classification levels when given."""
        rows = self._connect().execute(
            "SELECT * FROM tilesets ORDER BY created DESC, id").fetchall()
        entries = [_row_to_entry(r) for r in rows]
        if levels is not None:
            allowed = set(levels)
            entries = [e for e in entries if e["classification"] in allowed]
        return entries

    def delete(self, tileset_id: str) -> bool:
        with self._connect() as db:
            return db.execute("DELETE FROM tilesets WHERE id = ?", (tileset_id,)).rowcount > 0


def _check_entry(entry: dict[str, Any]) -> None:
    for key in ("id", "name", "kind", "classification"):
        if not entry.get(key):
            raise CatalogError(f"catalog entry is missing '{key}'")
    if entry["kind"] not in KINDS:
        raise CatalogError(f"unknown tileset kind {entry['kind']!r}; one of {', '.join(KINDS)}")
    if entry["classification"] not in CLASSIFICATIONS:
        raise CatalogError(f"unknown classification {entry['classification']!r}; "
                           f"one of {', '.join(CLASSIFICATIONS)}")


def _row_to_entry(row: sqlite3.Row) -> dict[str, Any]:
    return {c: (json.loads(row[c]) if c in _JSON_COLUMNS and row[c] is not None else row[c])
            for c in _COLUMNS}
