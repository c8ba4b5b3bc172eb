"""The server MetricStore: PostgreSQL through psycopg 3, a small connection pool.

Same statements as SQLite (server.metrics.sql_store); rule state rows are locked with
``FOR UPDATE`` inside the write transaction so several server workers evaluate alarms
consistently. Commits are synchronous (the server default), so acknowledged data is durable.
"""
from __future__ import annotations

import json
import queue
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from server.metrics.errors import MetricError
from server.metrics.observation import Observation
from server.metrics.sql_store import Dialect, SqlMetricStore

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS sensors (id TEXT PRIMARY KEY, name TEXT NOT NULL,
       kind TEXT NOT NULL, classification TEXT NOT NULL, lon DOUBLE PRECISION,
       lat DOUBLE PRECISION, height DOUBLE PRECISION, feature_type TEXT, feature_id TEXT,
       feature_layer TEXT)""",
    """CREATE TABLE IF NOT EXISTS datastreams (id TEXT PRIMARY KEY, sensor_id TEXT NOT NULL
       REFERENCES sensors (id), metric TEXT NOT NULL, unit TEXT NOT NULL,
       classification TEXT NOT NULL, sampling_s DOUBLE PRECISION, warning DOUBLE PRECISION,
       alarm DOUBLE PRECISION)""",
    "CREATE INDEX IF NOT EXISTS datastreams_sensor ON datastreams (sensor_id, metric)",
    """CREATE TABLE IF NOT EXISTS observations (datastream TEXT NOT NULL, time_ms BIGINT NOT NULL,
       value DOUBLE PRECISION NOT NULL, result_ms BIGINT NOT NULL, quality TEXT NOT NULL,
       PRIMARY KEY (datastream, time_ms))""",
    "CREATE INDEX IF NOT EXISTS observations_time ON observations (time_ms)",
    """CREATE TABLE IF NOT EXISTS latest (datastream TEXT PRIMARY KEY, time_ms BIGINT NOT NULL,
       value DOUBLE PRECISION NOT NULL, result_ms BIGINT NOT NULL, quality TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS hourly (datastream TEXT NOT NULL, hour_ms BIGINT NOT NULL,
       total DOUBLE PRECISION NOT NULL, lo DOUBLE PRECISION NOT NULL,
       hi DOUBLE PRECISION NOT NULL, n BIGINT NOT NULL, PRIMARY KEY (datastream, hour_ms))""",
    """CREATE TABLE IF NOT EXISTS rules (id BIGSERIAL PRIMARY KEY, datastream TEXT NOT NULL,
       condition TEXT NOT NULL, threshold DOUBLE PRECISION NOT NULL,
       hysteresis DOUBLE PRECISION NOT NULL, for_s DOUBLE PRECISION NOT NULL,
       level TEXT NOT NULL, name TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS rules_datastream ON rules (datastream)",
    """CREATE TABLE IF NOT EXISTS rule_state (rule_id BIGINT PRIMARY KEY, pending_ms BIGINT,
       alarm_id BIGINT, last_ms BIGINT)""",
    """CREATE TABLE IF NOT EXISTS alarms (id BIGSERIAL PRIMARY KEY, rule_id BIGINT NOT NULL,
       datastream TEXT NOT NULL, level TEXT NOT NULL, condition TEXT NOT NULL,
       threshold DOUBLE PRECISION NOT NULL, hysteresis DOUBLE PRECISION NOT NULL,
       for_s DOUBLE PRECISION NOT NULL, raised_ms BIGINT NOT NULL,
       raised_value DOUBLE PRECISION NOT NULL, cleared_ms BIGINT, last_value DOUBLE PRECISION,
       last_ms BIGINT, ack_by TEXT, ack_ms BIGINT, ack_note TEXT)""",
    "CREATE INDEX IF NOT EXISTS alarms_raised ON alarms (raised_ms)",
    """CREATE TABLE IF NOT EXISTS alarm_events (id BIGSERIAL PRIMARY KEY, alarm_id BIGINT NOT NULL,
       event TEXT NOT NULL, at_ms BIGINT NOT NULL, value DOUBLE PRECISION, by_name TEXT,
       note TEXT)""",
    "CREATE INDEX IF NOT EXISTS alarm_events_at ON alarm_events (at_ms)",
)
DIALECT = Dialect(placeholder="%s", begin="BEGIN", least="LEAST", greatest="GREATEST",
                  lock_rows=" FOR UPDATE OF s",
                  json_texts="json_array_elements_text(?::json) AS j(value)")
#: Schema creation is serialised across workers starting at once (any fixed key).
_SCHEMA_LOCK = 7340512


_OBS_COLUMNS = ("e->>0, (e->>1)::bigint, (e->>2)::float8, (e->>3)::bigint, e->>4")


def _json_rows(rows: list[tuple]) -> str:
    return json.dumps(rows, ensure_ascii=False, separators=(",", ":"))


class _Session:
    """A connection with sqlite3's shape: execute/executemany return the cursor."""

    def __init__(self, db: psycopg.Connection):
        self.db = db

    def execute(self, sql: str, params: tuple | list = ()) -> psycopg.Cursor:
        return self.db.execute(sql, params or None)

    def executemany(self, sql: str, rows: list) -> psycopg.Cursor:
        cursor = self.db.cursor()
        cursor.executemany(sql, rows)
        return cursor


class PostgresMetricStore(SqlMetricStore):
    """Metrics in the PostgreSQL database at ``url`` (password from PGPASSWORD or the URL)."""

    dialect = DIALECT

    def __init__(self, url: str, pool_size: int = 4):
        self.url = url
        self._pool: queue.Queue = queue.Queue()
        self._size = pool_size
        self._made = 0
        with self._connection() as db:
            db.execute("SELECT pg_advisory_lock(%s)", (_SCHEMA_LOCK,))
            try:
                for statement in SCHEMA:
                    db.execute(statement)
            finally:
                db.execute("SELECT pg_advisory_unlock(%s)", (_SCHEMA_LOCK,))

    # Whole batches as one JSON parameter: one statement per table instead of a row each
    # (psycopg's executemany costs ~30 µs of Python per row and array parameters ~15 µs;
    # json.dumps is C, and the server unpacks the rows).
    def _insert_new(self, db: _Session, observations: list[Observation],
                    rows: list[tuple]) -> list[Observation]:
        inserted = db.execute(f"""INSERT INTO observations (datastream, time_ms, value, result_ms,
            quality) SELECT {_OBS_COLUMNS} FROM json_array_elements(%s::json) e
            ON CONFLICT (datastream, time_ms) DO NOTHING RETURNING datastream, time_ms""",
            (_json_rows(rows),)).fetchall()
        if len(inserted) == len(rows):
            return observations
        fresh = set(inserted)
        new = []
        for o in observations:  # a key twice in one batch: the first one counts
            key = (o.datastream, o.time_ms)
            if key in fresh:
                fresh.discard(key)
                new.append(o)
        return new

    def _upsert_latest(self, db: _Session, rows: list[tuple]) -> None:
        db.execute(f"""INSERT INTO latest (datastream, time_ms, value, result_ms, quality)
            SELECT {_OBS_COLUMNS} FROM json_array_elements(%s::json) e
            ON CONFLICT (datastream) DO UPDATE SET time_ms = excluded.time_ms,
            value = excluded.value, result_ms = excluded.result_ms, quality = excluded.quality
            WHERE excluded.time_ms > latest.time_ms""", (_json_rows(rows),))

    def _update_rule_states(self, db: _Session, updates: list[tuple]) -> None:
        db.execute("""UPDATE rule_state s SET pending_ms = (e->>0)::bigint,
            alarm_id = (e->>1)::bigint, last_ms = (e->>2)::bigint
            FROM json_array_elements(%s::json) e WHERE s.rule_id = (e->>3)::bigint""",
                   (_json_rows(updates),))

    def _connect(self) -> psycopg.Connection:
        try:
            return psycopg.connect(self.url, autocommit=True)
        except psycopg.OperationalError as exc:
            raise MetricError(f"cannot connect to metrics.store_url ({exc}); check the URL, "
                              "that PostgreSQL runs and PGPASSWORD") from None

    @contextmanager
    def _connection(self) -> Iterator[_Session]:
        try:
            db = self._pool.get_nowait()
        except queue.Empty:
            if self._made < self._size:
                self._made += 1
                db = self._connect()
            else:
                db = self._pool.get()
        broken = False
        try:
            yield _Session(db)
        except psycopg.OperationalError:
            broken = True
            raise
        finally:
            if broken or db.closed:
                self._made -= 1
                db.close()
            else:
                self._pool.put(db)

    def close(self) -> None:
        while True:
            try:
                self._pool.get_nowait().close()
            except queue.Empty:
                return
