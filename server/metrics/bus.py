"""MetricsBus: fan-out of observations and alarms to live subscribers (SSE clients).

Every subscriber has its own bounded queue; a slow client loses its oldest messages
(counted in ``dropped``) instead of slowing ingest or the other clients. "memory://"
delivers within one process. A "redis://" backend would PUBLISH to a channel and run
one listener thread per process that feeds the same :class:`Fanout`, so several server
workers share one stream; it registers in :data:`BUS_BACKENDS`.
"""
from __future__ import annotations

import collections
import threading
from typing import Any, Callable, Protocol

from server.metrics.errors import MetricError

Message = tuple[str, dict[str, Any]]  # (event name, JSON data)
DEFAULT_QUEUE = 1000


class Subscription:
    """One subscriber's bounded queue; optionally only one sensor's messages."""

    def __init__(self, fanout: "Fanout", sensor_id: str | None, maxsize: int):
        self.sensor_id = sensor_id
        self.dropped = 0
        self._queue: collections.deque[Message] = collections.deque(maxlen=maxsize)
        self._ready = threading.Condition()
        self._fanout = fanout
        self.closed = False

    def offer(self, message: Message) -> None:
        """Queue a message (dropping the oldest when full); never blocks the publisher."""
        if self.sensor_id is not None and message[1].get("sensor_id") != self.sensor_id:
            return
        with self._ready:
            if len(self._queue) == self._queue.maxlen:
                self.dropped += 1
            self._queue.append(message)
            self._ready.notify()

    def get(self, timeout: float | None = None) -> Message | None:
        """The next message, or None when ``timeout`` seconds pass first (or closed)."""
        with self._ready:
            if not self._queue and not self.closed:
                self._ready.wait(timeout)
            return self._queue.popleft() if self._queue else None

    def close(self) -> None:
        self._fanout.remove(self)
        with self._ready:
            self.closed = True
            self._ready.notify_all()

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Fanout:
    """The subscribers of one process."""

    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()
        self._lock = threading.Lock()

    def add(self, sensor_id: str | None, maxsize: int) -> Subscription:
        subscription = Subscription(self, sensor_id, maxsize)
        with self._lock:
            self._subscribers.add(subscription)
        return subscription

    def remove(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscribers.discard(subscription)

    def deliver(self, message: Message) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for subscription in subscribers:
            subscription.offer(message)

    def count(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def close_all(self) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for subscription in subscribers:
            subscription.close()


class MetricsBus(Protocol):
    def publish(self, event: str, data: dict[str, Any]) -> None: ...
    def subscribe(self, sensor_id: str | None = None, maxsize: int = DEFAULT_QUEUE) -> Subscription: ...
    def subscribers(self) -> int: ...
    def close(self) -> None: ...


class MemoryBus:
    """In-process pub/sub (one server process)."""

    def __init__(self) -> None:
        self._fanout = Fanout()

    def publish(self, event: str, data: dict[str, Any]) -> None:
        self._fanout.deliver((event, data))

    def subscribe(self, sensor_id: str | None = None, maxsize: int = DEFAULT_QUEUE) -> Subscription:
        return self._fanout.add(sensor_id, maxsize)

    def subscribers(self) -> int:
        return self._fanout.count()

    def close(self) -> None:
        """Wake and end every subscriber (their streams finish)."""
        self._fanout.close_all()


#: URL scheme -> opener(url).
BUS_BACKENDS: dict[str, Callable[[str], MetricsBus]] = {"memory": lambda url: MemoryBus()}


def open_bus(url: str) -> MetricsBus:
    scheme = url.partition("://")[0]
    if "://" not in url or scheme not in BUS_BACKENDS:
        raise MetricError(f"metrics.bus_url {url!r} is not supported in this build; use one of: "
                          + ", ".join(f"{s}://" for s in BUS_BACKENDS))
    return BUS_BACKENDS[scheme](url)
