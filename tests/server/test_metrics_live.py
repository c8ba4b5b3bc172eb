"""Metrics on real server processes: durability through kill -9, many open streams on one
evented worker, and two workers sharing one stream through Redis (PostgreSQL store)."""
from __future__ import annotations

import json
import selectors
import socket
import threading
import time
from datetime import UTC, datetime, timedelta

import requests

from server.metrics.store import open_store
from tests.server.live_server import LiveServer
from tests.server.sse import parse_events, take

INGEST = {"Authorization": "Bearer ingest-secret"}
ADMIN = {"Authorization": "Bearer admin-secret"}
SENSORS = [{"id": f"s{n}", "classification": "public", "lon": 117.0, "lat": 36.6,
            "metrics": "pm25"} for n in range(5)]
START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


def _batch(first: int, count: int) -> list[dict]:
    return [{"datastream": f"s{i % 5}:pm25", "value": i,
             "time": (START + timedelta(seconds=i // 5)).isoformat()}
            for i in range(first, first + count)]


def test_acknowledged_batches_survive_kill_9(tmp_path):
    server = LiveServer(tmp_path)
    acknowledged = 0
    try:
        assert requests.post(f"{server.url}/api/sensors", json=SENSORS, headers=ADMIN,
                             timeout=30).status_code == 201
        session = requests.Session()
        stop = threading.Event()

        def killer():
            stop.wait(1.0)
            server.kill9()
        threading.Thread(target=killer, daemon=True).start()
        for n in range(100000):
            try:
                answer = session.post(f"{server.url}/api/metrics", json=_batch(n * 200, 200),
                                      headers=INGEST, timeout=10)
            except requests.RequestException:
                break  # the server died mid-request: that batch was never acknowledged
            assert answer.status_code == 202
            acknowledged = n + 1
    finally:
        server.stop()
    assert acknowledged > 0
    store = open_store("sqlite://metrics.sqlite", tmp_path)
    try:
        end = int((START + timedelta(days=1)).timestamp() * 1000)
        start = int(START.timestamp() * 1000)
        stored = sum(len(list(store.export_rows([f"s{k}:pm25"], start, end))) for k in range(5))
    finally:
        store.close()
    assert stored >= acknowledged * 200


def _open_raw_streams(port: int, count: int) -> list[socket.socket]:
    streams = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(b"GET /api/metrics/stream HTTP/1.1\r\nHost: x\r\n"
                     b"Accept: text/event-stream\r\n\r\n")
        streams.append(sock)
    return streams


def _read_until(streams: list[socket.socket], marker: bytes, limit_s: float) -> dict:
    """Bytes read per socket until each has seen ``marker`` (or the limit passes)."""
    seen = {s: b"" for s in streams}
    selector = selectors.DefaultSelector()
    for s in streams:
        s.setblocking(False)
        selector.register(s, selectors.EVENT_READ)
    pending = set(streams)
    deadline = time.monotonic() + limit_s
    while pending and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=0.5):
            data = key.fileobj.recv(65536)
            seen[key.fileobj] += data
            if marker in seen[key.fileobj] or not data:
                pending.discard(key.fileobj)
                selector.unregister(key.fileobj)
    selector.close()
    return seen


def test_one_evented_worker_holds_hundreds_of_streams(tmp_path):
    server = LiveServer(tmp_path)
    streams: list[socket.socket] = []
    try:
        requests.post(f"{server.url}/api/sensors", json=SENSORS, headers=ADMIN, timeout=30)
        streams = _open_raw_streams(server.port, 300)
        connected = _read_until(streams, b": connected", 60)
        assert all(b"200 OK" in data for data in connected.values())
        assert requests.post(f"{server.url}/api/metrics", headers=INGEST, timeout=30, json=[
            {"datastream": "s1:pm25", "value": 4242.5}]).status_code == 202
        got = _read_until(streams, b"4242.5", 60)
        assert sum(b"4242.5" in data for data in got.values()) == 300
    finally:
        for s in streams:
            s.close()
        server.stop()


def test_a_reading_ingested_on_one_worker_reaches_a_viewer_on_the_other(
        tmp_path, postgres_url, redis_url):
    one = LiveServer(tmp_path / "a", store_url=postgres_url, bus_url=redis_url)
    other = LiveServer(tmp_path / "b", store_url=postgres_url, bus_url=redis_url)
    try:
        assert requests.post(f"{one.url}/api/sensors", json=SENSORS, headers=ADMIN,
                             timeout=30).status_code == 201
        viewer = requests.get(f"{other.url}/api/metrics/stream", stream=True, timeout=30)
        events = parse_events(viewer.iter_content(chunk_size=None))
        assert viewer.status_code == 200 and next(events) == {"comment": "connected"}
        posted = requests.post(f"{one.url}/api/metrics", headers=INGEST, timeout=30,
                               json=[{"datastream": "s3:pm25", "value": 31.5}])
        assert posted.json()["stored"] == 1
        [event] = take(events, 1)
        assert (event["event"], event["data"]["datastream"], event["data"]["value"]) == (
            "observation", "s3:pm25", 31.5)
        viewer.close()
        # the other worker reads the same store; a reconnect there replays from its id
        latest = requests.get(f"{other.url}/api/metrics/latest", timeout=30).json()
        assert [o["value"] for o in latest] == [31.5]
        requests.post(f"{one.url}/api/metrics", headers=INGEST, timeout=30,
                      json=[{"datastream": "s4:pm25", "value": 44.0}])
        again = requests.get(f"{other.url}/api/metrics/stream", stream=True, timeout=30,
                             headers={"Last-Event-ID": event["id"]})
        [missed] = take(parse_events(again.iter_content(chunk_size=None)), 1)
        assert (int(missed["id"]), missed["data"]["value"]) == (int(event["id"]) + 1, 44.0)
        again.close()
    finally:
        one.stop()
        other.stop()
    assert json.loads(json.dumps(event["data"]))["sensor_id"] == "s3"
