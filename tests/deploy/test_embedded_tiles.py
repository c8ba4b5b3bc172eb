"""The embedded tile path: gzip tileset.json, one ETag per file version, hidden stays 404."""
from __future__ import annotations

import gzip
import json

import pytest

from server.app import create_app
from tests.deploy.helpers import ADMIN, GLB, TILESET, publish_two


@pytest.fixture
def client(tmp_path, monkeypatch):
    monkeypatch.setenv("CIMTWIN_ADMIN_TOKEN", ADMIN)
    publish_two(tmp_path / "data")
    return create_app({"data": {"dir": str(tmp_path / "data")}}).test_client()


def test_tileset_json_gzip_when_accepted_and_plain_otherwise(client):
    zipped = client.get("/tiles/open/tileset.json", headers={"Accept-Encoding": "gzip, br"})
    assert zipped.status_code == 200 and zipped.headers["Content-Encoding"] == "gzip"
    # publish_two registers an app origin (CORS), so the answer varies by Origin as well
    assert {v.strip() for v in zipped.headers["Vary"].split(",")} == {"Accept-Encoding", "Origin"}
    assert json.loads(gzip.decompress(zipped.data)) == TILESET
    plain = client.get("/tiles/open/tileset.json")
    assert "Content-Encoding" not in plain.headers and plain.get_json() == TILESET
    assert plain.headers["ETag"] != zipped.headers["ETag"]   # two representations
    again = client.get("/tiles/open/tileset.json",
                       headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]})
    assert again.status_code == 304


def test_hidden_tileset_is_404_with_and_without_gzip(client):
    for headers in ({}, {"Accept-Encoding": "gzip"}):
        assert client.get("/tiles/closed/tileset.json", headers=headers).status_code == 404
        assert client.get("/tiles/closed/t/0.glb", headers=headers).status_code == 404
    admin = {"Authorization": f"Bearer {ADMIN}"}
    assert client.get("/tiles/closed/t/0.glb", headers=admin).data == GLB


def test_accel_prefix_answers_a_redirect_without_bytes(tmp_path, monkeypatch):
    monkeypatch.setenv("CIMTWIN_ADMIN_TOKEN", ADMIN)
    publish_two(tmp_path / "data")
    app = create_app({"data": {"dir": str(tmp_path / "data")},
                      "server": {"accel_redirect_prefix": "/_tiles/"}})
    response = app.test_client().get("/tiles/open/t/0.glb")
    assert response.status_code == 200 and response.data == b""
    target = response.headers["X-Accel-Redirect"]
    store_root = app.extensions["cimtwin"].store.root
    assert (store_root / target.removeprefix("/_tiles/")).read_bytes() == GLB
    assert app.test_client().get("/tiles/closed/t/0.glb").status_code == 404
