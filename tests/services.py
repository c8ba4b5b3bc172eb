"""Real backing services for tests: PostgreSQL + PostGIS, Redis, Mosquitto and nginx.

Each one is started from its Debian binary on a free loopback port, with its own data
folder, and stopped by the test that started it (the fixtures in tests/conftest.py do
this). `make test` installs the packages. Outside CI a missing binary skips the test;
in CI (CI=true) it fails, so a missing install step cannot hide behind a skip.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def require_binary(path_or_name: str, package: str) -> str:
    """Full path of a service binary; skip outside CI, fail in CI when it is missing."""
    found = path_or_name if os.path.isabs(path_or_name) and os.access(path_or_name, os.X_OK) \
        else shutil.which(path_or_name)
    if not found:
        message = f"{path_or_name} not found: install the Debian package {package} (make test does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def wait_for_port(port: int, timeout_s: float = 30.0, process: subprocess.Popen | None = None,
                  log: Path | None = None) -> None:
    """Block until something accepts TCP connections on loopback:port."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            text = log.read_text(errors="replace") if log and log.exists() else ""
            raise RuntimeError(
                f"service exited with {process.returncode} before listening:\n{text}")
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {LOOPBACK}:{port} after {timeout_s} s")


def _stop(process: subprocess.Popen, timeout_s: float = 10.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- PostgreSQL + PostGIS -----------------------------------------------------------------

def _pg_bin(name: str) -> str:
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return require_binary(candidates[-1] if candidates else name, "postgresql-15-postgis-3")


def _as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the `postgres` user then."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@dataclass
class PostgresServer:
    """A PostgreSQL cluster in its own folder on a loopback port."""

    folder: Path
    port: int
    user: str = "postgres"
    _counter: int = field(default=0, repr=False)

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@{LOOPBACK}:{self.port}/postgres"

    def psql(self, sql: str, database: str = "postgres") -> str:
        out = subprocess.run(
            [shutil.which("psql") or "psql", "-h", LOOPBACK, "-p", str(self.port), "-U", self.user,
             "-d", database, "-v", "ON_ERROR_STOP=1", "-qAtc", sql],
            capture_output=True, text=True, check=False)
        if out.returncode:
            raise RuntimeError(f"psql failed: {out.stderr.strip()}")
        return out.stdout

    def create_database(self, prefix: str = "cimtwin", postgis: bool = True) -> str:
        """A new empty database (with the PostGIS extension); returns its URL."""
        self._counter += 1
        name = f"{prefix}_{os.getpid()}_{self._counter}"
        self.psql(f'CREATE DATABASE "{name}"')
        if postgis:
            self.psql("CREATE EXTENSION IF NOT EXISTS postgis", database=name)
        return f"postgresql://{self.user}@{LOOPBACK}:{self.port}/{name}"

    def stop(self) -> None:
        subprocess.run(_as_postgres([_pg_bin("pg_ctl"), "-D", str(self.folder / "data"),
                                     "-m", "fast", "-w", "stop"]),
                       capture_output=True, check=False)
        shutil.rmtree(self.folder, ignore_errors=True)


def start_postgres() -> PostgresServer:
    """initdb + start a cluster (trust auth on loopback only, fsync off: test data)."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    require_binary("psql", "postgresql-client")
    # The folder must be reachable by the postgres user: not under root's private tmp.
    folder = Path(tempfile.mkdtemp(prefix="cimtwin-pg-", dir="/tmp"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data, port = folder / "data", free_port()
    run = dict(capture_output=True, text=True, check=False)
    out = subprocess.run(_as_postgres([initdb, "-D", str(data), "-U", "postgres", "-A", "trust",
                                       "-E", "UTF8", "--no-locale"]), **run)
    if out.returncode:
        raise RuntimeError(f"initdb failed: {out.stderr}")
    options = (f"-c listen_addresses={LOOPBACK} -p {port} -k {folder} -c fsync=off "
               "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
    out = subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-o", options,
                                       "-l", str(folder / "server.log"), "-w", "start"]), **run)
    if out.returncode:
        log = (folder / "server.log")
        raise RuntimeError(f"pg_ctl start failed: {out.stderr}\n"
                           f"{log.read_text() if log.exists() else ''}")
    return PostgresServer(folder=folder, port=port)


# --- Redis ----------------------------------------------------------------------------------

@dataclass
class Service:
    """A server process on loopback:port with its own folder."""

    name: str
    port: int
    folder: Path
    argv: list[str]
    process: subprocess.Popen | None = None
    scheme: str = "tcp"

    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def url(self) -> str:
        return f"{self.scheme}://{LOOPBACK}:{self.port}"

    def start(self) -> "Service":
        log = self.folder / f"{self.name}.log"
        with open(log, "ab") as out:
            self.process = subprocess.Popen(self.argv, cwd=self.folder, stdout=out,
                                            stderr=subprocess.STDOUT)
        wait_for_port(self.port, process=self.process, log=log)
        return self

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)
            self.process = None

    def restart(self, down_s: float = 0.0) -> None:
        """Stop, optionally stay down for down_s seconds, start again on the same port."""
        self.stop()
        time.sleep(down_s)
        self.start()

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


def start_redis(folder: Path) -> Service:
    """redis-server on loopback with no persistence, data in folder."""
    binary = require_binary("redis-server", "redis-server")
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    argv = [binary, "--port", str(port), "--bind", LOOPBACK, "--dir", str(folder),
            "--save", "", "--appendonly", "no", "--protected-mode", "yes"]
    return Service("redis", port, folder, argv, scheme="redis").start()


# --- Mosquitto ------------------------------------------------------------------------------

def start_mosquitto(folder: Path) -> Service:
    """An MQTT broker on loopback (anonymous clients allowed, no persistence)."""
    binary = require_binary("/usr/sbin/mosquitto", "mosquitto")
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = folder / "mosquitto.conf"
    user = "user root\n" if os.geteuid() == 0 else ""
    conf.write_text(f"{user}listener {port} {LOOPBACK}\nallow_anonymous true\n"
                    "persistence false\nlog_dest stderr\n")
    return Service("mosquitto", port, folder, [binary, "-c", str(conf)], scheme="mqtt").start()


# --- nginx ----------------------------------------------------------------------------------

def nginx_conf(http_block: str, prefix: Path) -> str:
    """A complete nginx.conf around an `http { ... }` body, every path inside prefix."""
    user = "user root;\n" if os.geteuid() == 0 else ""
    return (f"{user}daemon off;\nworker_processes 1;\npid {prefix}/nginx.pid;\n"
            f"error_log {prefix}/error.log warn;\nevents {{ worker_connections 1024; }}\n"
            f"http {{\n  access_log off;\n  client_body_temp_path {prefix}/body;\n"
            f"  proxy_temp_path {prefix}/proxy;\n  fastcgi_temp_path {prefix}/fastcgi;\n"
            f"  uwsgi_temp_path {prefix}/uwsgi;\n  scgi_temp_path {prefix}/scgi;\n"
            f"{http_block}\n}}\n")


def start_nginx(http_block: str, folder: Path, port: int) -> Service:
    """nginx with the given http block (which must `listen 127.0.0.1:<port>`)."""
    binary = require_binary("/usr/sbin/nginx", "nginx-light")
    folder.mkdir(parents=True, exist_ok=True)
    conf = folder / "nginx.conf"
    conf.write_text(nginx_conf(http_block, folder))
    return Service("nginx", port, folder, [binary, "-p", str(folder), "-c", str(conf)],
                   scheme="http").start()
