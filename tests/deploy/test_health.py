"""Readiness checks each backend and names only the failing part; liveness needs none."""
from __future__ import annotations

from server.app import create_app
from tests.services import free_port


def test_ready_when_every_backend_answers(tmp_path):
    client = create_app({"data": {"dir": str(tmp_path / "d")}}).test_client()
    assert client.get("/api/health/live").get_json() == {"status": "ok"}
    ready = client.get("/api/health/ready")
    assert ready.status_code == 200 and ready.get_json() == {"status": "ready"}


def test_a_down_metrics_database_is_named_without_its_address(tmp_path):
    port = free_port()  # nothing listens there: the database is down
    url = f"postgresql://cimtwin:pw-secret@127.0.0.1:{port}/metrics"
    client = create_app({"data": {"dir": str(tmp_path / "d")},
                         "metrics": {"store_url": url}}).test_client()
    assert client.get("/api/health/live").status_code == 200
    ready = client.get("/api/health/ready")
    assert ready.status_code == 503 and ready.headers["Retry-After"] == "5"
    assert ready.get_json() == {"status": "unavailable", "failed": ["metrics"]}
    for secret in (str(port), "pw-secret", "127.0.0.1", str(tmp_path)):
        assert secret not in ready.get_data(as_text=True)
    assert client.get("/tiles/none/tileset.json").status_code == 404  # tiles still answer
