"""`cimtwin serve --workers 2`: gunicorn gevent workers serve health, tiles and the stream."""
from __future__ import annotations

import http.client
import json
import urllib.request

import pytest

from tests.deploy.helpers import ADMIN, GLB, Workers, publish_two


@pytest.fixture
def workers(tmp_path):
    data = tmp_path / "data"
    publish_two(data)
    server = Workers(data, 2)
    yield server
    server.stop()


def _get(url: str, headers: dict | None = None):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers


def test_two_gevent_workers_serve_health_tiles_and_the_stream(workers):
    status, body, _ = _get(workers.url + "/api/health")
    assert status == 200 and json.loads(body)["status"] == "ok"
    status, body, headers = _get(workers.url + "/tiles/open/t/0.glb")
    assert status == 200 and body == GLB
    assert headers["Content-Type"] == "model/gltf-binary"
    assert _get(workers.url + "/tiles/closed/t/0.glb")[0] == 404
    status, body, _ = _get(workers.url + "/tiles/closed/t/0.glb",
                           {"Authorization": f"Bearer {ADMIN}"})
    assert status == 200 and body == GLB
    # The stream: the first bytes arrive, and while it is open the workers still answer.
    conn = http.client.HTTPConnection("127.0.0.1", workers.port, timeout=10)
    conn.request("GET", "/api/metrics/stream")
    stream = conn.getresponse()
    assert stream.status == 200
    assert stream.getheader("Content-Type").startswith("text/event-stream")
    assert stream.readline().startswith(b"retry:")
    assert _get(workers.url + "/api/health")[0] == 200
    conn.close()
