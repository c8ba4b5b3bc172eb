"""Behind real nginx: cimtwin authorizes each tile, nginx sends the bytes (X-Accel-Redirect).

The site without its auth_request block (tests/deploy/test_tile_access.py has that one)."""
from __future__ import annotations

import gzip
import json
import urllib.request

import pytest

from deploy.render import nginx_site
from tests.deploy.helpers import ADMIN, APP_ORIGIN, GLB, TILESET, Workers, publish_two
from tests.services import free_port, start_nginx


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    data = tmp_path_factory.mktemp("accel") / "data"
    publish_two(data)
    app = Workers(data, 1, {"CIMTWIN_SERVER__ACCEL_REDIRECT_PREFIX": "/_tiles/"})
    port = free_port()
    site = nginx_site(f"127.0.0.1:{port}", f"127.0.0.1:{app.port}", data, tile_access=False)
    nginx = start_nginx(site, data.parent / "nginx", port)
    yield f"http://127.0.0.1:{port}", app
    nginx.stop()
    app.stop()


def get(url: str, headers: dict | None = None):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers


def test_public_tile_through_nginx_with_the_apps_etag(stack):
    front, app = stack
    status, body, headers = get(front + "/tiles/open/t/0.glb")
    assert status == 200 and body == GLB
    assert headers["Content-Type"] == "model/gltf-binary"
    assert "X-Accel-Redirect" not in headers
    direct = get(app.url + "/tiles/open/t/0.glb")[2]   # what the app itself decided
    assert direct["X-Accel-Redirect"] and headers["ETag"] == direct["ETag"]
    assert headers["Cache-Control"] == "public, max-age=300, must-revalidate"
    again = get(front + "/tiles/open/t/0.glb", {"If-None-Match": headers["ETag"]})
    assert again[0] == 304


def test_accel_redirected_tiles_keep_the_apps_cors_answer(stack):
    front, _ = stack
    for path in ("/tiles/open/t/0.glb", "/tiles/open/tileset.json"):
        headers = get(front + path, {"Origin": APP_ORIGIN, "Accept-Encoding": "gzip"})[2]
        assert headers["Access-Control-Allow-Origin"] == APP_ORIGIN, path
        assert "Access-Control-Allow-Origin" not in get(front + path,
                                                        {"Origin": "http://127.0.0.1:1"})[2]


def test_internal_tileset_needs_authorization_through_nginx(stack):
    front, _ = stack
    assert get(front + "/tiles/closed/t/0.glb")[0] == 404
    assert get(front + "/tiles/closed/tileset.json")[0] == 404
    status, body, headers = get(front + "/tiles/closed/t/0.glb",
                                {"Authorization": f"Bearer {ADMIN}"})
    assert status == 200 and body == GLB
    assert headers["Cache-Control"].startswith("private")


def test_the_internal_location_cannot_be_requested_directly(stack):
    front, app = stack
    location = get(app.url + "/tiles/closed/t/0.glb",
                   {"Authorization": f"Bearer {ADMIN}"})[2]["X-Accel-Redirect"]
    assert location.startswith("/_tiles/")
    status, body, _ = get(front + location)
    assert status == 404 and GLB not in body


def test_tileset_json_precompressed_when_accepted(stack):
    front, _ = stack
    status, body, headers = get(front + "/tiles/open/tileset.json", {"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(body)) == TILESET
    status, body, headers = get(front + "/tiles/open/tileset.json")
    assert status == 200 and headers.get("Content-Encoding") is None
    assert json.loads(body) == TILESET
