"""The embedded MetricStore: one SQLite file in WAL mode (or in memory for ``memory://``).

One connection guarded by a lock: SQLite serialises writers anyway, and reads are short.
WAL with ``synchronous=NORMAL``: a batch is in the WAL file before the API acknowledges it,
so it survives ``kill -9`` of the server (tested); an operating-system crash or power cut
may lose the last transactions before the next checkpoint (WAL stays consistent).
"""
from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from server.metrics.sql_store import Dialect, SqlMetricStore

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS sensors (id TEXT PRIMARY KEY, name TEXT NOT NULL,
       kind TEXT NOT NULL, classification TEXT NOT NULL, lon REAL, lat REAL, height REAL,
       feature_type TEXT, feature_id TEXT, feature_layer TEXT)""",
    """CREATE TABLE IF NOT EXISTS datastreams (id TEXT PRIMARY KEY, sensor_id TEXT NOT NULL
       REFERENCES sensors (id), metric TEXT NOT NULL, unit TEXT NOT NULL,
       classification TEXT NOT NULL, sampling_s REAL, warning REAL, alarm REAL)""",
    "CREATE INDEX IF NOT EXISTS datastreams_sensor ON datastreams (sensor_id, metric)",
    """CREATE TABLE IF NOT EXISTS observations (datastream TEXT NOT NULL, time_ms INTEGER NOT NULL,
       value REAL NOT NULL, result_ms INTEGER NOT NULL, quality TEXT NOT NULL,
       PRIMARY KEY (datastream, time_ms)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS latest (datastream TEXT PRIMARY KEY, time_ms INTEGER NOT NULL,
       value REAL NOT NULL, result_ms INTEGER NOT NULL, quality TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS hourly (datastream TEXT NOT NULL, hour_ms INTEGER NOT NULL,
       total REAL NOT NULL, lo REAL NOT NULL, hi REAL NOT NULL, n INTEGER NOT NULL,
       PRIMARY KEY (datastream, hour_ms)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS rules (id INTEGER PRIMARY KEY AUTOINCREMENT,
       datastream TEXT NOT NULL, condition TEXT NOT NULL, threshold REAL NOT NULL,
       hysteresis REAL NOT NULL, for_s REAL NOT NULL, level TEXT NOT NULL, name TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS rules_datastream ON rules (datastream)",
    """CREATE TABLE IF NOT EXISTS rule_state (rule_id INTEGER PRIMARY KEY, pending_ms INTEGER,
       alarm_id INTEGER, last_ms INTEGER)""",
    """CREATE TABLE IF NOT EXISTS alarms (id INTEGER PRIMARY KEY AUTOINCREMENT,
       rule_id INTEGER NOT NULL, datastream TEXT NOT NULL, level TEXT NOT NULL,
       condition TEXT NOT NULL, threshold REAL NOT NULL, hysteresis REAL NOT NULL,
       for_s REAL NOT NULL, raised_ms INTEGER NOT NULL, raised_value REAL NOT NULL,
       cleared_ms INTEGER, last_value REAL, last_ms INTEGER, ack_by TEXT, ack_ms INTEGER,
       ack_note TEXT)""",
    "CREATE INDEX IF NOT EXISTS alarms_raised ON alarms (raised_ms)",
    """CREATE TABLE IF NOT EXISTS alarm_events (id INTEGER PRIMARY KEY AUTOINCREMENT,
       alarm_id INTEGER NOT NULL, event TEXT NOT NULL, at_ms INTEGER NOT NULL, value REAL,
       by_name TEXT, note TEXT)""",
    "CREATE INDEX IF NOT EXISTS alarm_events_at ON alarm_events (at_ms)",
)
DIALECT = Dialect(placeholder="?", begin="BEGIN IMMEDIATE", least="min", greatest="max",
                  lock_rows="", json_texts="json_each(?)")


class SqliteMetricStore(SqlMetricStore):
    """Metrics in ``path`` (None: an in-memory database)."""

    dialect = DIALECT

    def __init__(self, path: Path | None):
        self.path = None if path is None else Path(path)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(":memory:" if self.path is None else self.path, timeout=30,
                                   isolation_level=None, check_same_thread=False)
        self._lock = threading.RLock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        for statement in SCHEMA:
            self._db.execute(statement)

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._db

    def close(self) -> None:
        with self._lock:
            try:
                self._db.close()
            except sqlite3.Error:
                pass
