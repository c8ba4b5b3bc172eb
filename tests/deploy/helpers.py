"""A published test tileset and a `cimtwin serve --workers N` process for the deploy tests."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from server.config import load_config
from server.services import Services
from tests.services import free_port, wait_for_port
from tiles.store import write_tileset

ROOT = Path(__file__).resolve().parents[2]
ADMIN = "admin-secret"
TILESET = {"asset": {"version": "1.1"}, "geometricError": 10,
           "root": {"boundingVolume": {"box": [0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5]},
                    "geometricError": 0, "refine": "ADD", "content": {"uri": "t/0.glb"}},
           "extras": {"padding": "x" * 4000}}  # big enough that gzip pays
GLB = b"glTF-bytes-for-the-deploy-test" * 100
APP_ORIGIN = "http://127.0.0.1:9"  # a registered app's web origin (CORS; nothing listens)


def publish_two(data_dir: Path) -> None:
    """'open' (public) and 'closed' (internal) tilesets with the same files, and an app
    registered with APP_ORIGIN (an embedding page's origin)."""
    services = Services(load_config({"data": {"dir": str(data_dir)}}))
    services.security.apps.add("embedder", ["read:tiles"], origins=[APP_ORIGIN])
    for tid, level in (("open", "public"), ("closed", "internal")):
        write_tileset(services.store, tid, {"tileset.json": json.dumps(TILESET).encode(),
                                            "t/0.glb": GLB})
        services.catalog.add({"id": tid, "name": tid, "kind": "mesh", "classification": level,
                              "bounds": [117.1, 36.6, 117.2, 36.7], "height": [0, 10]})


class Workers:
    """`cimtwin serve --workers N` on a free loopback port (the real CLI entry point)."""

    def __init__(self, data_dir: Path, workers: int, env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir / f"serve-{self.port}.log"
        full_env = {**os.environ, "CIMTWIN_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT),
                    "CIMTWIN_ADMIN_TOKEN": ADMIN, "CIMTWIN_SERVER__SSE_KEEPALIVE_S": "1",
                    **(env or {})}
        argv = [sys.executable, "-m", "server.cli", "serve", "--workers", str(workers),
                "--host", "127.0.0.1", "--port", str(self.port)]
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(argv, cwd=data_dir, env=full_env, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        wait_for_port(self.port, 60, self.process, self.log)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # gunicorn: graceful stop of master and workers
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
