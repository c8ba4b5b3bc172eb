"""Share links: read of one dataset, expiring, revocable, audited; never restricted data."""
import json
import os
import subprocess
import sys

import pytest

from server.app import create_app

PASSWORD = "correct horse battery"
TILESET = {"asset": {"version": "1.1"}, "geometricError": 10,
           "root": {"boundingVolume": {"box": [0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5]},
                    "geometricError": 0, "refine": "ADD", "content": {"uri": "t/0.glb"}}}


@pytest.fixture
def app(tmp_path):
    app = create_app({"data": {"dir": str(tmp_path / "data")}})
    services = app.extensions["cimtwin"]
    services.security.users.add("dora", "data-admin", PASSWORD)
    services.security.users.add("pia", "planner", PASSWORD)
    for tid, level in (("inner", "internal"), ("other", "internal"), ("secret", "restricted")):
        with services.store.staging(tid) as writer:
            writer.put("tileset.json", json.dumps(TILESET).encode())
            writer.put("t/0.glb", b"glTF-" + tid.encode())
        services.catalog.add({"id": tid, "name": tid, "kind": "mesh", "classification": level})
    return app


def signed_in(app, name):
    client = app.test_client()
    csrf = client.post("/api/login", json={"username": name, "password": PASSWORD}) \
        .get_json()["csrf"]
    return client, {"X-CSRF-Token": csrf}


def make_share(app, dataset="inner", **body):
    client, headers = signed_in(app, "dora")
    response = client.post("/api/shares", json={"dataset": dataset, **body}, headers=headers)
    return response


def test_a_share_link_reads_that_dataset_and_nothing_else(app):
    share = make_share(app, note="for the design institute").get_json()
    assert share["url"].endswith(f"/tiles/inner/tileset.json?share={share['token']}")
    anonymous = app.test_client()
    token = share["token"]
    assert anonymous.get("/tiles/inner/tileset.json").status_code == 404
    assert anonymous.get(f"/tiles/inner/tileset.json?share={token}").status_code == 200
    tile = anonymous.get(f"/tiles/inner/t/0.glb?share={token}")
    assert tile.status_code == 200 and tile.data == b"glTF-inner"
    assert anonymous.get(f"/tiles/other/tileset.json?share={token}").status_code == 404
    assert anonymous.get(f"/api/tilesets/other?share={token}").status_code == 404
    listed = anonymous.get(f"/api/tilesets?share={token}").get_json()
    assert "other" not in [t["id"] for t in listed]


def test_a_forged_or_altered_share_token_reads_nothing(app):
    token = make_share(app).get_json()["token"]
    share_id, signature = token.split(".")
    client = app.test_client()
    altered = f"{share_id}.{'0' * len(signature)}"
    assert client.get(f"/tiles/inner/tileset.json?share={altered}").status_code == 404


def test_revoked_and_expired_shares_stop_working(app):
    share = make_share(app, expires="1m").get_json()
    client = app.test_client()
    url = f"/tiles/inner/tileset.json?share={share['token']}"
    assert client.get(url).status_code == 200
    app.extensions["cimtwin"].security.shares.revoke(share["id"])
    assert client.get(url).status_code == 404
    second = make_share(app).get_json()
    db = app.extensions["cimtwin"].security.db.connect()
    db.execute("UPDATE shares SET expires='2020-01-01T00:00:00+00:00' WHERE id=?",
               (second["id"],))
    # an expired share reads nothing
    assert client.get(f"/tiles/inner/tileset.json?share={second['token']}").status_code == 404


def test_restricted_data_is_never_shared(app):
    refused = make_share(app, dataset="secret")
    assert refused.status_code == 400 and "restricted" in refused.get_json()["detail"]
    share = make_share(app).get_json()
    app.extensions["cimtwin"].catalog.add({"id": "inner", "name": "inner", "kind": "mesh",
                                           "classification": "restricted"})
    client = app.test_client()
    assert client.get(f"/tiles/inner/tileset.json?share={share['token']}").status_code == 404


def test_only_roles_with_share_may_create_shares(app):
    client, headers = signed_in(app, "pia")
    assert client.post("/api/shares", json={"dataset": "inner"},
                       headers=headers).status_code == 403
    assert app.test_client().post("/api/shares", json={"dataset": "inner"}).status_code == 401


def test_every_use_of_a_share_is_audited(app):
    share = make_share(app).get_json()
    app.test_client().get(f"/tiles/inner/tileset.json?share={share['token']}")
    uses = app.extensions["cimtwin"].security.audit.query(action="share.use")
    assert [(u["target"], u["detail"]["share"]) for u in uses] == [("tileset:inner", share["id"])]


def test_share_cli_create_list_revoke(app, tmp_path):
    env = dict(os.environ, CIMTWIN_DATA_DIR=str(app.extensions["cimtwin"].data_dir))

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "server.cli", "share", *args], env=env,
                              capture_output=True, text=True, timeout=120)
    made = cli("create", "inner", "--expires", "7d", "--note", "survey", "--json")
    assert made.returncode == 0, made.stderr
    share = json.loads(made.stdout)
    assert share["note"] == "survey" and "?share=" in share["url"]
    client = app.test_client()
    url = f"/tiles/inner/tileset.json?share={share['token']}"
    assert client.get(url).status_code == 200
    assert share["id"] in cli("list").stdout
    assert cli("revoke", share["id"]).returncode == 0
    assert client.get(url).status_code == 404
    refused = cli("create", "secret")
    assert refused.returncode == 1 and "restricted" in refused.stderr
