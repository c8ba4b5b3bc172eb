"""`cimtwin serve --workers N`: the same app factory and config under gunicorn.

Workers are gevent workers (a Server-Sent Events stream is a greenlet, not a thread), each
building its own app after the fork (no preload: SQLite and socket handles are per
process). gunicorn and gevent load only here, only for this command. docs/deploy.md.

Operations (server/observability.py): the workers share their Prometheus values through
``PROMETHEUS_MULTIPROC_DIR`` (``<data>/run/prometheus`` unless set; emptied when the
master starts, a dead worker's live gauges dropped). On SIGTERM each worker stops
accepting, finishes its requests, ends its live streams with a retry hint, and marks its
unfinished imports 'interrupted'; the next workers to start resume them. A worker that
dies (kill -9) is replaced by the master; its imports are found and resumed the same way.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from server.config import Config

#: gunicorn settings that hold for every cimtwin deployment (docs/deploy.md).
BASE_OPTIONS = {
    "worker_class": "gevent",
    "worker_connections": 1000,   # streams + tile requests per worker
    "timeout": 120,               # a worker silent this long is restarted
    "graceful_timeout": 20,
    "keepalive": 5,
    "preload_app": False,
    "accesslog": None,
    "errorlog": "-",
    "proc_name": "cimtwin",
    "control_socket_disable": True,  # no gunicornc socket in the working folder
}
#: Seconds between two looks of a worker at its own "stop" flag (set by SIGTERM).
STOP_POLL_S = 0.2


def gunicorn_options(host: str, port: int, workers: int, extra: dict | None = None) -> dict:
    """The gunicorn settings for ``workers`` processes listening on host:port."""
    if workers < 1:
        raise ValueError(f"--workers must be 1 or more, got {workers}")
    hooks = {"post_worker_init": post_worker_init, "worker_exit": worker_exit,
             "child_exit": child_exit}
    return BASE_OPTIONS | hooks | {"bind": f"{host}:{port}", "workers": workers} | (extra or {})


def metrics_dir(config: Config) -> Path:
    """The folder the workers' Prometheus values live in, emptied (once per master start,
    before the master makes its first app: prometheus-client reads it when imported)."""
    folder = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR")
                  or config.data_dir / "run" / "prometheus")
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    return folder


def post_worker_init(worker) -> None:
    """In each worker: a greenlet that, once SIGTERM cleared ``worker.alive``, ends the
    live streams with their retry hint (gunicorn then waits for the other requests);
    gevent's SIGCHLD handling back."""
    import gevent
    # gunicorn reset SIGCHLD to its default in the worker; gevent's child watcher needs its
    # own handler back, or waiting for a conversion's process pool to end never returns.
    gevent.get_hub().loop.install_sigchld()

    def watch() -> None:
        while worker.alive:
            gevent.sleep(STOP_POLL_S)
        from server.observability import stop_streams
        count = stop_streams()
        worker.log.info("stopping: %d live stream(s) told to reconnect", count)
    gevent.spawn(watch)


def worker_exit(server, worker) -> None:
    """In the worker, as it exits: its unfinished imports become 'interrupted'."""
    from server.jobs_api import interrupt_jobs
    app = getattr(worker, "wsgi", None)
    if app is not None and hasattr(app, "extensions"):
        interrupt_jobs(app)


def child_exit(server, worker) -> None:
    """In the master: a gone worker's live gauges (open streams) stop counting."""
    from prometheus_client import multiprocess
    multiprocess.mark_process_dead(worker.pid)


class CimtwinApplication(BaseApplication):
    """gunicorn's embedding API around ``server.app.create_app(config)``."""

    def __init__(self, config: Config, options: dict[str, Any]):
        self.config = config
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from server.app import create_app  # in the worker, after gevent patched it
        from server.jobs_api import resume_jobs
        from server.observability import configure_logging
        configure_logging(self.config)
        app = create_app(self.config)
        resume_jobs(app)
        return app


def run(config: Config, host: str, port: int, workers: int) -> None:
    """Serve until SIGTERM/SIGINT (gunicorn's arbiter handles signals and restarts)."""
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        metrics_dir(config)
    CimtwinApplication(config, gunicorn_options(host, port, workers)).run()
