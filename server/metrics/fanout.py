"""The live stream of one server process: a replay buffer of numbered events and cursors.

Every event has a sequence number (its SSE ``id``), assigned by the bus in one total order
(across workers with Redis). The buffer keeps the last ``capacity`` events; a subscriber is
only a cursor (the last id it was sent) and a filter, so an idle viewer costs a few hundred
bytes and a slow one never slows the others: it reads on from its cursor. A cursor that
fell out of the buffer (or comes from another epoch) gets ``reset``, never a silent gap.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

DEFAULT_CAPACITY = 100_000


@dataclass(frozen=True, slots=True)
class Event:
    """One stream event: its number, SSE text, and what filters look at."""

    seq: int
    text: str
    datastream: str
    metric: str
    feature: str | None
    lon: float | None
    lat: float | None
    classification: str


#: The ``metric`` of a platform event (server.events) on the same bus: its ``datastream``
#: is the event type. Only an events stream sees them; a metrics stream never does.
EVENT_METRIC = "cimtwin.event"
#: What filters look at: (datastream, metric, feature id, lon, lat, classification).
Attrs = tuple
#: (event name, JSON data text, filter attributes) as the runtime publishes them.
Outgoing = tuple[str, str, Attrs]


def make_event(seq: int, name: str, data: str, attrs: Attrs) -> Event:
    """An event from its JSON ``data`` text and filter attributes."""
    return Event(seq, f"id: {seq}\nevent: {name}\ndata: {data}\n\n", *attrs)


@dataclass(frozen=True)
class StreamFilter:
    """What one subscriber may and wants to see (None: no restriction)."""

    levels: frozenset[str]
    datastreams: frozenset[str] | None = None
    metrics: frozenset[str] | None = None
    features: frozenset[str] | None = None
    bbox: tuple[float, float, float, float] | None = None  # west, south, east, north
    app_events: bool = False  # True: platform events (server.events), else metrics

    def matches(self, e: Event) -> bool:
        if e.classification not in self.levels or (e.metric == EVENT_METRIC) != self.app_events:
            return False
        if self.datastreams is not None and e.datastream not in self.datastreams:
            return False
        if self.metrics is not None and e.metric not in self.metrics:
            return False
        if self.features is not None and e.feature not in self.features:
            return False
        if self.bbox is not None:
            if e.lon is None:
                return False
            w, s, east, n = self.bbox
            return w <= e.lon <= east and s <= e.lat <= n
        return True


class Gap(Exception):
    """The cursor is older than the buffer (or from another epoch): the client must reset."""


class StreamBuffer:
    """Numbered events of this process, newest last, with a condition to wait on.

    ``head`` is the number of the newest event known; every event after ``floor`` is
    still buffered. Both start at the bus's current number (``start``).
    """

    def __init__(self, capacity: int = DEFAULT_CAPACITY, start: int = 0):
        self.capacity = capacity
        self._events: list[Event] = []
        self._ready = threading.Condition()
        self._texts: dict[tuple, bytes] = {}
        self.head = self.floor = start
        self.closed = False

    def append(self, events: list[Event]) -> None:
        if not events:
            return
        with self._ready:
            self._events.extend(events)
            self.head = events[-1].seq
            if len(self._events) > self.capacity * 1.25:
                cut = len(self._events) - self.capacity
                self.floor = self._events[cut - 1].seq
                del self._events[:cut]
            self._texts.clear()
            self._ready.notify_all()

    def restart_after(self, seq: int) -> None:
        """Forget every buffered event: events up to ``seq`` were missed by this process."""
        with self._ready:
            self._events.clear()
            self._texts.clear()
            self.head = self.floor = seq

    def wait(self, after: int, timeout: float) -> None:
        """Return when an event newer than ``after`` exists, the buffer closes, or later."""
        with self._ready:
            if self.head <= after and not self.closed:
                self._ready.wait(timeout)

    def read(self, after: int, flt: StreamFilter) -> tuple[int, bytes]:
        """(new cursor, SSE bytes of the matching events newer than ``after``), encoded once
        for every subscriber with the same filter and cursor.
        Raises :class:`Gap` when events after ``after`` are not all buffered here."""
        with self._ready:
            head = self.head
            if after > head:
                raise Gap(f"last id {after} is ahead of this server ({head}): it restarted")
            if after < self.floor:
                raise Gap(f"events after {after} are no longer buffered (from {self.floor + 1})")
            if after == head:
                return head, b""
            key = (flt, after, head)
            text = self._texts.get(key)
            if text is None:
                events = self._events
                text = "".join(e.text for e in events[self._index(after):]
                               if flt.matches(e)).encode()
                self._texts[key] = text
            return head, text

    def _index(self, after: int) -> int:
        """Position of the first event with seq > after (seqs increase, maybe with holes)."""
        events = self._events
        lo, hi = 0, len(events)
        while lo < hi:
            mid = (lo + hi) // 2
            if events[mid].seq <= after:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def close(self) -> None:
        with self._ready:
            self.closed = True
            self._ready.notify_all()
