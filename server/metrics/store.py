"""MetricStore: where observations live. Backends are chosen by URL scheme.

"memory://" (tests, demos without a disk) and "sqlite://metrics.sqlite" (the embedded
default, WAL, under the data dir). A PostgreSQL backend would register "postgresql".
Every backend passes the same contract test (tests/server/test_metrics_contract.py).
"""
from __future__ import annotations

import bisect
import threading
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol

from server.metrics.errors import MetricError
from server.metrics.observation import Observation, format_time

#: Raw points returned by one history query without a bucket.
MAX_POINTS = 10000


class MetricStore(Protocol):
    def add(self, observations: list[Observation]) -> None:
        """Store a validated batch, all or nothing."""

    def latest(self, sensor_id: str | None = None) -> list[Observation]:
        """The newest observation of every (sensor, metric), sorted by sensor, metric."""

    def history(self, sensor_id: str, metric: str, start_ms: int, end_ms: int,
                bucket_s: int | None = None) -> list[dict[str, Any]]:
        """Points in [start, end], oldest first: raw {time, value} or per bucket
        {time (bucket start), value (mean), min, max, count}."""

    def prune(self, before_ms: int) -> int:
        """Delete raw observations older than ``before_ms`` (latest values stay)."""

    def close(self) -> None:
        """Release connections."""


def bucket_points(rows: Iterable[tuple[int, float]], bucket_s: int) -> list[dict[str, Any]]:
    """Aggregate (time_ms, value) rows, oldest first, into fixed buckets."""
    size = bucket_s * 1000
    out: list[dict[str, Any]] = []
    for time_ms, value in rows:
        start = time_ms - time_ms % size
        if out and out[-1]["_start"] == start:
            point = out[-1]
            point["_sum"] += value
            point["count"] += 1
            point["min"], point["max"] = min(point["min"], value), max(point["max"], value)
        else:
            out.append({"_start": start, "_sum": value, "count": 1, "min": value, "max": value})
    return [{"time": format_time(p["_start"]), "value": p["_sum"] / p["count"], "min": p["min"],
             "max": p["max"], "count": p["count"]} for p in out]


def check_range(start_ms: int, end_ms: int, bucket_s: int | None, points: int) -> None:
    """Refuse a raw query that would return too many points: ask for a bucket."""
    if end_ms < start_ms:
        raise MetricError("'to' is before 'from'", field="to")
    if bucket_s is not None and bucket_s < 1:
        raise MetricError("bucket must be a positive number of seconds", field="bucket")
    if bucket_s is None and points > MAX_POINTS:
        raise MetricError(f"{points} points in that range; narrow it or pass bucket=<seconds> "
                          f"(at most {MAX_POINTS} raw points)", field="bucket")


class MemoryMetricStore:
    """In-process store: per (sensor, metric) a time-sorted list. For tests and demos."""

    def __init__(self) -> None:
        self._series: dict[tuple[str, str], list[tuple[int, int, Observation]]] = {}
        self._lock = threading.Lock()
        self._seq = 0

    def add(self, observations: list[Observation]) -> None:
        with self._lock:
            for obs in observations:
                self._seq += 1
                series = self._series.setdefault((obs.sensor_id, obs.metric), [])
                bisect.insort(series, (obs.time_ms, self._seq, obs), key=lambda t: t[:2])

    def latest(self, sensor_id: str | None = None) -> list[Observation]:
        with self._lock:
            return [series[-1][2] for key, series in sorted(self._series.items())
                    if series and (sensor_id is None or key[0] == sensor_id)]

    def history(self, sensor_id: str, metric: str, start_ms: int, end_ms: int,
                bucket_s: int | None = None) -> list[dict[str, Any]]:
        with self._lock:
            series = list(self._series.get((sensor_id, metric), []))
        lo = bisect.bisect_left(series, start_ms, key=lambda t: t[0])
        hi = bisect.bisect_right(series, end_ms, key=lambda t: t[0])
        check_range(start_ms, end_ms, bucket_s, hi - lo)
        rows = [(t, obs.value) for t, _, obs in series[lo:hi]]
        if bucket_s:
            return bucket_points(rows, bucket_s)
        return [{"time": format_time(t), "value": v} for t, v in rows]

    def prune(self, before_ms: int) -> int:
        removed = 0
        with self._lock:
            for key, series in self._series.items():
                cut = bisect.bisect_left(series, before_ms, key=lambda t: t[0])
                cut = min(cut, len(series) - 1)  # keep the latest value of every series
                removed += max(cut, 0)
                self._series[key] = series[max(cut, 0):]
        return removed

    def close(self) -> None:
        pass


def _open_memory(rest: str, data_dir: Path) -> MetricStore:
    return MemoryMetricStore()


def _open_sqlite(rest: str, data_dir: Path) -> MetricStore:
    from server.metrics.sqlite_store import SqliteMetricStore
    if not rest:
        raise MetricError("metrics.store_url 'sqlite://' needs a file, e.g. sqlite://metrics.sqlite")
    path = Path(rest)
    return SqliteMetricStore(path if path.is_absolute() else Path(data_dir) / path)


#: URL scheme -> opener(rest_of_url, data_dir).
STORE_BACKENDS: dict[str, Callable[[str, Path], MetricStore]] = {
    "memory": _open_memory, "sqlite": _open_sqlite}


def open_store(url: str, data_dir: Path) -> MetricStore:
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in STORE_BACKENDS:
        raise MetricError(f"metrics.store_url {url!r} is not supported; use one of: "
                          + ", ".join(f"{s}://" for s in STORE_BACKENDS))
    return STORE_BACKENDS[scheme](rest, data_dir)
