"""Redis restarted while viewers are connected (issue 14): two server processes share the
bus through a real Redis on loopback; readings are posted all the while. Every reading
acknowledged (2xx), before, during and after the outage, reaches the viewers of both
processes in order, without a reset, and is stored."""
from __future__ import annotations

import queue
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from server.metrics.errors import BusUnavailable
from server.metrics.redis_bus import RedisBus
from server.metrics.store import open_store
from tests.server.live_server import LiveServer
from tests.server.sse import parse_events
from tests.services import start_redis

INGEST = {"Authorization": "Bearer ingest-secret"}
ADMIN = {"Authorization": "Bearer admin-secret"}
SENSOR = [{"id": "r1", "classification": "public", "lon": 117.0, "lat": 36.6,
           "metrics": "pm25"}]
START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
ATTRS = ("r1:pm25", "pm25", "r1", 117.0, 36.6, "public")  # filter attributes
LIMIT_S = 40  # the whole exchange; every wait below is bounded by it


class Poster(threading.Thread):
    """Posts one reading per request (values 0, 1, 2, ...); records those acknowledged."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url, self.acked, self.refused = url, [], []
        self.stop = threading.Event()

    def run(self) -> None:
        session = requests.Session()
        n = 0
        while not self.stop.is_set():
            reading = {"datastream": "r1:pm25", "value": n,
                       "time": (START + timedelta(milliseconds=n)).isoformat()}
            try:
                answer = session.post(f"{self.url}/api/metrics", json=[reading],
                                      headers=INGEST, timeout=15)
                (self.acked if answer.ok else self.refused).append(n)
            except requests.RequestException:
                self.refused.append(n)
            n += 1
            self.stop.wait(0.02)

    def wait_for(self, more: int, deadline: float) -> None:
        target = len(self.acked) + more
        while len(self.acked) < target:
            assert time.monotonic() < deadline, f"acknowledged {self.acked[-5:]}, " \
                                                f"refused {len(self.refused)}"
            time.sleep(0.02)


def watch(url: str, into: queue.Queue) -> requests.Response:
    """An open live stream whose events go to ``into`` (from a reader thread)."""
    viewer = requests.get(f"{url}/api/metrics/stream", stream=True, timeout=30)
    events = parse_events(viewer.iter_content(chunk_size=None))
    assert viewer.status_code == 200 and next(events) == {"comment": "connected"}

    def read():
        try:
            for event in events:
                if "event" in event:
                    into.put(event)
        except (requests.RequestException, AttributeError):
            pass  # closed by the test (urllib3 drops its file object: AttributeError)
    threading.Thread(target=read, daemon=True).start()
    return viewer


def received(into: queue.Queue, wanted: set[int], deadline: float) -> list[dict]:
    events, seen = [], set()
    while not wanted <= seen and time.monotonic() < deadline:
        try:
            event = into.get(timeout=0.5)
        except queue.Empty:
            continue
        events.append(event)
        if event["event"] == "observation":
            seen.add(event["data"]["value"])
    return events


def test_viewers_get_every_acknowledged_reading_across_a_redis_restart(tmp_path):
    redis_server = start_redis(tmp_path / "redis")
    bus = redis_server.url + "/0"
    servers, viewers, poster = [], [], None
    deadline = time.monotonic() + LIMIT_S
    try:
        servers = [LiveServer(tmp_path / name, bus_url=bus) for name in ("a", "b")]
        ingest, other = servers
        assert requests.post(f"{ingest.url}/api/sensors", json=SENSOR, headers=ADMIN,
                             timeout=30).status_code == 201
        streams = [queue.Queue(), queue.Queue()]
        viewers = [watch(s.url, q) for s, q in zip(servers, streams)]
        poster = Poster(ingest.url)
        poster.start()
        poster.wait_for(5, deadline)
        redis_server.stop()
        poster.wait_for(10, deadline)  # acknowledged while Redis is down
        redis_server.start()  # same port, empty (no persistence)
        poster.wait_for(10, deadline)
        poster.stop.set()
        poster.join(20)
        acked = set(poster.acked)
        for into in streams:
            events = received(into, acked, deadline)
            assert [e["event"] for e in events if e["event"] != "observation"] == []
            values = [e["data"]["value"] for e in events]
            assert acked <= set(values), f"missing {sorted(acked - set(values))[:10]}"
            assert values == sorted(values)
            ids = [int(e["id"]) for e in events]
            assert ids == sorted(set(ids))
    finally:
        if poster is not None:
            poster.stop.set()
        for viewer in viewers:
            viewer.close()
        for server in servers:
            server.stop()
        redis_server.stop()
    store = open_store("sqlite://metrics.sqlite", tmp_path / "a")
    try:
        rows = store.export_rows(["r1:pm25"], int(START.timestamp() * 1000),
                                 int((START + timedelta(days=1)).timestamp() * 1000))
        stored = {value for _ds, _time, value, _result, _quality in rows}
    finally:
        store.close()
    assert acked <= {int(v) for v in stored}


def test_a_full_queue_refuses_new_readings_until_redis_is_back(tmp_path):
    """While Redis is down the queue is bounded (replay_events): ingest is refused before
    anything is stored (503 + Retry-After), and the queued events are sent on return."""
    redis_server = start_redis(tmp_path / "redis")
    bus = RedisBus(redis_server.url + "/0", capacity=3)
    try:
        redis_server.stop()
        bus.publish([("observation", '{"value":1}', ATTRS)] * 2)
        bus.check_ready()  # 2 of 3 queued: still taking readings
        bus.publish([("observation", '{"value":2}', ATTRS)])
        with pytest.raises(BusUnavailable) as refused:
            bus.check_ready()
        assert (refused.value.status, refused.value.retry_after) == (503, 5)
        head = bus.buffer.head
        redis_server.start()
        deadline = time.monotonic() + 15
        while bus.buffer.head < head + 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert bus.buffer.head == head + 3
        bus.check_ready()
    finally:
        bus.close()
        redis_server.stop()
