"""kill -9 during an import: the previous version of that tileset keeps serving, unchanged,
and the catalog is intact. The import runs in a real process that is really killed."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

from server.app import create_app
from server.imports import import_mesh
from tests.server.test_backup import grid_obj

ADMIN_TOKEN = "a-long-random-admin-token-for-crash-tests"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def served(app, tileset_id):
    client, store = app.test_client(), app.extensions["cimtwin"].store
    return {p: client.get(f"/tiles/{tileset_id}/{p}", headers=ADMIN).data
            for p in store.list(tileset_id)}


def wait_for(predicate, process, limit_s=600):
    """Until ``predicate()`` holds (the import reached its write phase), bounded."""
    deadline = time.monotonic() + limit_s
    while not predicate():
        assert process.poll() is None, "the import ended before it was killed"
        assert time.monotonic() < deadline, "the import never started writing tiles"
        time.sleep(0.05)


def test_kill_9_during_a_reimport_keeps_the_previous_version(tmp_path, monkeypatch):
    monkeypatch.setenv("CIMTWIN_ADMIN_TOKEN", ADMIN_TOKEN)
    data = tmp_path / "data"
    app = create_app({"data": {"dir": str(data)}})
    services = app.extensions["cimtwin"]
    import_mesh(services, grid_obj(tmp_path / "v1.obj", 10, 0.0), crs="EPSG:4548",
                origin="500000,4060000,0", tileset_id="site", classification="public")
    before_tiles, before_entry = served(app, "site"), services.catalog.get("site")
    big = grid_obj(tmp_path / "v2.obj", 450, 5.0)  # ~400k triangles: a build of seconds
    script = textwrap.dedent(f"""
        from server.config import load_config
        from server.imports import import_mesh
        from server.services import open_services
        services = open_services(load_config())
        import_mesh(services, {str(big)!r}, crs="EPSG:4548", origin="500000,4060000,0",
                    tileset_id="site", classification="internal",
                    compression="none")
    """)
    env = dict(os.environ, CIMTWIN_DATA_DIR=str(data))
    process = subprocess.Popen([sys.executable, "-c", script], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    staging = services.store.root / ".staging"
    try:
        wait_for(lambda: staging.is_dir() and any(p.suffix == ".glb"
                                                  for p in staging.rglob("*")), process)
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=60) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
        process.stderr.close()
    # killed mid-build: its half-written version is still in staging, never published
    assert any(staging.rglob("*.glb"))
    after = create_app({"data": {"dir": str(data)}})
    assert served(after, "site") == before_tiles
    assert after.extensions["cimtwin"].catalog.get("site") == before_entry
    assert json.loads(before_tiles["tileset.json"])["asset"]["version"] == "1.1"
    for name in ("catalog.sqlite", "audit.sqlite", "users.sqlite"):
        db = sqlite3.connect(data / name)
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        db.close()
    assert after.extensions["cimtwin"].security.audit.verify().ok
