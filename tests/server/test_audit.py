"""The audit log: what is recorded, tamper evidence (`cimtwin audit verify`), the API."""
import json
import os
import sqlite3
import subprocess
import sys

import pytest

from server.app import create_app

PASSWORD = "correct horse battery"
TILESET = {"asset": {"version": "1.1"}, "geometricError": 10,
           "root": {"boundingVolume": {"box": [0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5]},
                    "geometricError": 0, "refine": "ADD"}}


@pytest.fixture
def app(tmp_path):
    app = create_app({"data": {"dir": str(tmp_path / "data")}})
    services = app.extensions["cimtwin"]
    for name, role in (("pia", "planner"), ("audrey", "auditor"), ("dora", "data-admin")):
        services.security.users.add(name, role, PASSWORD)
    for tid, level in (("open", "public"), ("inner", "internal"), ("secret", "restricted")):
        with services.store.staging(tid) as writer:
            writer.put("tileset.json", json.dumps(TILESET).encode())
        services.catalog.add({"id": tid, "name": tid, "kind": "mesh", "classification": level})
    return app


def login(client, name):
    response = client.post("/api/login", json={"username": name, "password": PASSWORD})
    assert response.status_code == 200
    return {"X-CSRF-Token": response.get_json()["csrf"]}


def records(app):
    return app.extensions["cimtwin"].security.audit.query()


def test_logins_writes_refusals_and_non_public_reads_are_recorded(app):
    client = app.test_client()
    client.post("/api/login", json={"username": "pia", "password": "wrong password"})
    login(client, "pia")
    client.get("/tiles/open/tileset.json")           # public: not recorded
    client.get("/tiles/inner/tileset.json")          # internal: recorded once
    client.get("/tiles/inner/tileset.json")
    client.get("/tiles/secret/tileset.json")         # hidden: a refused 404
    client.post("/api/shares", json={"dataset": "inner"})  # no CSRF, no right: refused
    got = [(r["actor"], r["action"], r["target"], r["outcome"]) for r in records(app)]
    assert got == [
        ("anonymous", "login", "pia", "failed"),
        ("pia", "login", "pia", "ok"),
        ("pia", "read", "tileset:inner", "ok"),
        ("pia", "refused", "tileset:secret", "refused"),
        ("pia", "write POST /api/shares", "/api/shares", "refused"),
    ]
    first = records(app)[1]
    assert first["role"] == "planner" and first["via"] == "session"
    assert first["address"] == "127.0.0.1" and first["time"].endswith("+00:00")


def test_each_record_holds_the_hash_of_the_one_before(app):
    client = app.test_client()
    login(client, "pia")
    client.get("/tiles/inner/tileset.json")
    chain = records(app)
    assert chain[0]["prev"] == "0" * 64
    assert chain[1]["prev"] == chain[0]["hash"]


def verify(data_dir):
    env = dict(os.environ, CIMTWIN_DATA_DIR=str(data_dir))
    return subprocess.run([sys.executable, "-m", "server.cli", "audit", "verify"], env=env,
                          capture_output=True, text=True, timeout=120)


def make_history(app, count=6):
    client = app.test_client()
    for _ in range(count):
        client.post("/api/login", json={"username": "pia", "password": "wrong password"})


def tamper(app, *statements):
    """What someone with the file could do: drop the append-only triggers, change rows."""
    path = app.extensions["cimtwin"].data_dir / "audit.sqlite"
    db = sqlite3.connect(path)
    db.execute("DROP TRIGGER records_no_update")
    db.execute("DROP TRIGGER records_no_delete")
    for statement in statements:
        db.execute(statement)
    db.commit()
    db.close()


def test_verify_passes_on_an_untouched_log(app):
    make_history(app)
    done = verify(app.extensions["cimtwin"].data_dir)
    assert done.returncode == 0 and "6 records" in done.stdout


def test_an_edited_record_fails_verify_and_is_named(app):
    make_history(app)
    tamper(app, "UPDATE records SET actor = 'someone-else' WHERE seq = 3")
    done = verify(app.extensions["cimtwin"].data_dir)
    assert done.returncode == 1
    assert "record 3: content edited" in done.stdout


def test_a_removed_record_fails_verify_and_is_named(app):
    make_history(app)
    tamper(app, "DELETE FROM records WHERE seq = 4")
    done = verify(app.extensions["cimtwin"].data_dir)
    assert done.returncode == 1 and "record 5" in done.stdout and "4..4 removed" in done.stdout


def test_removing_the_newest_records_fails_verify(app):
    make_history(app)
    tamper(app, "DELETE FROM records WHERE seq >= 5")
    done = verify(app.extensions["cimtwin"].data_dir)
    assert done.returncode == 1 and "5..6 removed" in done.stdout


def test_reordered_records_fail_verify(app):
    make_history(app)
    tamper(app, "UPDATE records SET seq = 100 WHERE seq = 2",
           "UPDATE records SET seq = 2 WHERE seq = 3",
           "UPDATE records SET seq = 3 WHERE seq = 100")
    done = verify(app.extensions["cimtwin"].data_dir)
    assert done.returncode == 1 and "record 2" in done.stdout


def test_the_store_refuses_updates_and_deletes(app):
    make_history(app, 1)
    db = sqlite3.connect(app.extensions["cimtwin"].data_dir / "audit.sqlite")
    for statement in ("UPDATE records SET actor='x'", "DELETE FROM records"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute(statement)


def test_only_the_auditor_reads_the_log_and_nobody_changes_it(app):
    client = app.test_client()
    make_history(app, 2)
    assert client.get("/api/audit").status_code == 401
    login(client, "dora")  # data-admin: not an auditor
    assert client.get("/api/audit").status_code == 403
    client = app.test_client()
    headers = login(client, "audrey")
    listed = client.get("/api/audit?action=login&outcome=failed").get_json()
    assert [r["outcome"] for r in listed] == ["failed", "failed"]
    csv = client.get("/api/audit?format=csv&actor=anonymous&action=login")
    assert csv.mimetype == "text/csv"
    assert csv.data.decode().splitlines()[0].startswith("seq,time,actor,role")
    assert len(csv.data.decode().splitlines()) == 3
    for method in ("post", "put", "patch", "delete"):
        assert getattr(client, method)("/api/audit", headers=headers).status_code == 405
    assert verify(app.extensions["cimtwin"].data_dir).returncode == 0


def test_retention_prunes_old_records_and_the_chain_still_verifies(app):
    make_history(app, 4)
    log = app.extensions["cimtwin"].security.audit
    tamper(app, "UPDATE records SET time = '2020-01-01T00:00:00+00:00' WHERE seq <= 2")
    # re-seal: the two old records are what a 2020 log would hold (hashes recomputed)
    from server.audit import record_hash
    db = sqlite3.connect(log.path)
    prev = "0" * 64
    for row in db.execute("SELECT * FROM records ORDER BY seq").fetchall():
        rec = dict(zip([c[0] for c in db.execute("SELECT * FROM records").description], row))
        digest = record_hash(rec, prev)
        db.execute("UPDATE records SET prev=?, hash=? WHERE seq=?", (prev, digest, rec["seq"]))
        prev = digest
    db.execute("INSERT OR REPLACE INTO meta VALUES ('head', ?)", (f"4:{prev}",))
    db.commit()
    assert log.verify().ok
    assert log.prune(180) == 2
    assert [r["seq"] for r in log.query()] == [3, 4]
    assert log.verify().ok
