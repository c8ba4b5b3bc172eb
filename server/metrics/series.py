"""History helpers shared by the SQL stores: range checks and merging of bucket rows."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from server.metrics.errors import MetricError
from server.metrics.observation import format_time

#: Raw points returned by one history query without a bucket.
MAX_POINTS = 10000
HOUR_MS = 3600 * 1000


def check_range(start_ms: int, end_ms: int, bucket_s: int | None) -> None:
    if end_ms < start_ms:
        raise MetricError("'to' is before 'from'", field="to")
    if bucket_s is not None and bucket_s < 1:
        raise MetricError("bucket must be a positive number of seconds", field="bucket")


def too_many(points: int) -> MetricError:
    return MetricError(f"{points} points in that range; narrow it or pass bucket=<seconds> "
                       f"(at most {MAX_POINTS} raw points)", field="bucket")


def merge_buckets(rows: Iterable[tuple[int, float, float, float, int]]) -> list[dict[str, Any]]:
    """(bucket start ms, sum, min, max, count) rows, possibly repeated per start (raw and
    hourly parts of one bucket) -> one point per bucket, oldest first."""
    merged: dict[int, list] = {}
    for start, total, lo, hi, count in rows:
        total, count = float(total), int(count)  # PostgreSQL sums bigint as numeric
        point = merged.get(start)
        if point is None:
            merged[start] = [total, lo, hi, count]
        else:
            point[0] += total
            point[1], point[2] = min(point[1], lo), max(point[2], hi)
            point[3] += count
    return [{"time": format_time(start), "value": p[0] / p[3], "min": p[1], "max": p[2],
             "count": int(p[3])} for start, p in sorted(merged.items()) if p[3]]
