"""The Redis bus: several server workers share one stream of numbered events.

Publishing runs one Lua script: take the next numbers (INCRBY) and append the batch to a
Redis stream (XADD, trimmed to about the replay capacity) in one atomic step, so every
worker sees the same events in the same order with the same ids. Each process runs one
listener thread (a greenlet under gevent) that reads the stream (XREAD BLOCK) into its
own :class:`StreamBuffer`; viewers of any worker get every event, and Last-Event-ID works
whichever worker a reconnect lands on. A lost connection is retried with backoff; events
missed meanwhile are read on from the last entry seen (or, if trimmed away, the buffer
restarts after them and the affected viewers get ``reset``).

Redis down or restarting: an acknowledged batch is already in the metrics store, so a
publish that cannot reach Redis is queued here, in order, and sent when Redis answers
again (by the next publish or the listener): viewers get every acknowledged reading late
instead of never. The queue is bounded (``replay_events``): when it is full, ingest is
refused before anything is stored (503, :class:`BusUnavailable`). A Redis that restarted
empty (no persistence) would number from 1 again: each publish carries the publisher's
newest number as a floor for the counter, so ids keep growing.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque

import redis

from server.metrics.errors import BusUnavailable, MetricError
from server.metrics.fanout import Outgoing, StreamBuffer, make_event

log = logging.getLogger(__name__)
SEQ_KEY, STREAM_KEY = "cimtwin:metrics:seq", "cimtwin:metrics:events"
_PUBLISH = """
local n, floor = tonumber(ARGV[1]), tonumber(ARGV[4])
if tonumber(redis.call('GET', KEYS[1]) or '0') < floor then
  redis.call('SET', KEYS[1], ARGV[4])
end
local last = redis.call('INCRBY', KEYS[1], n)
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'b', last - n + 1, 'p', ARGV[2])
return last
"""


class RedisBus:
    def __init__(self, url: str, capacity: int):
        self.url = url
        self._redis = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
        try:
            self._redis.set(SEQ_KEY, int(time.time() * 1000) * 1000, nx=True)
            last = self._redis.xrevrange(STREAM_KEY, count=1)
            start = int(self._redis.get(SEQ_KEY))
        except redis.RedisError as exc:
            raise MetricError(f"cannot reach metrics.bus_url {url} ({exc}); check that Redis "
                              "runs there") from None
        self._last_entry = last[0][0] if last else b"0-0"
        if last:
            fields = last[0][1]
            start = int(fields[b"b"]) + len(json.loads(fields[b"p"])) - 1
        self.buffer = StreamBuffer(capacity, start=start)
        self._capacity = capacity
        self._script = self._redis.register_script(_PUBLISH)
        self._pending: deque[tuple[int, str]] = deque()  # (events, payload) not yet in Redis
        self._pending_events = 0
        self._pending_lock = threading.Lock()
        self._retry_at = 0.0  # while Redis is down: no inline retry before this time
        self._stop = threading.Event()
        self._listener = threading.Thread(target=self._listen, name="cimtwin-redis-bus",
                                          daemon=True)
        self._listener.start()

    def check_ready(self) -> None:
        """Refuse new readings while the queue for an unreachable Redis is full."""
        if self._pending_events >= self._capacity:
            raise BusUnavailable(f"the live bus (Redis) has been unreachable for "
                                 f"{self._pending_events} readings; try again shortly")

    def publish(self, events: list[Outgoing]) -> None:
        payload = json.dumps([list(e) for e in events], ensure_ascii=False,
                             separators=(",", ":"))
        with self._pending_lock:
            self._pending.append((len(events), payload))
            self._pending_events += len(events)
        if time.monotonic() >= self._retry_at:
            self._flush()

    def _flush(self) -> None:
        """Send the queued batches to Redis in order; keep them while it is unreachable."""
        with self._pending_lock:
            while self._pending:
                count, payload = self._pending[0]
                try:
                    self._script(keys=[SEQ_KEY, STREAM_KEY],
                                 args=[count, payload, self._capacity, self.buffer.head])
                except redis.RedisError as exc:
                    if not self._retry_at:
                        log.warning("metrics bus: Redis unreachable (%s); %d readings queued",
                                    exc, self._pending_events)
                    self._retry_at = time.monotonic() + 0.5
                    return
                self._pending.popleft()
                self._pending_events -= count
            if self._retry_at:
                log.warning("metrics bus: Redis reachable again; queued readings sent")
            self._retry_at = 0.0

    def _listen(self) -> None:
        reader = redis.Redis.from_url(self.url, socket_connect_timeout=5, socket_timeout=30)
        backoff = 0.2
        while not self._stop.is_set():
            if self._pending:
                self._flush()
            try:
                answer = reader.xread({STREAM_KEY: self._last_entry}, block=1000, count=200)
                backoff = 0.2
            except redis.RedisError as exc:
                log.warning("metrics bus: Redis unreachable (%s); retrying in %.1f s", exc, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            for _stream, entries in answer or ():
                for entry_id, fields in entries:
                    self._last_entry = entry_id
                    self._deliver(int(fields[b"b"]), json.loads(fields[b"p"]))
        reader.close()

    def _deliver(self, base: int, items: list) -> None:
        if base != self.buffer.head + 1:
            self.buffer.restart_after(base - 1)  # entries were trimmed away meanwhile
        self.buffer.append([make_event(base + i, name, data, attrs)
                            for i, (name, data, attrs) in enumerate(items)])

    def close(self) -> None:
        self._stop.set()
        self.buffer.close()
        self._listener.join(timeout=3)
        self._redis.close()
