"""Tile requests/s and p50/p99 with wrk, 64 connections, side by side in one invocation:
bare nginx (the file from disk); cimtwin behind nginx with auth_request (nginx asks
cimtwin's /api/tilesets/<id>/access once per 5 s per credential, then sends the file);
cimtwin behind nginx with X-Accel-Redirect (gunicorn gevent workers authorize every tile,
nginx sends the bytes); and the embedded server (waitress). Every cimtwin row reads an
internal tileset with the same token.

    python bench/bench_deploy.py [--reps 3] [--seconds 5] [--workers 2]

Loopback only; every run is bounded by --seconds. See bench/README.md.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from deploy.render import nginx_site  # noqa: E402
from server.config import load_config  # noqa: E402
from server.services import Services  # noqa: E402
from tiles.store import write_tileset  # noqa: E402

TOKEN = "bench-admin-token"
GLB = os.urandom(33 * 1024)  # the 33 KB tile of issue 14


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing on port {port}")


def publish(data: Path) -> Path:
    services = Services(load_config({"data": {"dir": str(data)}}))
    tileset = {"asset": {"version": "1.1"}, "geometricError": 1, "root": {
        "boundingVolume": {"box": [0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1]}, "geometricError": 0,
        "content": {"uri": "t/0.glb"}}}
    write_tileset(services.store, "closed", {"tileset.json": json.dumps(tileset).encode(),
                                             "t/0.glb": GLB})
    services.catalog.add({"id": "closed", "name": "closed", "kind": "mesh",
                          "classification": "internal", "bounds": [117.1, 36.6, 117.2, 36.7],
                          "height": [0, 1]})
    return services.store.path_for("closed", "t/0.glb")


def nginx_conf(folder: Path, body: str) -> str:
    user = "user root;\n" if os.geteuid() == 0 else ""
    return (f"{user}daemon off;\nworker_processes 1;\npid {folder}/nginx.pid;\n"
            f"error_log {folder}/error.log warn;\nevents {{ worker_connections 4096; }}\n"
            f"http {{\n access_log off;\n client_body_temp_path {folder}/b;\n"
            f" proxy_temp_path {folder}/p;\n fastcgi_temp_path {folder}/f;\n"
            f" uwsgi_temp_path {folder}/u;\n scgi_temp_path {folder}/s;\n{body}\n}}\n")


def spawn(argv, env=None, log=None) -> subprocess.Popen:
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 kept for the child
    return subprocess.Popen(argv, env={**os.environ, **(env or {})}, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT)


def start_all(tmp: Path, workers: int) -> tuple[dict, list[subprocess.Popen]]:
    data = tmp / "data"
    tile = publish(data)
    env = {"CIMTWIN_DATA_DIR": str(data), "CIMTWIN_ADMIN_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)}
    ports = {k: free_port() for k in ("bare", "front", "accel", "app", "embedded")}
    procs = [
        spawn([sys.executable, "-m", "server.cli", "serve", "--workers", str(workers),
               "--port", str(ports["app"])],
              env | {"CIMTWIN_SERVER__ACCEL_REDIRECT_PREFIX": "/_tiles/"}, tmp / "app.log"),
        spawn([sys.executable, "-m", "server.cli", "serve", "--port", str(ports["embedded"])],
              env, tmp / "embedded.log")]
    bare = (f"server {{ listen 127.0.0.1:{ports['bare']}; sendfile on; "
            f"location /t/ {{ alias {tile.parent}/; }} }}")
    upstream = f"127.0.0.1:{ports['app']}"
    sites = {"nginx": bare + "\n" + nginx_site(f"127.0.0.1:{ports['front']}", upstream, data),
             "nginx-accel": nginx_site(f"127.0.0.1:{ports['accel']}", upstream, data,
                                       tile_access=False)}
    for name, body in sites.items():  # two nginx: each site has its own upstream block
        folder = tmp / name
        folder.mkdir()
        (folder / "nginx.conf").write_text(nginx_conf(folder, body))
        procs.append(spawn(["/usr/sbin/nginx", "-p", str(folder), "-c",
                            str(folder / "nginx.conf")], log=tmp / f"{name}.log"))
    for port in ports.values():
        wait_port(port)
    time.sleep(15)  # gunicorn's workers boot after the master listens (slow on a busy box)
    tile = "/tiles/closed/t/0.glb"
    urls = {"bare nginx": f"http://127.0.0.1:{ports['bare']}/t/0.glb",
            "cimtwin behind nginx, auth_request": f"http://127.0.0.1:{ports['front']}{tile}",
            "cimtwin behind nginx, X-Accel-Redirect": f"http://127.0.0.1:{ports['accel']}{tile}",
            "embedded (waitress)": f"http://127.0.0.1:{ports['embedded']}{tile}"}
    return urls, procs


def ms(text: str) -> float:
    number, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, seconds: int) -> dict:
    out = subprocess.run(["wrk", "-t2", "-c64", f"-d{seconds}s", "--latency", "-H",
                          f"Authorization: Bearer {TOKEN}", url],
                         capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50": ms(re.search(r"50%\s+(\S+)", out).group(1)),
            "p99": ms(re.search(r"99%\s+(\S+)", out).group(1)),
            "bad": int(non2xx.group(1)) if non2xx else 0,
            "errors": errors.group(1) if errors else ""}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-deploy-") as tmp:
        urls, procs = start_all(Path(tmp), args.workers)
        try:
            for url in urls.values():  # warm-up (and a check that each answers the tile)
                check = subprocess.run(["curl", "-sf", "-H", f"Authorization: Bearer {TOKEN}",
                                        url], capture_output=True, timeout=30)
                assert check.stdout == GLB, f"{url} does not serve the tile"
            runs = {name: [] for name in urls}
            load_before = os.getloadavg()[0]
            for _ in range(args.reps):  # interleaved: each rep runs all three
                for name, url in urls.items():
                    runs[name].append(wrk(url, args.seconds))
            print(f"load average (1 min) before / after the runs: {load_before:.1f} / "
                  f"{os.getloadavg()[0]:.1f}, {os.cpu_count()} cores")
        finally:
            for proc in procs:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(30)
    report(runs, args)
    return 0


def report(runs: dict, args) -> None:
    bare = statistics.median(r["rps"] for r in runs["bare nginx"])
    print(f"| server | req/s (median of {args.reps}) | % of bare nginx | p50 ms | p99 ms "
          "| non-2xx | socket errors |")
    print("|---|---|---|---|---|---|---|")
    for name, rs in runs.items():
        rps = statistics.median(r["rps"] for r in rs)
        print(f"| {name} | {rps:,.0f} | {100 * rps / bare:.1f} % | "
              f"{statistics.median(r['p50'] for r in rs):.2f} | "
              f"{statistics.median(r['p99'] for r in rs):.2f} | {sum(r['bad'] for r in rs)} | "
              f"{'; '.join(r['errors'] for r in rs if r['errors']) or 'none'} |")


if __name__ == "__main__":
    sys.exit(main())
