"""The SSE stream through the app: ids, filters, classification, replay without gap, reset."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.app import create_app
from tests.server.sse import parse_events, take, until_comment

INGEST = {"Authorization": "Bearer ingest-secret"}
ADMIN = {"Authorization": "Bearer admin-secret"}
HOUR_AGO = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
SENSORS = [
    {"id": "aq-1", "classification": "public", "lon": 117.02, "lat": 36.66, "metrics": "pm25,no2",
     "feature": {"type": "facility", "id": "F-1"}},
    {"id": "aq-2", "classification": "public", "lon": 117.20, "lat": 36.70, "metrics": "pm25"},
    {"id": "en-1", "classification": "internal", "lon": 117.1, "lat": 36.6, "metrics": "power_kw"},
]


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("CIMTWIN_INGEST_TOKEN", "ingest-secret")
    monkeypatch.setenv("CIMTWIN_ADMIN_TOKEN", "admin-secret")
    app = create_app({"data": {"dir": str(tmp_path)}, "server": {"sse_keepalive_s": 0.1},
                      "metrics": {"replay_events": 20}})
    app.extensions["cimtwin"].metrics.register(SENSORS)
    yield app
    app.extensions["cimtwin"].close()


def _post(client, *readings) -> None:
    body = [{"datastream": ds, "value": v, "time": (HOUR_AGO + timedelta(seconds=s)).isoformat()}
            for ds, v, s in readings]
    assert client.post("/api/metrics", json=body, headers=INGEST).status_code == 202


def _open(client, url: str, **headers):
    response = client.get(url, buffered=False, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response, parse_events(response.response)


def test_events_have_ids_and_filters_apply(app):
    client = app.test_client()
    streams = {name: _open(client, url) for name, url in {
        "all": "/api/metrics/stream", "ds": "/api/metrics/stream?datastream=aq-2:pm25",
        "metric": "/api/metrics/stream?metric=no2", "feature": "/api/metrics/stream?feature=F-1",
        "bbox": "/api/metrics/stream?bbox=117.15,36.65,117.25,36.75"}.items()}
    _post(client, ("aq-1:pm25", 10, 1), ("aq-1:no2", 20, 1), ("aq-2:pm25", 30, 1),
          ("en-1:power_kw", 40, 1))
    got = {name: [e["data"]["datastream"] for e in until_comment(events, "heartbeat")]
           for name, (_, events) in streams.items()}
    assert got == {"all": ["aq-1:pm25", "aq-1:no2", "aq-2:pm25"], "ds": ["aq-2:pm25"],
                   "metric": ["aq-1:no2"], "feature": ["aq-1:pm25", "aq-1:no2"],
                   "bbox": ["aq-2:pm25"]}
    for response, _ in streams.values():
        response.close()
    assert app.extensions["cimtwin"].metrics.streams_open == 0


def test_non_public_data_needs_a_stream_token(app):
    client = app.test_client()
    token = client.post("/api/metrics/stream-token", headers=ADMIN).get_json()["token"]
    response, events = _open(client, f"/api/metrics/stream?token={token}")
    _post(client, ("en-1:power_kw", 40, 1))
    assert take(events, 1)[0]["data"]["datastream"] == "en-1:power_kw"
    response.close()
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    refused = client.get(f"/api/metrics/stream?token={forged}")
    assert refused.status_code == 401 and "stream-token" in refused.get_json()["detail"]
    anonymous = client.post("/api/metrics/stream-token").get_json()
    assert anonymous["levels"] == ["public"]


def test_last_event_id_replays_every_missed_event_without_gap(app):
    client = app.test_client()
    response, events = _open(client, "/api/metrics/stream")
    _post(client, ("aq-1:pm25", 1, 1), ("aq-1:pm25", 2, 2))
    seen = take(events, 2)
    response.close()
    _post(client, ("aq-1:pm25", 3, 3), ("aq-2:pm25", 4, 3))  # while disconnected
    _post(client, ("aq-1:pm25", 5, 4))
    response, events = _open(client, "/api/metrics/stream", **{"Last-Event-ID": seen[-1]["id"]})
    replayed = take(events, 3)
    assert [e["data"]["value"] for e in replayed] == [3, 4, 5]
    ids = [int(e["id"]) for e in seen + replayed]
    assert ids == list(range(ids[0], ids[0] + 5))
    response.close()


def test_a_client_behind_the_buffer_gets_reset_not_silence(app):
    client = app.test_client()
    response, events = _open(client, "/api/metrics/stream")
    _post(client, ("aq-1:pm25", 1, 0))
    [first] = take(events, 1)
    response.close()
    for second in range(1, 31):  # 30 events > replay_events = 20
        _post(client, ("aq-1:pm25", second, second))
    response, events = _open(client, "/api/metrics/stream", **{"Last-Event-ID": first["id"]})
    [reset] = take(events, 1)
    assert reset["event"] == "reset" and "reload" in reset["data"]["reason"]
    _post(client, ("aq-1:pm25", 99, 59))
    [next_event] = take(events, 1)
    assert next_event["data"]["value"] == 99 and int(next_event["id"]) == int(reset["id"]) + 1
    response.close()
    ahead = client.get("/api/metrics/stream", buffered=False,
                       headers={"Last-Event-ID": str(int(next_event["id"]) + 10**9)})
    assert take(parse_events(ahead.response), 1)[0]["event"] == "reset"
    ahead.close()


def test_heartbeats_flow_while_nothing_happens(app):
    client = app.test_client()
    response, events = _open(client, "/api/metrics/stream")
    comments: list = []
    for item in events:
        if "comment" in item:
            comments.append(item["comment"])
        if comments.count("heartbeat") >= 2:
            break
    assert comments[0] == "connected"
    response.close()


def test_streams_beyond_the_maximum_get_503_and_a_slot_frees_on_close(tmp_path):
    app = create_app({"data": {"dir": str(tmp_path)}, "metrics": {"max_streams": 1}})
    client = app.test_client()
    first = client.get("/api/metrics/stream", buffered=False)
    second = client.get("/api/metrics/stream")
    assert second.status_code == 503 and "max_streams" in second.get_json()["detail"]
    first.close()
    assert client.get("/api/metrics/stream", buffered=False).status_code == 200
    app.extensions["cimtwin"].close()


def test_a_threaded_server_caps_streams_below_its_thread_count(app):
    from server.metrics.runtime import THREADED_MAX_STREAMS
    client = app.test_client()
    threaded = {"wsgi.multithread": True}
    opened = [client.get("/api/metrics/stream", buffered=False, environ_overrides=threaded)
              for _ in range(THREADED_MAX_STREAMS)]
    assert all(r.status_code == 200 for r in opened)
    refused = client.get("/api/metrics/stream", environ_overrides=threaded)
    assert refused.status_code == 503 and "cimtwin serve" in refused.get_json()["detail"]
    assert client.get("/api/metrics/stream", buffered=False).status_code == 200  # evented
    for r in opened:
        r.close()
