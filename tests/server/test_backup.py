"""Backup -> restore round trip (tilesets, layers, users, audit, byte-identical tiles),
incremental second backup, verify finding damage, restore refusing a non-empty folder."""
import json
import os
import subprocess
import sys

import pytest

from layers.importer import import_layer
from server.app import create_app
from server.imports import import_mesh

ADMIN_TOKEN = "a-long-random-admin-token-for-backup-tests"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def grid_obj(path, n: int, lift: float):
    """An n x n grid surface (a small terrain) as OBJ."""
    lines = [f"v {x * 5.0} {y * 5.0} {lift + (x * y) % 7}" for y in range(n + 1)
             for x in range(n + 1)]
    for y in range(n):
        for x in range(n):
            a = y * (n + 1) + x + 1
            lines += [f"f {a} {a + 1} {a + n + 2}", f"f {a} {a + n + 2} {a + n + 1}"]
    path.write_text("\n".join(lines) + "\n")
    return path


def cli(data_dir, *args):
    env = dict(os.environ, CIMTWIN_DATA_DIR=str(data_dir))
    return subprocess.run([sys.executable, "-m", "server.cli", *args], env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def source(tmp_path, monkeypatch):
    monkeypatch.setenv("CIMTWIN_ADMIN_TOKEN", ADMIN_TOKEN)
    app = create_app({"data": {"dir": str(tmp_path / "data")}})
    services = app.extensions["cimtwin"]
    for name, lift, level in (("ground", 0.0, "public"), ("site", 30.0, "internal")):
        import_mesh(services, grid_obj(tmp_path / f"{name}.obj", 12, lift), crs="EPSG:4548",
                    origin="500000,4060000,0", tileset_id=name, classification=level)
    geojson = tmp_path / "f.geojson"
    geojson.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [117.13, 36.66]},
         "properties": {"name": "学校"}}]}))
    import_layer(services.layers, geojson, layer_id="schools", classification="internal")
    services.security.users.add("pia", "planner", "correct horse battery")
    client = app.test_client()
    client.post("/api/login", json={"username": "pia", "password": "correct horse battery"})
    client.get("/tiles/site/tileset.json")
    return app


def snapshot_of(app) -> dict:
    """What a user of the server sees: tilesets, every tile's bytes, layers, users, audit."""
    client, services = app.test_client(), app.extensions["cimtwin"]
    tilesets = client.get("/api/tilesets", headers=ADMIN).get_json()
    tiles = {}
    for entry in tilesets:
        for path in services.store.list(entry["id"]):
            tiles[f"{entry['id']}/{path}"] = client.get(f"/tiles/{entry['id']}/{path}",
                                                        headers=ADMIN).data
    layers = client.get("/ogc/collections", headers=ADMIN).get_json()["collections"]
    return {"tilesets": tilesets, "tiles": tiles,
            "layers": sorted(c["id"] for c in layers),
            "users": [u.to_dict() for u in services.security.users.list()],
            "audit": [(r["seq"], r["hash"]) for r in services.security.audit.query()]}


def test_backup_restore_round_trip_serves_the_same_data(source, tmp_path):
    before = snapshot_of(source)
    data_dir = source.extensions["cimtwin"].data_dir
    done = cli(data_dir, "backup", str(tmp_path / "backup"), "--json")
    assert done.returncode == 0, done.stderr
    restored = tmp_path / "restored"
    done = cli(data_dir, "restore", str(tmp_path / "backup"), "--into", str(restored))
    assert done.returncode == 0, done.stderr
    after_app = create_app({"data": {"dir": str(restored)}})
    after = snapshot_of(after_app)
    assert after["tilesets"] == before["tilesets"]
    assert after["tiles"].keys() == before["tiles"].keys() and len(after["tiles"]) >= 4
    assert all(after["tiles"][k] == before["tiles"][k] for k in before["tiles"])
    assert after["layers"] == before["layers"] == ["schools"]
    assert after["users"] == before["users"]
    # the same chain (the restored server then appends its own reads to it)
    assert after["audit"][:len(before["audit"])] == before["audit"]
    assert len(before["audit"]) >= 2
    assert after_app.extensions["cimtwin"].security.users.authenticate(
        "pia", "correct horse battery") is not None
    assert cli(restored, "audit", "verify").returncode == 0


def test_a_second_backup_copies_only_the_new_tileset(source, tmp_path):
    services = source.extensions["cimtwin"]
    first = json.loads(cli(services.data_dir, "backup", str(tmp_path / "b"), "--json").stdout)
    assert first["copied_files"] == first["tile_files"]
    import_mesh(services, grid_obj(tmp_path / "tower.obj", 6, 80.0), crs="EPSG:4548",
                origin="500100,4060100,0", tileset_id="tower", classification="public")
    new_files = list(services.store.list("tower"))
    second = json.loads(cli(services.data_dir, "backup", str(tmp_path / "b"), "--json").stdout)
    assert second["tile_files"] == first["tile_files"] + len(new_files)
    assert second["copied_files"] == len(new_files)
    new_bytes = sum(len(services.store.get("tower", p)) for p in new_files)
    assert second["copied_bytes"] == new_bytes


def test_verify_finds_a_damaged_tile_or_database(source, tmp_path):
    data_dir = source.extensions["cimtwin"].data_dir
    backup = tmp_path / "b"
    assert cli(data_dir, "backup", str(backup)).returncode == 0
    ok = cli(data_dir, "backup", "verify", str(backup))
    assert ok.returncode == 0 and "backup OK" in ok.stdout
    victim = next(p for p in (backup / "objects").rglob("*") if p.is_file())
    victim.write_bytes(victim.read_bytes()[:-1] + b"!")
    catalog = next((backup / "snapshots").glob("*/db/catalog.sqlite"))
    with open(catalog, "r+b") as handle:
        handle.seek(200)
        handle.write(b"damage")
    bad = cli(data_dir, "backup", "verify", str(backup))
    assert bad.returncode == 1
    assert f"object {victim.name[:12]}" in bad.stdout and "catalog.sqlite" in bad.stdout


def test_restore_refuses_a_folder_that_is_not_empty(source, tmp_path):
    data_dir = source.extensions["cimtwin"].data_dir
    assert cli(data_dir, "backup", str(tmp_path / "b")).returncode == 0
    done = cli(data_dir, "restore", str(tmp_path / "b"), "--into", str(data_dir))
    assert done.returncode == 1 and "not empty" in done.stderr


def test_backup_inside_the_data_dir_is_refused(source):
    data_dir = source.extensions["cimtwin"].data_dir
    done = cli(data_dir, "backup", str(data_dir / "backups"))
    assert done.returncode == 1 and "inside the data dir" in done.stderr
