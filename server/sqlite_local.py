"""One SQLite connection per thread to a server database file (catalog, accounts, audit).

Connections are autocommit (``isolation_level=None``: callers open their own
transactions), wait up to 30 s for a lock, and return rows by column name.
"""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


class ThreadLocalConnections:
    """``connect()`` gives this thread's connection to ``path``, opened on first use."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._local = threading.local()

    def connect(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.row_factory = sqlite3.Row
            self._local.db = db
        return db

    @classmethod
    def with_schema(cls, path: Path, schema: str) -> "ThreadLocalConnections":
        """Connections to ``path`` (its folder made), in WAL mode, ``schema`` applied."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        connections = cls(path)
        db = connections.connect()
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(schema)
        return connections
