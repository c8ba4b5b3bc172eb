"""Real cimtwin server processes for the metrics tests: gunicorn with a gevent worker.

This is the documented deployment (README "Live metrics at scale"): each worker is
evented, so one holds thousands of open streams.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.services import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
TOKENS = {"CIMTWIN_INGEST_TOKEN": "ingest-secret", "CIMTWIN_ADMIN_TOKEN": "admin-secret"}


class LiveServer:
    """One gunicorn master with ``workers`` gevent workers on a free loopback port."""

    def __init__(self, data_dir: Path, *, store_url: str = "sqlite://metrics.sqlite",
                 bus_url: str = "memory://", workers: int = 1, keepalive_s: float = 1.0):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        self.log = Path(data_dir) / f"server-{self.port}.log"
        env = {**os.environ, **TOKENS, "CIMTWIN_DATA_DIR": str(data_dir),
               "CIMTWIN_METRICS__STORE_URL": store_url, "CIMTWIN_METRICS__BUS_URL": bus_url,
               "CIMTWIN_SERVER__SSE_KEEPALIVE_S": str(keepalive_s),
               "PYTHONPATH": str(ROOT)}
        argv = [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", str(workers),
                "--worker-connections", "3000", "-b", f"127.0.0.1:{self.port}",
                "--graceful-timeout", "2", "--no-control-socket", "server.app:create_app()"]
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        wait_for_port(self.port, 60, self.process, self.log)

    def kill9(self) -> None:
        """SIGKILL the master and its workers at once (no shutdown code runs)."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill9()
