"""MetricsBus: numbers stream events in one total order and fills each process's buffer.

``memory://`` (default): one process; numbers start from the start time (ms x 1000) so ids
keep growing across restarts and an id from before a restart is detected, never misread.
``redis://host:port/db``: several server workers; see server.metrics.redis_bus.
:data:`BUS_BACKENDS` is the registry the config validation reads its schemes from.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from server.metrics.errors import MetricError
from server.metrics.fanout import DEFAULT_CAPACITY, Outgoing, StreamBuffer, make_event


class MetricsBus(Protocol):
    buffer: StreamBuffer

    def check_ready(self) -> None: ...  # raises BusUnavailable when it cannot take more
    def publish(self, events: list[Outgoing]) -> None: ...
    def close(self) -> None: ...


class MemoryBus:
    """In-process: publishing appends to this process's buffer."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY):
        self._seq = int(time.time() * 1000) * 1000
        self.buffer = StreamBuffer(capacity, start=self._seq)
        self._lock = threading.Lock()

    def check_ready(self) -> None:
        """Always ready: publishing is an append to this process's buffer."""

    def publish(self, events: list[Outgoing]) -> None:
        with self._lock:
            base, self._seq = self._seq + 1, self._seq + len(events)
            self.buffer.append([make_event(base + i, name, data, attrs)
                                for i, (name, data, attrs) in enumerate(events)])

    def close(self) -> None:
        self.buffer.close()


def _open_memory(url: str, capacity: int) -> MetricsBus:
    return MemoryBus(capacity)


def _open_redis(url: str, capacity: int) -> MetricsBus:
    # redis-py is a server-deployment dependency: imported only when this bus is chosen.
    from server.metrics.redis_bus import RedisBus
    return RedisBus(url, capacity)


#: URL scheme -> opener(url, replay capacity).
BUS_BACKENDS: dict[str, Callable[[str, int], MetricsBus]] = {
    "memory": _open_memory, "redis": _open_redis}


def open_bus(url: str, capacity: int = DEFAULT_CAPACITY) -> MetricsBus:
    scheme = url.partition("://")[0]
    if "://" not in url or scheme not in BUS_BACKENDS:
        raise MetricError(f"metrics.bus_url {url!r} is not supported; use one of: "
                          + ", ".join(f"{s}://" for s in BUS_BACKENDS))
    return BUS_BACKENDS[scheme](url, capacity)
