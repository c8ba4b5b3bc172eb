"""The Redis bus: several server workers share one stream of numbered events.

Publishing runs one Lua script: take the next numbers (INCRBY) and append the batch to a
Redis stream (XADD, trimmed to about the replay capacity) in one atomic step, so every
worker sees the same events in the same order with the same ids. Each process runs one
listener thread (a greenlet under gevent) that reads the stream (XREAD BLOCK) into its
own :class:`StreamBuffer`; viewers of any worker get every event, and Last-Event-ID works
whichever worker a reconnect lands on. A lost connection is retried with backoff; events
missed meanwhile are read on from the last entry seen (or, if trimmed away, the buffer
restarts after them and the affected viewers get ``reset``).
"""
from __future__ import annotations

import json
import logging
import threading
import time

import redis

from server.metrics.errors import MetricError
from server.metrics.fanout import Outgoing, StreamBuffer, make_event

log = logging.getLogger(__name__)
SEQ_KEY, STREAM_KEY = "cimtwin:metrics:seq", "cimtwin:metrics:events"
_PUBLISH = """
local n = tonumber(ARGV[1])
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
        self._stop = threading.Event()
        self._listener = threading.Thread(target=self._listen, name="cimtwin-redis-bus",
                                          daemon=True)
        self._listener.start()

    def publish(self, events: list[Outgoing]) -> None:
        payload = json.dumps([list(e) for e in events], ensure_ascii=False,
                             separators=(",", ":"))
        self._script(keys=[SEQ_KEY, STREAM_KEY], args=[len(events), payload, self._capacity])

    def _listen(self) -> None:
        reader = redis.Redis.from_url(self.url, socket_connect_timeout=5, socket_timeout=30)
        backoff = 0.2
        while not self._stop.is_set():
            try:
                answer = reader.xread({STREAM_KEY: self._last_entry}, block=1000, count=200)
                backoff = 0.2
            except redis.RedisError as exc:
                log.warning("metrics bus: Redis unreachable (%s); retrying in %.1f s", exc, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
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
