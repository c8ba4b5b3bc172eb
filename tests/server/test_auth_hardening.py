"""Hardening: traversal that could succeed, OBJ/glTF references, size limits and zip bombs,
security headers, no paths or stack traces, no counts or source paths to anonymous users."""
import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from server.app import create_app
from server.imports import import_mesh
from tiles.errors import UnsafePathError

ADMIN = {"Authorization": "Bearer a-long-random-admin-token-for-tests"}
TILESET = {"asset": {"version": "1.1"}, "geometricError": 10,
           "root": {"boundingVolume": {"box": [0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5]},
                    "geometricError": 0, "refine": "ADD", "content": {"uri": "t/0.glb"}}}
SECRET = b"SECRET-outside-the-tileset"


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("CIMTWIN_ADMIN_TOKEN", ADMIN["Authorization"].split()[1])
    app = create_app({"data": {"dir": str(tmp_path / "data")}})
    services = app.extensions["cimtwin"]
    with services.store.staging("open") as writer:
        writer.put("tileset.json", json.dumps(TILESET).encode())
        writer.put("t/0.glb", b"glTF-bytes")
    services.catalog.add({"id": "open", "name": "open", "kind": "mesh",
                          "classification": "public", "source": "/srv/deliveries/a.obj"})
    return app


def plant_secrets(app):
    """A secret one, two and three '../' above the tileset folder, both as the symlink
    (tiles/open) and as the live version folder (tiles/.versions/open.<token>) see it."""
    store = app.extensions["cimtwin"].store
    live = store.tileset_dir("open")
    places = {store.root / "secret.txt", live.parent / "secret.txt",
              store.root.parent / "secret.txt", store.root.parent.parent / "secret.txt"}
    for place in places:
        place.write_bytes(SECRET)
    return live


@pytest.mark.parametrize("path", [
    "../secret.txt", "../../secret.txt", "../../../secret.txt", "t/../../secret.txt",
    "..%2Fsecret.txt", "%2e%2e/secret.txt", "..\\secret.txt", "%252e%252e/secret.txt",
])
def test_tile_traversal_to_a_reachable_secret_is_a_404(app, path):
    live = plant_secrets(app)
    # an unguarded join would reach the secret from the tileset folder:
    assert (live / "../secret.txt").resolve().read_bytes() == SECRET
    response = app.test_client().get(f"/tiles/open/{path}")
    assert response.status_code == 404 and SECRET not in response.data


def test_the_store_guard_is_what_stops_the_traversal(app, monkeypatch):
    plant_secrets(app)
    store = app.extensions["cimtwin"].store
    with pytest.raises(UnsafePathError):
        store.get("open", "../secret.txt")
    # without the guard, the same call reads the secret: the test above can fail
    monkeypatch.setattr(type(store), "path_for",
                        lambda self, tid, path: self.tileset_dir(tid) / path)
    assert store.get("open", "../secret.txt") == SECRET


def test_a_symlink_out_of_the_tileset_is_not_followed(app):
    live = plant_secrets(app)
    (live / "t" / "link.glb").symlink_to(live.parent / "secret.txt")
    response = app.test_client().get("/tiles/open/t/link.glb")
    assert response.status_code == 404 and SECRET not in response.data


def png(color) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(out, "PNG")
    return out.getvalue()


def quad_obj(folder, mtllib: str):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "m.obj").write_text(
        f"mtllib {mtllib}\nv 0 0 0\nv 10 0 0\nv 10 10 0\nv 0 10 0\n"
        "vt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\nusemtl skin\nf 1/1 2/2 3/3\nf 1/1 3/3 4/4\n")
    return folder / "m.obj"


def glb_bytes(app, tileset_id) -> bytes:
    store = app.extensions["cimtwin"].store
    return b"".join(store.get(tileset_id, p) for p in store.list(tileset_id) if p.endswith(".glb"))


@pytest.mark.parametrize("layout", ["mtllib-outside", "map_Kd-outside"])
def test_obj_references_outside_the_folder_are_not_embedded(app, tmp_path, layout):
    services = app.extensions["cimtwin"]
    outside = png((201, 13, 77))
    (tmp_path / "private.png").write_bytes(outside)
    folder = tmp_path / "delivery"
    if layout == "mtllib-outside":
        (tmp_path / "evil.mtl").write_text("newmtl skin\nmap_Kd private.png\n")
        obj = quad_obj(folder, "../evil.mtl")
    else:
        obj = quad_obj(folder, "m.mtl")
        (folder / "m.mtl").write_text("newmtl skin\nmap_Kd ../private.png\n")
    with pytest.warns(UserWarning, match="outside"):
        import_mesh(services, obj, crs="EPSG:4548", origin="500000,4060000,0",
                    tileset_id="evil", classification="public")
    assert outside not in glb_bytes(app, "evil")


def test_a_texture_inside_the_folder_is_embedded(app, tmp_path):
    """The counterpart: the same delivery with its texture in its folder keeps it."""
    inside = png((201, 13, 77))
    folder = tmp_path / "delivery"
    obj = quad_obj(folder, "m.mtl")
    (folder / "m.mtl").write_text("newmtl skin\nmap_Kd skin.png\n")
    (folder / "skin.png").write_bytes(inside)
    import_mesh(app.extensions["cimtwin"], obj, crs="EPSG:4548", origin="500000,4060000,0",
                tileset_id="fine", classification="public")
    assert inside in glb_bytes(app, "fine")


def test_gltf_buffers_outside_the_folder_are_refused(app, tmp_path):
    positions = np.array([[0, 0, 0], [10, 0, 0], [0, 10, 0]], dtype=np.float32).tobytes()
    (tmp_path / "private.bin").write_bytes(positions + SECRET)
    folder = tmp_path / "delivery"
    folder.mkdir()
    gltf = {"asset": {"version": "2.0"}, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0}],
            "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
            "buffers": [{"uri": "../private.bin", "byteLength": len(positions)}],
            "bufferViews": [{"buffer": 0, "byteLength": len(positions)}],
            "accessors": [{"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3",
                           "min": [0, 0, 0], "max": [10, 10, 0]}]}
    (folder / "m.gltf").write_text(json.dumps(gltf))
    with pytest.raises(Exception, match="escapes|outside|cannot read"):
        import_mesh(app.extensions["cimtwin"], folder / "m.gltf", crs="EPSG:4548",
                    origin="500000,4060000,0", tileset_id="gl", classification="public")
    assert not app.extensions["cimtwin"].store.exists("gl", "tileset.json")


def upload(client, data: bytes, name: str):
    return client.post("/api/imports/mesh", data={"file": (io.BytesIO(data), name)},
                       headers=ADMIN, content_type="multipart/form-data")


def test_request_limit_defaults_to_512_mib(app):
    assert app.config["MAX_CONTENT_LENGTH"] == 512 * 1024 * 1024


def test_an_oversized_upload_gets_413(tmp_path, monkeypatch):
    monkeypatch.setenv("CIMTWIN_ADMIN_TOKEN", ADMIN["Authorization"].split()[1])
    app = create_app({"data": {"dir": str(tmp_path / "data")},
                      "limits": {"max_request_mib": 1}})
    response = upload(app.test_client(), b"v 0 0 0\n" * (200 * 1024), "big.obj")
    assert response.status_code == 413
    assert "max_request_mib" in response.get_json()["detail"]


def zipped(name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return out.getvalue()


def test_a_zip_bomb_is_refused_before_it_is_unpacked(app):
    bomb = zipped("m.obj", b"\0" * (64 << 20))
    assert len(bomb) < 200_000
    response = upload(app.test_client(), bomb, "bomb.zip")
    assert response.status_code == 400 and "zip bomb" in response.get_json()["detail"]
    assert app.extensions.get("cimtwin.jobs") is None or not \
        app.extensions["cimtwin.jobs"].list()


def test_a_zip_past_the_unpacked_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("CIMTWIN_ADMIN_TOKEN", ADMIN["Authorization"].split()[1])
    app = create_app({"data": {"dir": str(tmp_path / "data")},
                      "limits": {"max_unzipped_mib": 4, "max_zip_ratio": 100000}})
    response = upload(app.test_client(), zipped("m.obj", b"\0" * (8 << 20)), "big.zip")
    assert response.status_code == 400 and "max_unzipped_mib" in response.get_json()["detail"]


def test_security_headers_allow_the_self_hosted_cesium_only(app):
    response = app.test_client().get("/")
    csp = response.headers["Content-Security-Policy"]
    scripts = next(d for d in csp.split("; ") if d.startswith("script-src ")).split()[1:]
    # self-hosted only: no other origin, no inline script but index.html's own (by hash)
    assert not [s for s in scripts if "://" in s or s in ("*", "'unsafe-inline'")]
    assert any(s.startswith("'sha256-") for s in scripts)
    assert "worker-src 'self' blob:" in csp and "frame-ancestors 'self'" in csp
    assert "object-src 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_health_shows_no_data_dir_and_no_counts(app):
    body = app.test_client().get("/api/health").get_json()
    assert body["status"] == "ok"
    text = json.dumps(body)
    assert str(app.extensions["cimtwin"].data_dir) not in text and "tilesets" not in body


def test_tileset_detail_never_shows_the_source_path(app):
    for headers in ({}, ADMIN):
        body = app.test_client().get("/api/tilesets/open", headers=headers)
        assert body.status_code == 200 and b"/srv/deliveries" not in body.data


def test_errors_show_no_paths_and_no_stack_traces(app, monkeypatch):
    services = app.extensions["cimtwin"]

    def broken(tileset_id):
        raise RuntimeError(f"disk failure in {services.data_dir}/catalog.sqlite")
    monkeypatch.setattr(services.catalog, "get", broken)
    response = app.test_client().get("/api/tilesets/open")
    assert response.status_code == 500
    assert str(services.data_dir) not in response.get_data(as_text=True)
    assert b"Traceback" not in response.data


def test_failed_jobs_show_no_paths_or_traces(app):
    client = app.test_client()
    form = {"file": (io.BytesIO(b"this is no mesh"), "m.obj"), "crs": "EPSG:4548"}
    job = client.post("/api/imports/mesh", data=form, headers=ADMIN,
                      content_type="multipart/form-data").get_json()
    app.extensions["cimtwin.jobs"].wait(job["id"], timeout=60)
    body = client.get(f"/api/jobs/{job['id']}", headers=ADMIN)
    assert body.get_json()["state"] == "failed"
    assert str(app.extensions["cimtwin"].data_dir) not in body.get_data(as_text=True)
    assert b"Traceback" not in body.data
