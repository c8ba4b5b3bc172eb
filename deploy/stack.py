"""`make stack` / `make stack-stop`: the production layout on loopback (docs/deploy.md).

nginx -> gunicorn (N gevent workers) -> PostgreSQL+PostGIS (layers, metrics), Redis (the
metrics bus), a Dask scheduler and 2 Dask workers (conversions). Each service has its own
folder under var/stack/; var/stack/stack.json records the process ids that `stop` ends.

    python deploy/stack.py start [--workers N]     python deploy/stack.py stop

CIMTWIN_STACK_DIR (default var/stack) and CIMTWIN_STACK_<NAME>_PORT move it.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: `deploy.render` from this checkout
from deploy.render import nginx_site  # noqa: E402

LOOPBACK = "127.0.0.1"
#: The stack's folders; CIMTWIN_STACK_DIR puts them elsewhere (bench/bench_stack.py).
STACK = Path(os.environ.get("CIMTWIN_STACK_DIR") or ROOT / "var" / "stack").resolve()
STATE = STACK / "stack.json"
#: Loopback ports; override with CIMTWIN_STACK_<NAME>_PORT.
PORTS = {"nginx": 8080, "app": 8001, "postgres": 55432, "redis": 56379, "dask": 58786}


class StackError(Exception):
    """A service did not start (its log is named)."""


def port(name: str) -> int:
    return int(os.environ.get(f"CIMTWIN_STACK_{name.upper()}_PORT", PORTS[name]))


def wait_port(number: int, process: subprocess.Popen | None, log: Path, timeout_s=60.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise StackError(f"exited with {process.returncode}; see {log}")
        try:
            with socket.create_connection((LOOPBACK, number), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise StackError(f"nothing listens on {LOOPBACK}:{number} after {timeout_s} s; see {log}")


def refuse_busy(number: int, name: str) -> None:
    with socket.socket() as sock:
        if sock.connect_ex((LOOPBACK, number)) == 0:
            raise StackError(f"{name}: port {number} is in use (is the stack already up? "
                             f"'make stack-stop'; or set CIMTWIN_STACK_{name.upper()}_PORT)")


def spawn(name: str, argv: list[str], folder: Path, number: int, env=None) -> int:
    """Start one long-lived service in its own session; returns its pid once it listens."""
    refuse_busy(number, name)
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"{name}.log"
    with open(log, "ab") as out:
        process = subprocess.Popen(argv, cwd=folder, stdout=out, stderr=subprocess.STDOUT,
                                   env=env, start_new_session=True)
    wait_port(number, process, log)
    print(f"  {name:14} {LOOPBACK}:{number}  pid {process.pid}  log {log}", flush=True)
    return process.pid


def as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise StackError(f"{name} not found: install postgresql-15-postgis-3 (make system)")
    return found[-1]


def start_postgres() -> str:
    folder, number = STACK / "postgres", port("postgres")
    refuse_busy(number, "postgres")
    data = folder / "data"
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    run = dict(capture_output=True, text=True, check=False)
    if not (data / "PG_VERSION").exists():
        out = subprocess.run(as_postgres([pg_bin("initdb"), "-D", str(data), "-U", "postgres",
                                          "-A", "trust", "-E", "UTF8", "--no-locale"]), **run)
        if out.returncode:
            raise StackError(f"initdb failed: {out.stderr}")
    options = f"-c listen_addresses={LOOPBACK} -p {number} -k {folder}"
    out = subprocess.run(as_postgres([pg_bin("pg_ctl"), "-D", str(data), "-o", options,
                                      "-l", str(folder / "postgres.log"), "-w", "start"]), **run)
    if out.returncode:
        raise StackError(f"PostgreSQL did not start: {out.stderr}; see {folder}/postgres.log")
    psql = ["psql", "-h", LOOPBACK, "-p", str(number), "-U", "postgres", "-qAt"]
    exists = subprocess.run([*psql, "-c", "SELECT 1 FROM pg_database WHERE datname='cimtwin'"],
                            **run).stdout.strip()
    if not exists:
        subprocess.run([*psql, "-c", "CREATE DATABASE cimtwin"], **run)
    out = subprocess.run([*psql, "-d", "cimtwin", "-c", "CREATE EXTENSION IF NOT EXISTS postgis"],
                         **run)
    if out.returncode:
        raise StackError(f"PostGIS extension: {out.stderr}")
    print(f"  {'postgres':14} {LOOPBACK}:{number}  data {data}", flush=True)
    return f"postgresql://postgres@{LOOPBACK}:{number}/cimtwin"


def write_config(pg_url: str, redis_url: str, dask_url: str, workers: int) -> Path:
    """The stack's cimtwin config: the same keys as the embedded default, other URLs."""
    path = STACK / "cimtwin.toml"
    path.write_text(
        f'[server]\nhost = "{LOOPBACK}"\nport = {port("app")}\nworkers = {workers}\n'
        f'accel_redirect_prefix = "/_tiles/"\nlog_format = "json"\n\n'
        f'[data]\ndir = "{STACK / "data"}"\n\n'
        f'[layers]\nurl = "{pg_url}"\n\n[metrics]\nstore_url = "{pg_url}"\n'
        f'bus_url = "{redis_url}"\n\n[tiles]\ndask_scheduler = "{dask_url}"\n')
    return path


def start(workers: int) -> None:
    if STATE.exists():
        raise StackError(f"{STATE} exists: the stack is up (or was not stopped); "
                         "run 'make stack-stop' first")
    STACK.mkdir(parents=True, exist_ok=True)
    pids: dict[str, int] = {}
    STATE.write_text(json.dumps({"pids": pids}))
    bin_dir = Path(sys.executable).parent
    try:
        pg_url = start_postgres()
        pids["redis"] = spawn("redis", ["redis-server", "--port", str(port("redis")), "--bind",
                                        LOOPBACK, "--dir", str(STACK / "redis"),
                                        "--appendonly", "yes"], STACK / "redis", port("redis"))
        dask_url = f"tcp://{LOOPBACK}:{port('dask')}"
        pids["dask-scheduler"] = spawn(
            "dask-scheduler", [str(bin_dir / "dask"), "scheduler", "--host", LOOPBACK,
                               "--port", str(port("dask")), "--no-dashboard"],
            STACK / "dask-scheduler", port("dask"))
        for n in (1, 2):
            folder = STACK / f"dask-worker-{n}"
            folder.mkdir(parents=True, exist_ok=True)
            log = folder / "dask-worker.log"
            with open(log, "ab") as out:
                process = subprocess.Popen(
                    [str(bin_dir / "dask"), "worker", dask_url, "--host", LOOPBACK,
                     "--nthreads", "1", "--no-dashboard", "--local-directory", str(folder),
                     "--name", f"stack-worker-{n}"], cwd=folder, stdout=out,
                    stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                    start_new_session=True)
            pids[f"dask-worker-{n}"] = process.pid
            print(f"  dask-worker-{n}  -> {dask_url}  pid {process.pid}  log {log}", flush=True)
        config = write_config(pg_url, f"redis://{LOOPBACK}:{port('redis')}/0", dask_url, workers)
        env = {**os.environ, "CIMTWIN_CONFIG": str(config), "PYTHONPATH": str(ROOT)}
        pids["gunicorn"] = spawn("gunicorn", [sys.executable, "-m", "server.cli", "serve"],
                                 STACK / "app", port("app"), env)
        nginx_folder = STACK / "nginx"
        nginx_folder.mkdir(parents=True, exist_ok=True)
        (nginx_folder / "nginx.conf").write_text(nginx_conf(nginx_folder, workers))
        pids["nginx"] = spawn("nginx", ["/usr/sbin/nginx", "-p", str(nginx_folder), "-c",
                                        str(nginx_folder / "nginx.conf")],
                              nginx_folder, port("nginx"))
    finally:
        STATE.write_text(json.dumps({"pids": pids}, indent=1))
    print(f"cimtwin stack up: http://{LOOPBACK}:{port('nginx')}/  (config {config}; "
          "stop with 'make stack-stop')")


def nginx_conf(folder: Path, workers: int) -> str:
    user = "user root;\n" if os.geteuid() == 0 else ""
    site = nginx_site(f"{LOOPBACK}:{port('nginx')}", f"{LOOPBACK}:{port('app')}", STACK / "data")
    return (f"{user}daemon off;\nworker_processes 2;\npid {folder}/nginx.pid;\n"
            f"error_log {folder}/error.log warn;\nevents {{ worker_connections 4096; }}\n"
            f"http {{\n  access_log {folder}/access.log;\n  client_body_temp_path {folder}/body;\n"
            f"  proxy_temp_path {folder}/proxy;\n  fastcgi_temp_path {folder}/fastcgi;\n"
            f"  uwsgi_temp_path {folder}/uwsgi;\n  scgi_temp_path {folder}/scgi;\n{site}\n}}\n")


def stop() -> None:
    if not STATE.exists():
        print("no stack is running (var/stack/stack.json is absent)")
    else:
        pids = json.loads(STATE.read_text())["pids"]
        for name, pid in reversed(list(pids.items())):  # front first, data last
            try:
                os.killpg(pid, signal.SIGTERM)  # its own session: the service and children
            except ProcessLookupError:
                continue
            for _ in range(150):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            print(f"  stopped {name} (pid {pid})")
        STATE.unlink()
    data = STACK / "postgres" / "data"
    if (data / "postmaster.pid").exists():
        subprocess.run(as_postgres([pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w",
                                    "stop"]), capture_output=True, check=False)
        print("  stopped postgres")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("start", "stop"))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    try:
        start(args.workers) if args.action == "start" else stop()
    except StackError as error:
        print(f"stack: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
