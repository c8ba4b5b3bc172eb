"""nginx auth_request: cimtwin decides who may read a tileset, nginx sends the tile files.

One decision per tileset and credential covers many tile requests (nginx caches it 5 s);
classification, tokens and share links decide exactly as on /tiles (docs/deploy.md).
"""
from __future__ import annotations

import urllib.request

import pytest

from deploy.render import nginx_site
from server.config import load_config
from server.services import Services
from tests.deploy.helpers import ADMIN, APP_ORIGIN, GLB, Workers, publish_two
from tests.services import free_port, start_nginx

ACCESS_ROUTE = 'route="/api/v1/tilesets/<tileset_id>/access"'
TILE_ROUTE = 'route="/tiles/<tileset_id>/<path:path>"'


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    data = tmp_path_factory.mktemp("access") / "data"
    publish_two(data)
    share = Services(load_config({"data": {"dir": str(data)}})).security.shares.create(
        "tileset", "closed", "internal", expires_in="1d", created_by="test")["token"]
    app = Workers(data, 1, {"CIMTWIN_SERVER__ACCEL_REDIRECT_PREFIX": "/_tiles/"})
    port = free_port()
    nginx = start_nginx(nginx_site(f"127.0.0.1:{port}", f"127.0.0.1:{app.port}", data),
                        data.parent / "nginx", port)
    yield f"http://127.0.0.1:{port}", app, share
    nginx.stop()
    app.stop()


def get(url: str, headers: dict | None = None):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers


def app_requests(app, route: str) -> float:
    """Requests the app answered on ``route`` (its Prometheus counter, every status)."""
    body = get(app.url + "/metrics", {"Authorization": f"Bearer {ADMIN}"})[1].decode()
    return sum(float(line.rpartition(" ")[2]) for line in body.splitlines()
               if line.startswith("cimtwin_http_requests_total{") and route in line)


def test_nginx_sends_internal_tiles_after_one_cached_decision(stack):
    front, app, _ = stack
    token = {"Authorization": f"Bearer {ADMIN}"}
    before = app_requests(app, ACCESS_ROUTE), app_requests(app, TILE_ROUTE)
    for _ in range(20):
        status, body, headers = get(front + "/tiles/closed/t/0.glb", token)
        assert status == 200 and body == GLB
    assert headers["Content-Type"] == "model/gltf-binary"
    assert headers["Cache-Control"] == "private, max-age=300, must-revalidate"
    decisions = app_requests(app, ACCESS_ROUTE) - before[0]
    assert 1 <= decisions <= 4  # 20 tiles: one decision per 5 s, not one per tile
    assert app_requests(app, TILE_ROUTE) == before[1]  # Flask did not send a tile
    assert get(front + "/tiles/closed/t/0.glb", token | {"If-None-Match": headers["ETag"]})[0] \
        == 304


def test_tiles_sent_by_nginx_answer_cors_for_a_registered_app_origin_only(stack):
    front = stack[0]
    headers = get(front + "/tiles/open/t/0.glb", {"Origin": APP_ORIGIN})[2]
    assert headers["Access-Control-Allow-Origin"] == APP_ORIGIN  # an embedding page's origin
    assert "Origin" in headers["Vary"]
    # The access decision nginx cached for that origin is not reused for another one.
    other = get(front + "/tiles/open/t/0.glb", {"Origin": "http://127.0.0.1:1"})[2]
    assert "Access-Control-Allow-Origin" not in other


def test_hidden_missing_and_shared_tilesets_answer_as_the_app_does(stack):
    front, _, share = stack
    status, body, _ = get(front + "/tiles/closed/t/0.glb")
    assert status == 404 and GLB not in body
    assert get(front + "/tiles/nope/t/0.glb", {"Authorization": f"Bearer {ADMIN}"})[0] == 404
    assert get(front + "/tiles/closed/t/missing.glb",
               {"Authorization": f"Bearer {ADMIN}"})[0] == 404
    assert get(front + "/tiles/closed/t/0.glb", {"Authorization": "Bearer wrong"})[0] == 404
    status, body, headers = get(front + f"/tiles/closed/t/0.glb?share={share}")
    assert status == 200 and body == GLB
    status, body, headers = get(front + "/tiles/open/t/0.glb")
    assert status == 200 and body == GLB
    assert headers["Cache-Control"] == "public, max-age=300, must-revalidate"
    # tileset.json still goes through cimtwin (gzip copy, X-Accel-Redirect)
    status, _, headers = get(front + "/tiles/open/tileset.json", {"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"


def test_metrics_only_from_this_host_through_nginx(stack):
    front, _, _ = stack
    status, body, _ = get(front + "/metrics", {"Authorization": f"Bearer {ADMIN}"})
    assert status == 200 and b"cimtwin_http_requests_total" in body
    assert get(front + "/metrics")[0] == 401  # no token: the app refuses it
