"""The SQL MetricStore shared by SQLite and PostgreSQL: one set of statements, a dialect.

Tables: ``sensors``, ``datastreams``; ``observations`` keyed by (datastream, time_ms), so a
re-sent reading is a no-op (first write wins); ``latest`` (newest per datastream);
``hourly`` (sum/min/max/count per datastream and hour, filled by :meth:`compact` from raw
rows older than the retention, incrementally: each run moves only rows past the cutoff,
in the same transaction that deletes them); and the alarm tables (see sql_alarms.py).
Statements use ``?``; the dialect rewrites them for its driver.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from server.metrics.model import Datastream, Sensor
from server.metrics.observation import Observation, format_time
from server.metrics.series import (
    HOUR_MS,
    MAX_POINTS,
    check_range,
    merge_buckets,
    too_many,
)
from server.metrics.sql_alarms import AlarmTables


@dataclass
class Dialect:
    placeholder: str  # "?" or "%s"
    begin: str  # the statement opening a write transaction
    least: str  # two-argument minimum function
    greatest: str
    lock_rows: str  # suffix that locks selected rows until commit ("" when BEGIN locks all)
    json_texts: str  # table function: the strings of a JSON array parameter, as ``value``

    def sql(self, text: str) -> str:
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)


@dataclass
class WriteResult:
    """What one batch did: the new observations (duplicates skipped) and alarm events."""

    new: list[Observation]
    duplicates: int
    alarm_events: list[dict[str, Any]] = field(default_factory=list)


_INSERT_OBS = ("INSERT INTO observations (datastream, time_ms, value, result_ms, quality) "
               "VALUES (?, ?, ?, ?, ?) ON CONFLICT (datastream, time_ms) DO NOTHING")
_UPSERT_LATEST = """INSERT INTO latest (datastream, time_ms, value, result_ms, quality)
    VALUES (?, ?, ?, ?, ?) ON CONFLICT (datastream) DO UPDATE SET time_ms = excluded.time_ms,
    value = excluded.value, result_ms = excluded.result_ms, quality = excluded.quality
    WHERE excluded.time_ms > latest.time_ms"""
_SENSOR_COLS = ("id, name, kind, classification, lon, lat, height, feature_type, feature_id, "
                "feature_layer")


class SqlMetricStore(AlarmTables):
    """Subclasses give ``dialect`` and ``_connection()`` (a context manager)."""

    dialect: Dialect

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        raise NotImplementedError

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        with self._connection() as db:
            db.execute(self.dialect.begin)
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _rows(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        with self._connection() as db:
            return list(db.execute(self.dialect.sql(sql), params).fetchall())

    # -- registry ---------------------------------------------------------------------
    def put_sensors(self, items: list[tuple[Sensor, list[Datastream]]]) -> None:
        """Insert or update sensors and their datastreams (all or nothing); a sensor's
        classification is copied to all its datastreams."""
        q = self.dialect.sql
        cols = _SENSOR_COLS.split(", ")
        upsert = (f"INSERT INTO sensors ({_SENSOR_COLS}) VALUES ({', '.join('?' * len(cols))})"
                  " ON CONFLICT (id) DO UPDATE SET "
                  + ", ".join(f"{c} = excluded.{c}" for c in cols[1:]))
        ds_upsert = """INSERT INTO datastreams (id, sensor_id, metric, unit, classification,
            sampling_s, warning, alarm) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id)
            DO UPDATE SET sensor_id = excluded.sensor_id, metric = excluded.metric,
            unit = excluded.unit, classification = excluded.classification,
            sampling_s = excluded.sampling_s, warning = excluded.warning,
            alarm = excluded.alarm"""
        with self._transaction() as db:
            for sensor, streams in items:
                db.execute(q(upsert), tuple(getattr(sensor, c) for c in cols))
                db.execute(q("UPDATE datastreams SET classification = ? WHERE sensor_id = ?"),
                           (sensor.classification, sensor.id))
                for d in streams:
                    db.execute(q(ds_upsert), (d.id, d.sensor_id, d.metric, d.unit,
                                              d.classification, d.sampling_s,
                                              d.thresholds.get("warning"),
                                              d.thresholds.get("alarm")))

    def sensors(self) -> tuple[list[Sensor], list[Datastream]]:
        sensors = [Sensor(*row) for row in self._rows(
            f"SELECT {_SENSOR_COLS} FROM sensors ORDER BY id")]
        streams = []
        for row in self._rows("SELECT id, sensor_id, metric, unit, classification, sampling_s,"
                              " warning, alarm FROM datastreams ORDER BY id"):
            levels = {k: v for k, v in (("warning", row[6]), ("alarm", row[7])) if v is not None}
            streams.append(Datastream(*row[:6], thresholds=levels))
        return sensors, streams

    # -- observations -----------------------------------------------------------------
    def write(self, observations: list[Observation]) -> WriteResult:
        """Store a validated batch in one transaction: new readings, latest values and
        the alarm state they cause. Readings already stored (same datastream and
        phenomenon time) are skipped and counted; the first value is kept."""
        rows = [(o.datastream, o.time_ms, o.value, o.result_ms, o.quality) for o in observations]
        with self._transaction() as db:
            new = self._insert_new(db, observations, rows)
            newest: dict[str, Observation] = {}
            for o in new:
                if o.datastream not in newest or o.time_ms > newest[o.datastream].time_ms:
                    newest[o.datastream] = o
            if newest:
                self._upsert_latest(db, [(o.datastream, o.time_ms, o.value, o.result_ms,
                                          o.quality) for o in newest.values()])
            events = self._evaluate_rules(db, new) if new else []
        return WriteResult(new, len(observations) - len(new), events)

    def _insert_new(self, db: Any, observations: list[Observation],
                    rows: list[tuple]) -> list[Observation]:
        """Insert, skipping stored keys; returns the observations that were new."""
        q = self.dialect.sql
        db.execute("SAVEPOINT batch")
        stored = db.executemany(q(_INSERT_OBS), rows).rowcount
        if stored == len(rows):
            new = observations
        elif stored == 0:
            new = []
        else:  # some were there already: find which, one by one
            db.execute("ROLLBACK TO SAVEPOINT batch")
            new = [o for o, row in zip(observations, rows)
                   if db.execute(q(_INSERT_OBS), row).rowcount == 1]
        db.execute("RELEASE SAVEPOINT batch")
        return new

    def _upsert_latest(self, db: Any, rows: list[tuple]) -> None:
        db.executemany(self.dialect.sql(_UPSERT_LATEST), rows)

    def _update_rule_states(self, db: Any, updates: list[tuple]) -> None:
        db.executemany(self.dialect.sql("UPDATE rule_state SET pending_ms = ?, alarm_id = ?, "
                                        "last_ms = ? WHERE rule_id = ?"), updates)

    def latest(self, levels: set[str]) -> list[dict[str, Any]]:
        """Newest reading of every visible datastream, sorted by datastream id."""
        marks = ", ".join("?" * len(levels)) or "NULL"
        rows = self._rows(f"""SELECT l.datastream, l.time_ms, l.value, l.result_ms, l.quality
            FROM latest l JOIN datastreams d ON d.id = l.datastream
            WHERE d.classification IN ({marks}) ORDER BY l.datastream""", tuple(sorted(levels)))
        return [{"datastream": r[0], "time_ms": r[1], "value": r[2], "result_ms": r[3],
                 "quality": r[4]} for r in rows]

    def history(self, datastream: str, start_ms: int, end_ms: int,
                bucket_s: int | None = None) -> list[dict[str, Any]]:
        """Points in [start, end], oldest first: raw ``{time, value, quality}``, or per
        bucket ``{time (bucket start), value (mean), min, max, count}``. Hours already
        compacted come from the hourly aggregates (as bucket points in a raw query)."""
        check_range(start_ms, end_ms, bucket_s)
        params = (datastream, start_ms, end_ms)
        hour_start = start_ms - start_ms % HOUR_MS
        if bucket_s:
            size = int(bucket_s) * 1000
            raw = self._rows(f"""SELECT (time_ms / {size}) * {size} AS b, sum(value),
                min(value), max(value), count(*) FROM observations WHERE datastream = ? AND
                time_ms BETWEEN ? AND ? GROUP BY b""", params)
            hourly = self._rows(f"""SELECT (hour_ms / {size}) * {size} AS b, sum(total),
                min(lo), max(hi), sum(n) FROM hourly WHERE datastream = ? AND
                hour_ms BETWEEN ? AND ? GROUP BY b""", (datastream, hour_start, end_ms))
            return merge_buckets(raw + hourly)
        count = self._rows("SELECT count(*) FROM observations WHERE datastream = ? AND "
                           "time_ms BETWEEN ? AND ?", params)[0][0]
        if count > MAX_POINTS:
            raise too_many(count)
        hourly = merge_buckets(self._rows(
            "SELECT hour_ms, total, lo, hi, n FROM hourly WHERE datastream = ? AND "
            "hour_ms BETWEEN ? AND ?", (datastream, hour_start, end_ms)))
        raw = [{"time": format_time(t), "value": v, "quality": qf} for t, v, qf in self._rows(
            "SELECT time_ms, value, quality FROM observations WHERE datastream = ? AND "
            "time_ms BETWEEN ? AND ? ORDER BY time_ms", params)]
        return sorted(hourly + raw, key=lambda p: p["time"])

    def export_rows(self, datastreams: list[str], start_ms: int, end_ms: int,
                    page: int = 5000) -> Iterator[tuple]:
        """Raw (datastream, time_ms, value, result_ms, quality) rows, by datastream and
        time, fetched in pages (bounded memory for a long export)."""
        for datastream in datastreams:
            after = start_ms - 1
            while True:
                rows = self._rows(f"""SELECT datastream, time_ms, value, result_ms, quality
                    FROM observations WHERE datastream = ? AND time_ms > ? AND time_ms <= ?
                    ORDER BY time_ms LIMIT {int(page)}""", (datastream, after, end_ms))
                yield from rows
                if len(rows) < page:
                    break
                after = rows[-1][1]

    def compact(self, before_ms: int) -> int:
        """Fold raw readings older than ``before_ms`` into hourly aggregates and delete
        them, in one transaction; returns how many raw readings were folded."""
        d = self.dialect
        with self._transaction() as db:
            db.execute(d.sql(f"""INSERT INTO hourly (datastream, hour_ms, total, lo, hi, n)
                SELECT datastream, (time_ms / {HOUR_MS}) * {HOUR_MS} AS h, sum(value),
                min(value), max(value), count(*) FROM observations WHERE time_ms < ?
                GROUP BY datastream, h ON CONFLICT (datastream, hour_ms) DO UPDATE SET
                total = hourly.total + excluded.total, lo = {d.least}(hourly.lo, excluded.lo),
                hi = {d.greatest}(hourly.hi, excluded.hi), n = hourly.n + excluded.n"""),
                       (before_ms,))
            return db.execute(d.sql("DELETE FROM observations WHERE time_ms < ?"),
                              (before_ms,)).rowcount
