"""/metrics (Prometheus), request ids and the one-line-per-request log (server/observability.py)."""
from __future__ import annotations

import io
import json
import logging

import pytest

from server.app import create_app
from server.observability import configure_logging
from tests.deploy.helpers import GLB, publish_two


@pytest.fixture
def app(tmp_path):
    publish_two(tmp_path)
    app = create_app({"data": {"dir": str(tmp_path)}, "server": {"log_format": "json"}})
    users = app.extensions["cimtwin"].security.users
    users.add("scraper", "admin", "scraper password 1")
    app.config["scrape"], _ = users.create_token("scraper", ["metrics"])
    users.add("boss", "admin", "boss password 12")
    app.config["boss_ingest"], _ = users.create_token("boss", ["ingest"])
    app.extensions["cimtwin"].metrics.register(
        [{"id": "s1", "classification": "public", "metrics": "pm25"}])
    return app


def _sample(text: str, name: str, **labels) -> float:
    """The value of one sample of the Prometheus text format (0 when absent)."""
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            head, _, value = line.rpartition(" ")
            if all(f'{k}="{v}"' in head for k, v in labels.items()):
                return float(value)
    return 0.0


def _scrape(client, app) -> str:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {app.config['scrape']}"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return response.get_data(as_text=True)


def test_metrics_count_requests_by_route_tile_bytes_and_ingest(app):
    client = app.test_client()
    before = _scrape(client, app)
    route = "/tiles/<tileset_id>/<path:path>"
    for _ in range(3):
        assert client.get("/tiles/open/t/0.glb").data == GLB
    assert client.get("/tiles/closed/t/0.glb").status_code == 404
    ingest = {"Authorization": f"Bearer {app.config['boss_ingest']}"}
    reading = {"sensor_id": "s1", "metric": "pm25", "value": 12.0,
               "time": "2026-12-01T00:00:00Z"}
    posted = client.post("/api/metrics", headers=ingest, json=[reading])
    assert posted.status_code == 202, posted.get_json()
    after = _scrape(client, app)

    def delta(name, **labels):
        return _sample(after, name, **labels) - _sample(before, name, **labels)
    assert delta("cimtwin_http_requests_total", route=route, status="200") == 3
    assert delta("cimtwin_http_requests_total", route=route, status="404") == 1
    assert delta("cimtwin_http_request_duration_seconds_count", route=route) == 4
    assert delta("cimtwin_tile_bytes_total") == 3 * len(GLB)
    assert delta("cimtwin_ingest_observations_total", outcome="stored") \
        + delta("cimtwin_ingest_observations_total", outcome="duplicate") == 1
    assert "cimtwin_sse_clients" in after
    assert _sample(after, "cimtwin_import_jobs", state="running") == 0
    assert 'cimtwin_import_jobs{state="interrupted"}' in after


def test_metrics_need_the_metrics_action_or_a_direct_loopback_scraper(app, tmp_path):
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    ingest_only = {"Authorization": f"Bearer {app.config['boss_ingest']}"}
    assert client.get("/metrics", headers=ingest_only).status_code == 403
    local = create_app({"data": {"dir": str(tmp_path)}, "server": {"metrics_loopback": True}})
    local_client = local.test_client()
    assert local_client.get("/metrics").status_code == 200  # test client: 127.0.0.1
    relayed = {"X-Forwarded-For": "10.1.2.3"}  # nginx relays from loopback too
    assert local_client.get("/metrics", headers=relayed).status_code == 401
    remote = local_client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert remote.status_code == 401


def test_each_request_logs_one_json_line_with_its_id_and_the_error_the_same(app):
    out = io.StringIO()
    handler = configure_logging(app.extensions["cimtwin"].config, stream=out)

    @app.get("/boom-for-test")
    def boom():
        raise RuntimeError("kaput")
    try:
        client = app.test_client()
        ok = client.get("/tiles/open/t/0.glb", headers={"X-Request-Id": "abc-123"})
        failed = client.get("/boom-for-test")
        junk = client.get("/api/health", headers={"X-Request-Id": "x y;<script>"})
    finally:
        logging.getLogger().removeHandler(handler)
    assert ok.headers["X-Request-Id"] == "abc-123"
    new_id = failed.headers["X-Request-Id"]
    assert failed.status_code == 500 and len(new_id) == 32
    assert junk.headers["X-Request-Id"] not in ("x y;<script>", "")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    requests = [e for e in lines if e.get("event") == "request"]
    assert [(e["request_id"], e["status"]) for e in requests] == [
        ("abc-123", 200), (new_id, 500), (junk.headers["X-Request-Id"], 200)]
    tile = requests[0]
    assert tile["route"] == "/tiles/<tileset_id>/<path:path>"
    assert tile["principal"] == "anonymous" and tile["duration_ms"] >= 0
    errors = [e for e in lines if e["level"] == "error"]
    assert len(errors) == 1 and errors[0]["request_id"] == new_id
    assert "kaput" in errors[0]["error"]


def test_text_log_format_is_the_default_and_json_is_checked(tmp_path):
    from server.config import ConfigError, load_config
    assert load_config({"data": {"dir": str(tmp_path)}})["server"]["log_format"] == "text"
    with pytest.raises(ConfigError, match="log_format"):
        load_config({"server": {"log_format": "xml"}})


def test_the_text_format_has_the_id_status_and_principal_on_one_line(app):
    out = io.StringIO()
    text = create_app({"data": {"dir": app.extensions["cimtwin"].config["data"]["dir"]}})
    handler = configure_logging(text.extensions["cimtwin"].config, stream=out)
    try:
        text.test_client().get("/tiles/open/t/0.glb", headers={"X-Request-Id": "req-7"})
    finally:
        logging.getLogger().removeHandler(handler)
    (line,) = [li for li in out.getvalue().splitlines() if "cimtwin.access" in li]
    assert "[req-7]" in line and "GET /tiles/open/t/0.glb 200" in line
    assert line.endswith("anonymous")
