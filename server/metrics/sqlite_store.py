"""The embedded MetricStore: one SQLite file in WAL mode (readers never wait for ingest).

Raw readings go to ``observations`` (indexed by sensor, metric, time); ``latest`` keeps
the newest reading per (sensor, metric), so the map's first paint is one small query.
"""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

from server.metrics.observation import Observation, format_time
from server.metrics.store import bucket_points, check_range

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS observations (sensor_id TEXT NOT NULL, metric TEXT NOT NULL,
       time_ms INTEGER NOT NULL, value REAL NOT NULL, unit TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS observations_series ON observations (sensor_id, metric, time_ms)",
    "CREATE INDEX IF NOT EXISTS observations_time ON observations (time_ms)",
    """CREATE TABLE IF NOT EXISTS latest (sensor_id TEXT NOT NULL, metric TEXT NOT NULL,
       time_ms INTEGER NOT NULL, value REAL NOT NULL, unit TEXT NOT NULL,
       PRIMARY KEY (sensor_id, metric))""",
)
# Keep the newer reading when a late (older) one arrives.
_UPSERT_LATEST = """INSERT INTO latest (sensor_id, metric, time_ms, value, unit)
    VALUES (?, ?, ?, ?, ?) ON CONFLICT (sensor_id, metric) DO UPDATE SET
    time_ms = excluded.time_ms, value = excluded.value, unit = excluded.unit
    WHERE excluded.time_ms >= latest.time_ms"""


class SqliteMetricStore:
    """Observations in ``path`` (one connection per thread, WAL)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        db = self._db()
        db.execute("PRAGMA journal_mode=WAL")
        for statement in _SCHEMA:
            db.execute(statement)

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                 check_same_thread=False)
            db.execute("PRAGMA synchronous=NORMAL")  # safe with WAL, much faster commits
            self._local.db = db
            with self._lock:
                self._all.append(db)
        return db

    def add(self, observations: list[Observation]) -> None:
        rows = [(o.sensor_id, o.metric, o.time_ms, o.value, o.unit) for o in observations]
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany("INSERT INTO observations VALUES (?, ?, ?, ?, ?)", rows)
            db.executemany(_UPSERT_LATEST, rows)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def latest(self, sensor_id: str | None = None) -> list[Observation]:
        sql = "SELECT sensor_id, metric, value, unit, time_ms FROM latest"
        params: tuple = ()
        if sensor_id is not None:
            sql, params = sql + " WHERE sensor_id = ?", (sensor_id,)
        rows = self._db().execute(sql + " ORDER BY sensor_id, metric", params).fetchall()
        return [Observation(*row) for row in rows]

    def history(self, sensor_id: str, metric: str, start_ms: int, end_ms: int,
                bucket_s: int | None = None) -> list[dict[str, Any]]:
        db = self._db()
        where = "sensor_id = ? AND metric = ? AND time_ms BETWEEN ? AND ?"
        params = (sensor_id, metric, start_ms, end_ms)
        if bucket_s is None:
            count = db.execute(f"SELECT count(*) FROM observations WHERE {where}", params).fetchone()[0]
            check_range(start_ms, end_ms, None, count)
        else:
            check_range(start_ms, end_ms, bucket_s, 0)
        rows = db.execute(f"SELECT time_ms, value FROM observations WHERE {where} "
                          "ORDER BY time_ms, rowid", params)
        if bucket_s:
            return bucket_points(rows, bucket_s)
        return [{"time": format_time(t), "value": v} for t, v in rows]

    def prune(self, before_ms: int) -> int:
        return self._db().execute("DELETE FROM observations WHERE time_ms < ?",
                                  (before_ms,)).rowcount

    def close(self) -> None:
        with self._lock:
            for db in self._all:
                try:
                    db.close()
                except sqlite3.Error:
                    pass
            self._all.clear()
        self._local = threading.local()
