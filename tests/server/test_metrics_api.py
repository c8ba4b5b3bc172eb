"""Metrics over HTTP: ingest rules, reads, the SSE stream (also under waitress), sensors."""
from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

import pytest
import requests

from layers.importer import import_layer
from server.app import create_app

INGEST = {"Authorization": "Bearer ingest-secret"}


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("CIMTWIN_INGEST_TOKEN", "ingest-secret")
    monkeypatch.setenv("CIMTWIN_ADMIN_TOKEN", "admin-secret")
    app = create_app({"data": {"dir": str(tmp_path)}, "server": {"sse_keepalive_s": 0.2}})
    yield app
    app.extensions["cimtwin"].close()


@pytest.fixture
def client(app):
    return app.test_client()


def _iso(minutes_ago: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)).isoformat()


def test_ingest_needs_the_ingest_token(client):
    reading = {"sensor_id": "s1", "metric": "pm25", "value": 12}
    assert client.post("/api/metrics", json=reading).status_code == 401
    wrong = client.post("/api/metrics", json=reading, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    assert client.post("/api/metrics", json=reading, headers=INGEST).status_code == 202
    admin = {"Authorization": "Bearer admin-secret"}
    assert client.post("/api/metrics", json=reading, headers=admin).status_code == 202


@pytest.mark.parametrize("body, field", [
    ([{"sensor_id": "s1", "metric": "pm25", "value": 1}, {"metric": "pm25", "value": 2}],
     "observation 1: 'sensor_id'"),
    ({"observations": [{"sensor_id": "s1", "metric": "pm25", "value": float("nan")}]},
     "observation 0: 'value'"),
    ({"sensor_id": "s1", "metric": "PM 2.5", "value": 1}, "'metric'"),
    ({"sensor_id": "s1", "metric": "pm25", "value": 1, "time": "2024-06-30 08:00"}, "UTC offset"),
    ({"sensor_id": "s1", "metric": "pm25", "value": True}, "'value'"),
])
def test_bad_batches_are_refused_whole(client, body, field):
    data = json.dumps(body).replace("NaN", "NaN")
    response = client.post("/api/metrics", data=data, headers={**INGEST, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert field in response.get_json()["detail"]
    assert client.get("/api/metrics/latest").get_json() == []


def test_latest_history_and_alarm_levels(client):
    batch = [{"sensor_id": "s1", "metric": "pm25", "value": v, "time": _iso(m)}
             for m, v in [(50, 20), (40, 30), (30, 160)]]
    assert client.post("/api/metrics", json={"observations": batch}, headers=INGEST).get_json() == {"accepted": 3}
    latest = client.get("/api/metrics/latest").get_json()
    assert [(o["sensor_id"], o["value"], o["alarm"], o["level"]) for o in latest] == [("s1", 160, True, "alarm")]
    assert client.get("/api/metrics/alarms").get_json() == [{"sensor_id": "s1", "metric": "pm25", "level": "alarm"}]
    history = client.get("/api/metrics/history?sensor=s1&metric=pm25").get_json()
    assert [p["value"] for p in history["observations"]] == [20, 30, 160]
    assert history["unit"] == "µg/m³" and history["thresholds"]["alarm"] == 150
    bucketed = client.get(f"/api/metrics/history?sensor=s1&metric=pm25&bucket=86400&from={_iso(120)}".replace("+", "%2B")).get_json()
    assert sum(p["count"] for p in bucketed["observations"]) == 3
    assert client.get("/api/metrics/history?metric=pm25").status_code == 400


def _events(response, wanted: int) -> list[tuple[str, dict]]:
    """Read SSE chunks from a test-client response until ``wanted`` events arrived."""
    events, buffer = [], ""
    for chunk in response.response:
        buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            fields = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":") and ": " in line)
            if "event" in fields:
                events.append((fields["event"], json.loads(fields["data"])))
        if len(events) >= wanted:
            return events
    return events


def test_stream_sends_observations_and_alarm_changes(client, app):
    response = client.get("/api/metrics/stream?sensor=s2", buffered=False)
    assert response.mimetype == "text/event-stream"
    client.post("/api/metrics", json=[{"sensor_id": "other", "metric": "pm25", "value": 500},
                                      {"sensor_id": "s2", "metric": "noise_db", "value": 90}], headers=INGEST)
    events = _events(response, 2)
    response.close()
    assert [name for name, _ in events] == ["observation", "alarm"]
    assert events[0][1]["sensor_id"] == "s2" and events[0][1]["value"] == 90
    assert events[1][1]["state"] == "raised" and events[1][1]["level"] == "alarm"
    assert app.extensions["cimtwin"].metrics.bus.subscribers() == 0


def test_sensors_joins_layer_and_latest(client, app, tmp_path):
    sheet = tmp_path / "sensors.csv"
    sheet.write_text("sensor_id,name,lon,lat,metrics\naq-1,泉城广场,117.0205,36.6615,\"pm25,pm10\"\n"
                     "aq-2,CBD,117.12,36.65,noise_db\n", encoding="utf-8")
    import_layer(app.extensions["cimtwin"].layers, sheet, layer_id="sensors", kind="sensors",
                 classification="public")
    client.post("/api/metrics", json=[{"sensor_id": "aq-1", "metric": "pm25", "value": 40},
                                      {"sensor_id": "ghost", "metric": "pm25", "value": 1}], headers=INGEST)
    body = client.get("/api/sensors").get_json()
    by_id = {f["properties"]["sensor_id"]: f for f in body["features"]}
    assert by_id["aq-1"]["properties"]["latest"]["pm25"]["value"] == 40
    assert by_id["aq-2"]["properties"]["latest"] == {}
    assert by_id["aq-1"]["geometry"]["coordinates"] == pytest.approx([117.0205, 36.6615])
    assert body["unlocated"] == ["ghost"]


def _read_events(response, lines: list) -> None:
    """Collect a stream's lines until its first event's data line (byte by byte: no buffering)."""
    for line in response.iter_lines(chunk_size=1, decode_unicode=True):
        lines.append(line)
        if line.startswith("data: "):
            return


def test_stream_under_waitress_serves_several_clients_without_blocking(app):
    from waitress.server import create_server
    server = create_server(app, host="127.0.0.1", port=0, threads=6)
    runner = threading.Thread(target=server.run, daemon=True)
    runner.start()
    base = f"http://127.0.0.1:{server.effective_port}"
    metrics = app.extensions["cimtwin"].metrics
    try:
        streams = [requests.get(f"{base}/api/metrics/stream", stream=True, timeout=10) for _ in range(3)]
        lines = [[] for _ in streams]
        readers = [threading.Thread(target=_read_events, args=(s, out), daemon=True)
                   for s, out in zip(streams, lines)]
        for reader in readers:
            reader.start()
        assert metrics.bus.subscribers() == 3
        # other requests are served while three streams are open
        assert requests.get(f"{base}/api/metrics/latest", timeout=10).json() == []
        threading.Event().wait(0.5)  # let a couple of keep-alive comments (every 0.2 s) pass
        posted = requests.post(f"{base}/api/metrics", headers=INGEST, timeout=10,
                               json={"sensor_id": "w1", "metric": "traffic_flow", "value": 812})
        assert posted.status_code == 202
        for reader in readers:
            reader.join(10)
        for out in lines:
            assert ": keep-alive" in out
            assert out[-2:] == ["event: observation", out[-1]]
            assert json.loads(out[-1][6:])["value"] == 812
        for s in streams:
            s.close()
        # a client that leaves frees its subscription at the next keep-alive write
        for _ in range(100):
            if metrics.bus.subscribers() == 0:
                break
            threading.Event().wait(0.1)
        assert metrics.bus.subscribers() == 0
    finally:
        metrics.bus.close()
        server.close()


def test_streams_beyond_max_streams_get_503(tmp_path):
    app = create_app({"data": {"dir": str(tmp_path)}, "metrics": {"max_streams": 1}})
    client = app.test_client()
    first = client.get("/api/metrics/stream", buffered=False)
    second = client.get("/api/metrics/stream")
    assert second.status_code == 503
    assert "max_streams" in second.get_json()["detail"]
    first.close()
    assert client.get("/api/metrics/stream", buffered=False).status_code == 200
    app.extensions["cimtwin"].close()
