"""HTTP: tilesets and tiles — listing by classification, content types, ETag, traversal."""
import json

import pytest

from server.app import create_app
from tiles.store import write_tileset

TILESET = {"asset": {"version": "1.1"}, "geometricError": 10,
           "root": {"boundingVolume": {"box": [0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5]},
                    "geometricError": 0, "refine": "ADD", "content": {"uri": "t/0.glb"}}}


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("CIMTWIN_ADMIN_TOKEN", "admin-secret")
    (tmp_path / "outside.txt").write_text("secret outside the store")
    app = create_app({"data": {"dir": str(tmp_path / "data")}})
    services = app.extensions["cimtwin"]
    for tid, level in (("open", "public"), ("closed", "restricted")):
        write_tileset(services.store, tid, {"tileset.json": json.dumps(TILESET).encode(),
                                            "t/0.glb": b"glTF-bytes-for-the-http-test"})
        services.catalog.add({"id": tid, "name": tid, "kind": "mesh", "classification": level,
                              "bounds": [117.1, 36.6, 117.2, 36.7], "height": [0, 10]})
    # The secret also where '../' and '../../' from the tileset folder would reach it
    # (tests/server/test_auth_hardening.py shows an unguarded join does read it).
    live = services.store.tileset_dir("open")
    for place in (live.parent, services.store.root, services.store.root.parent):
        (place / "outside.txt").write_text("secret outside the store")
    return app


def test_health_and_errors_are_json(app):
    client = app.test_client()
    assert client.get("/api/health").get_json()["status"] == "ok"
    missing = client.get("/api/tilesets/nope")
    assert missing.status_code == 404
    assert missing.mimetype == "application/problem+json"
    assert "nope" in missing.get_json()["detail"]
    assert client.get("/no/such/route").get_json()["status"] == 404


def test_anonymous_users_see_public_tilesets_only(app):
    client = app.test_client()
    listed = client.get("/api/tilesets").get_json()
    assert [t["id"] for t in listed] == ["open"]
    assert set(listed[0]) >= {"id", "name", "kind", "bounds", "classification", "created"}
    assert client.get("/api/tilesets/closed").status_code == 404
    assert client.get("/tiles/closed/tileset.json").status_code == 404
    admin = {"Authorization": "Bearer admin-secret"}
    listed = client.get("/api/tilesets", headers=admin).get_json()
    assert {t["id"] for t in listed} == {"open", "closed"}
    assert client.get("/tiles/closed/tileset.json", headers=admin).status_code == 200


def test_tiles_have_content_types_etag_and_conditional_get(app):
    client = app.test_client()
    first = client.get("/tiles/open/tileset.json")
    assert first.status_code == 200 and first.mimetype == "application/json"
    assert first.get_json()["asset"]["version"] == "1.1"
    etag = first.headers["ETag"]
    again = client.get("/tiles/open/tileset.json", headers={"If-None-Match": etag})
    assert again.status_code == 304
    glb = client.get("/tiles/open/t/0.glb")
    assert glb.mimetype == "model/gltf-binary" and glb.data.startswith(b"glTF")


@pytest.mark.parametrize("path", [
    "../../outside.txt", "..%2F..%2Foutside.txt", "%2e%2e/%2e%2e/outside.txt",
    "t/../../../outside.txt", "..\\..\\outside.txt", "%252e%252e/outside.txt",
    "t/%00.glb", "/etc/passwd",
])
def test_traversal_is_a_404_and_reads_nothing_outside(app, path):
    response = app.test_client().get(f"/tiles/open/{path}", follow_redirects=True)
    assert response.status_code == 404
    assert b"secret outside" not in response.data
    assert response.mimetype == "application/problem+json"


def test_unknown_tile_in_known_tileset_is_404(app):
    assert app.test_client().get("/tiles/open/t/404.glb").status_code == 404
