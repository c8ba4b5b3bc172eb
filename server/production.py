"""`cimtwin serve --workers N`: the same app factory and config under gunicorn.

Workers are gevent workers (a Server-Sent Events stream is a greenlet, not a thread), each
building its own app after the fork (no preload: SQLite and socket handles are per
process). gunicorn and gevent load only here, only for this command. docs/deploy.md.
"""
from __future__ import annotations

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


def gunicorn_options(host: str, port: int, workers: int, extra: dict | None = None) -> dict:
    """The gunicorn settings for ``workers`` processes listening on host:port."""
    if workers < 1:
        raise ValueError(f"--workers must be 1 or more, got {workers}")
    return BASE_OPTIONS | {"bind": f"{host}:{port}", "workers": workers} | (extra or {})


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
        return create_app(self.config)


def run(config: Config, host: str, port: int, workers: int) -> None:
    """Serve until SIGTERM/SIGINT (gunicorn's arbiter handles signals and restarts)."""
    CimtwinApplication(config, gunicorn_options(host, port, workers)).run()
