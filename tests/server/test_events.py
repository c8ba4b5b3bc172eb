"""Event subscriptions: a registered app's webhook gets signed events, retried with
backoff, every attempt logged; the same events as Server-Sent Events; private targets
refused unless allowed."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from server.app import create_app
from server.tileset_imports import register_tileset
from tests.server.sse import parse_events, take

FAST = {"allow_private_targets": True, "first_retry_s": 0.2, "max_attempts": 3,
        "timeout_s": 5.0}


@pytest.fixture(autouse=True)
def quick_hashes(monkeypatch):
    """argon2 at its lowest cost: these tests are about apps, not about hash strength."""
    from argon2 import PasswordHasher
    monkeypatch.setattr("server.apps._HASHER",
                        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


class Receiver:
    """A loopback webhook receiver: answers 500 to its first ``fail`` requests, then 200."""

    def __init__(self, fail: int = 1):
        self.requests: list[tuple[dict, bytes]] = []
        self.fail, self.seen = fail, threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.seen:
                    receiver.requests.append((dict(self.headers), body))
                    status = 500 if len(receiver.requests) <= receiver.fail else 200
                    receiver.seen.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, count: int, timeout: float = 15) -> list[tuple[dict, bytes]]:
        with self.seen:
            self.seen.wait_for(lambda: len(self.requests) >= count, timeout)
            return list(self.requests)

    def close(self):
        self.server.shutdown()


def make_app(tmp_path, events: dict | None = None):
    return create_app({"data": {"dir": str(tmp_path)}, "events": events or {},
                       "server": {"sse_keepalive_s": 0.2}, "metrics": {"stream_flush_ms": 10}})


def app_token(app, name: str, scopes: list[str], level: str = "internal") -> dict:
    apps = app.extensions["cimtwin"].security.apps
    record, secret = apps.add(name, scopes, level)
    pair = base64.b64encode(f"{record.id}:{secret}".encode()).decode()
    answer = app.test_client().post("/api/v1/oauth/token",
                                    data={"grant_type": "client_credentials"},
                                    headers={"Authorization": f"Basic {pair}"})
    return {"Authorization": f"Bearer {answer.get_json()['access_token']}"}


def publish(app, tileset_id: str, level: str = "public") -> None:
    services = app.extensions["cimtwin"]
    register_tileset(services, {"tileset_id": tileset_id, "kind": "mesh", "name": tileset_id},
                     classification=level, source="test")


@pytest.fixture
def receiver():
    found = Receiver(fail=1)
    yield found
    found.close()


def test_a_published_tileset_reaches_the_webhook_signed_and_retried(tmp_path, receiver,
                                                                    shared_data):
    app = make_app(tmp_path, FAST)
    auth = app_token(app, "site-office", ["read:events", "import"])
    client = app.test_client()
    made = client.post("/api/v1/subscriptions", headers=auth,
                       json={"url": receiver.url, "events": ["tileset.published"]})
    assert made.status_code == 201, made.get_json()
    sub = made.get_json()
    ifc = shared_data("ifc", "IfcOpenHouse_IFC4.ifc")
    with open(ifc, "rb") as fh:  # a real upload: the import job publishes the tileset
        job = client.post("/api/v1/imports/bim", headers=auth, data={
            "file": (fh, ifc.name), "crs": "EPSG:4548", "origin": "500000,4058000,30",
            "id": "cbd-block-7"})
    assert job.status_code == 202, job.get_json()
    (first_headers, first), (headers, body) = receiver.wait(2, timeout=60)[:2]
    expected = "sha256=" + hmac.new(sub["secret"].encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Cimtwin-Signature"], expected)
    assert first == body and first_headers["X-Cimtwin-Signature"] == expected
    event = json.loads(body)
    assert event["type"] == "tileset.published" and event["data"]["id"] == "cbd-block-7"
    assert headers["X-Cimtwin-Event"] == "tileset.published"
    log = []
    for _ in range(50):  # the second attempt's log row is written after the answer
        log = client.get(f"/api/v1/subscriptions/{sub['id']}/deliveries", headers=auth).get_json()
        if len(log) == 2:
            break
        time.sleep(0.1)
    assert [(d["attempt"], d["status"], d["outcome"]) for d in reversed(log)] == [
        (1, 500, "failed"), (2, 200, "delivered")]
    assert log[1]["next_attempt"] is not None
    tampered = body.replace(b"cbd-block-7", b"cbd-block-8")
    assert "sha256=" + hmac.new(sub["secret"].encode(), tampered,
                                hashlib.sha256).hexdigest() != headers["X-Cimtwin-Signature"]
    app.extensions["cimtwin"].close()


def test_retries_are_bounded_and_other_types_and_levels_are_not_sent(tmp_path):
    always_failing = Receiver(fail=100)
    app = make_app(tmp_path, FAST)
    auth = app_token(app, "public-app", ["read:events"], level="public")
    client = app.test_client()
    sub = client.post("/api/v1/subscriptions", headers=auth, json={
        "url": always_failing.url, "events": ["tileset.published"]}).get_json()
    publish(app, "secret-site", level="internal")  # above the app's level: not sent
    app.extensions["cimtwin"].events.emit("tileset.deleted", {"id": "x"}, "public")
    publish(app, "open-site")
    always_failing.wait(3)
    log = []
    for _ in range(100):
        log = client.get(f"/api/v1/subscriptions/{sub['id']}/deliveries", headers=auth).get_json()
        if log and log[0]["outcome"] == "gave up":
            break
        time.sleep(0.05)
    assert [d["outcome"] for d in log] == ["gave up", "failed", "failed"]  # max_attempts 3
    assert log[0]["next_attempt"] is None
    assert {json.loads(b)["data"]["id"] for _, b in always_failing.requests} == {"open-site"}
    assert len(always_failing.requests) == 3
    always_failing.close()
    app.extensions["cimtwin"].close()


def test_private_targets_are_refused_unless_allowed(tmp_path, receiver):
    app = make_app(tmp_path)
    auth = app_token(app, "strict", ["read:events"])
    refused = app.test_client().post("/api/v1/subscriptions", headers=auth, json={
        "url": receiver.url, "events": ["alarm.raised"]})
    assert refused.status_code == 400
    assert refused.mimetype == "application/problem+json"
    assert "allow_private_targets" in refused.get_json()["detail"]
    for url in ("ftp://example.com/x", "http://10.1.2.3/hook", "http://[::1]:8080/"):
        answer = app.test_client().post("/api/v1/subscriptions", headers=auth,
                                        json={"url": url, "events": ["alarm.raised"]})
        assert answer.status_code == 400, url


def test_only_a_registered_app_with_read_events_subscribes(tmp_path, receiver):
    app = make_app(tmp_path, FAST)
    client = app.test_client()
    body = {"url": receiver.url, "events": ["tileset.published"]}
    assert client.post("/api/v1/subscriptions", json=body).status_code == 401
    tiles_only = app_token(app, "tiles-only", ["read:tiles"])
    assert client.post("/api/v1/subscriptions", headers=tiles_only, json=body).status_code == 403
    auth = app_token(app, "events", ["read:events"])
    bad = client.post("/api/v1/subscriptions", headers=auth,
                      json={"url": receiver.url, "events": ["tileset.exploded"]})
    assert bad.status_code == 400 and "tileset.exploded" in bad.get_json()["detail"]
    sub = client.post("/api/v1/subscriptions", headers=auth, json=body).get_json()
    other = app_token(app, "other", ["read:events"])
    assert client.get(f"/api/v1/subscriptions/{sub['id']}", headers=other).status_code == 404
    assert client.delete(f"/api/v1/subscriptions/{sub['id']}", headers=auth).status_code == 204
    assert client.get("/api/v1/subscriptions", headers=auth).get_json() == []
    app.extensions["cimtwin"].close()


def test_the_event_stream_gives_the_same_events_by_level(tmp_path):
    app = make_app(tmp_path)
    client = app.test_client()
    response = client.get("/api/v1/events/stream?types=tileset.published", buffered=False)
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    events = parse_events(response.response)
    publish(app, "hidden", level="restricted")
    app.extensions["cimtwin"].events.emit("tileset.deleted", {"id": "old"}, "public")
    publish(app, "visible")
    got = take(events, 1, kinds=("tileset.published", "tileset.deleted"))
    assert [(e["event"], e["data"]["data"]["id"]) for e in got] == [
        ("tileset.published", "visible")]
    response.close()
    metrics = client.get("/api/v1/metrics/stream", buffered=False)
    publish(app, "not-a-metric")
    seen = take(parse_events(metrics.response), 1, kinds=("tileset.published",),
                max_heartbeats=5)
    assert seen == []  # the metrics stream never carries platform events
    metrics.close()
    app.extensions["cimtwin"].close()


def test_events_are_emitted_where_things_happen(tmp_path, monkeypatch, shared_data):
    from server.cli import main as cli
    from server.layer_imports import import_layer_file
    from tests.server.test_metrics_api import SENSORS, _iso
    monkeypatch.setenv("CIMTWIN_ADMIN_TOKEN", "admin-secret")
    monkeypatch.setenv("CIMTWIN_INGEST_TOKEN", "ingest-secret")
    monkeypatch.setenv("CIMTWIN_DATA_DIR", str(tmp_path))
    admin, ingest = ({"Authorization": f"Bearer {t}-secret"} for t in ("admin", "ingest"))
    app = make_app(tmp_path)
    services, client = app.extensions["cimtwin"], app.test_client()
    import_layer_file(services, shared_data("gis", "kofu_urban_development_projects.geojson"),
                      layer_id="projects", kind="projects", classification="internal",
                      defaults={"stage": "completed"})
    fid = client.get("/ogc/collections/projects/items?limit=1",
                     headers=admin).get_json()["features"][0]["id"]
    url = f"/ogc/collections/projects/items/{fid}"
    assert client.patch(url, json={"properties": {"stage": "approved"}},
                        headers=admin).status_code == 200
    assert client.patch(url, json={"properties": {"name": "同一阶段"}},
                        headers=admin).status_code == 200
    assert client.post("/api/v1/sensors", json=SENSORS, headers=admin).status_code == 201
    client.post("/api/v1/alarms/rules", headers=admin, json={
        "datastream": "aq-1:noise_db", "condition": "above", "threshold": 70})
    client.post("/api/v1/metrics", headers=ingest,
                json=[{"datastream": "aq-1:noise_db", "value": 80, "time": _iso(3)}])
    [alarm] = client.get("/api/v1/alarms", headers=admin).get_json()["alarms"]
    client.post(f"/api/v1/alarms/{alarm['id']}/ack", headers=admin, json={"note": "ok"})
    client.post("/api/v1/metrics", headers=ingest,
                json=[{"datastream": "aq-1:noise_db", "value": 50, "time": _iso(1)}])
    from tiles.store import write_tileset
    write_tileset(services.store, "to-delete", {"tileset.json": b"{}"})
    publish(app, "to-delete", level="internal")
    assert cli(["tilesets", "delete", "to-delete"]) == 0  # another process's event, too
    rows = services.events.store.connect().execute(
        "SELECT type, level, data FROM events ORDER BY id").fetchall()
    seen = [(r["type"], r["level"], json.loads(r["data"])) for r in rows]
    assert [s[0] for s in seen] == [
        "layer.changed", "layer.changed", "project.stage_changed", "layer.changed",
        "alarm.raised", "alarm.acknowledged", "alarm.cleared", "tileset.published",
        "tileset.deleted"]
    assert seen[1][2] == {"layer": "projects", "change": "updated", "feature_ids": [fid]}
    stage = seen[2][2]
    assert (stage["feature_id"], stage["from"], stage["to"]) == (fid, "completed", "approved")
    assert seen[4][2]["id"] == alarm["id"] and seen[4][1] == "public"  # aq-1's level
    assert seen[-1][1:] == ("internal", {"id": "to-delete", "kind": "mesh"})
    services.close()
