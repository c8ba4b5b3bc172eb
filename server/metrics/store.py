"""MetricStore: where sensors, observations and alarms live. Backends by URL scheme.

``sqlite://metrics.sqlite`` (embedded default, WAL, under the data dir), ``memory://``
(the same SQLite store without a file: tests, demos without a disk) and
``postgresql://user@host/db`` (the server backend; psycopg is imported only when used).
Every backend passes one contract suite (tests/server/test_metrics_contract.py).
:data:`STORE_BACKENDS` is the registry the config validation reads its schemes from.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from server.metrics.alarms import Rule
from server.metrics.errors import MetricError
from server.metrics.model import Datastream, Sensor
from server.metrics.observation import Observation
from server.metrics.sqlite_store import SqliteMetricStore


class MetricStore(Protocol):
    """The contract (see :class:`server.metrics.sql_store.SqlMetricStore` for details)."""

    def put_sensors(self, items: list[tuple[Sensor, list[Datastream]]]) -> None: ...
    def sensors(self) -> tuple[list[Sensor], list[Datastream]]: ...
    def write(self, observations: list[Observation]) -> Any: ...
    def latest(self, levels: set[str]) -> list[dict[str, Any]]: ...
    def history(self, datastream: str, start_ms: int, end_ms: int,
                bucket_s: int | None = None) -> list[dict[str, Any]]: ...
    def export_rows(self, datastreams: list[str], start_ms: int,
                    end_ms: int) -> Iterator[tuple]: ...
    def compact(self, before_ms: int) -> int: ...
    def add_rule(self, rule: Rule) -> Rule: ...
    def rules(self, datastream: str | None = None) -> list[Rule]: ...
    def delete_rule(self, rule_id: int) -> bool: ...
    def alarms(self, levels: set[str], *, open_only: bool, start_ms: int | None = None,
               end_ms: int | None = None, alarm_id: int | None = None) -> list[dict]: ...
    def alarm_log(self, levels: set[str], start_ms: int, end_ms: int) -> list[dict]: ...
    def acknowledge(self, alarm_id: int, by: str, note: str, now_ms: int) -> bool: ...
    def close(self) -> None: ...


def _open_memory(rest: str, data_dir: Path) -> MetricStore:
    return SqliteMetricStore(None)


def _open_sqlite(rest: str, data_dir: Path) -> MetricStore:
    if not rest:
        raise MetricError("metrics.store_url 'sqlite://' needs a file, e.g. sqlite://metrics.sqlite")
    path = Path(rest)
    return SqliteMetricStore(path if path.is_absolute() else Path(data_dir) / path)


def _open_postgresql(rest: str, data_dir: Path) -> MetricStore:
    # psycopg is a server-deployment dependency: imported only when this backend is chosen.
    from server.metrics.pg_store import PostgresMetricStore
    return PostgresMetricStore("postgresql://" + rest)


#: URL scheme -> opener(rest_of_url, data_dir).
STORE_BACKENDS: dict[str, Callable[[str, Path], MetricStore]] = {
    "memory": _open_memory, "sqlite": _open_sqlite, "postgresql": _open_postgresql}


def open_store(url: str, data_dir: Path) -> MetricStore:
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in STORE_BACKENDS:
        raise MetricError(f"metrics.store_url {url!r} is not supported; use one of: "
                          + ", ".join(f"{s}://" for s in STORE_BACKENDS))
    return STORE_BACKENDS[scheme](rest, data_dir)
