"""Benchmark: the cost of authorization + audit on tile requests, and backup/restore.

1. Tiles: one data dir with an internal tileset; two `waitress` servers over it, run one
   after the other, alternating, `--reps` times each:
   - "secured": the real app; requests carry a planner's session cookie (session lookup,
     role table, level check, audit of the dataset read, security headers);
   - "open": the same app without the security hooks and with a fixed principal (no
     cookie, session or audit work): what serving cost before authorization.
   `wrk` (2 threads, 8 connections, `--seconds` each) cycles over every file of the
   tileset; the median requests/s of each and the ratio are printed.
2. Backup: the demo district (`build_demo`) in a fresh data dir; `backup` into an empty
   DEST (time, bytes), one more import, a second `backup` into the same DEST (time,
   bytes copied: only the new tileset), `backup verify`, and `restore` into an empty
   folder (time), `--reps` times; medians.

Usage: python bench/bench_security.py [--reps 3] [--seconds 5] [--skip-tiles|--skip-backup]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PASSWORD = "bench password 1"
LUA = """
paths = {%s}
i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i], {["Cookie"] = "%s"})
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(variant: str, data: str, port: int) -> None:
    """Child process: one server variant (see the module docstring)."""
    import server.app
    import server.auth
    from waitress import serve as waitress_serve
    if variant == "open":
        server.app.install_security = lambda app: None
        fixed = server.auth.Principal("bench", "planner", "open",
                                      frozenset({"public", "internal"}), frozenset())
        server.auth.current_principal = lambda: fixed
    app = server.app.create_app({"data": {"dir": data}})
    waitress_serve(app, host="127.0.0.1", port=port, threads=8, ident="bench")


def grid_obj(path: Path, n: int) -> Path:
    rows = [f"v {x * 2.0} {y * 2.0} {(x * 7 + y * 3) % 11}" for y in range(n + 1)
            for x in range(n + 1)]
    for y in range(n):
        for x in range(n):
            a = y * (n + 1) + x + 1
            rows += [f"f {a} {a + 1} {a + n + 2}", f"f {a} {a + n + 2} {a + n + 1}"]
    path.write_text("\n".join(rows) + "\n")
    return path


def tile_data(work: Path) -> tuple[str, list[str], str]:
    """(data dir, tile URLs, session cookie) for the tile benchmark."""
    from server.app import create_app
    from server.imports import import_mesh
    data = work / "tiles-data"
    app = create_app({"data": {"dir": str(data)}})
    services = app.extensions["cimtwin"]
    import_mesh(services, grid_obj(work / "g.obj", 250), crs="EPSG:4548",
                origin="500000,4060000,0", tileset_id="site", classification="internal")
    services.security.users.add("planner1", "planner", PASSWORD)
    cookie = app.test_client().post("/api/login", json={"username": "planner1",
                                                       "password": PASSWORD})
    value = cookie.headers["Set-Cookie"].split(";")[0]
    urls = [f"/tiles/site/{p}" for p in services.store.list("site")]
    return str(data), urls, value


def wrk_run(variant: str, data: str, urls: list[str], cookie: str, seconds: int,
            work: Path) -> float:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    child = subprocess.Popen([sys.executable, __file__, "--serve", variant, data, str(port)],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_port(port, child)
        script = work / "paths.lua"
        script.write_text(LUA % (", ".join(json.dumps(u) for u in urls), cookie))
        out = subprocess.run(["wrk", "-t2", "-c8", f"-d{seconds}s", "-s", str(script),
                              f"http://127.0.0.1:{port}"], capture_output=True, text=True,
                             check=True).stdout
        non_2xx = [line for line in out.splitlines() if "Non-2xx" in line]
        if non_2xx:
            raise SystemExit(f"{variant}: {non_2xx[0]}")
        return float(next(line for line in out.splitlines()
                          if line.startswith("Requests/sec")).split()[1])
    finally:
        child.terminate()
        child.wait(timeout=30)


def _wait_port(port: int, child: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise SystemExit("the bench server exited")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit("the bench server did not start")


def bench_tiles(reps: int, seconds: int, work: Path) -> None:
    data, urls, cookie = tile_data(work)
    results: dict[str, list[float]] = {"open": [], "secured": []}
    for _ in range(reps):
        for variant in ("open", "secured"):
            results[variant].append(wrk_run(variant, data, urls, cookie, seconds, work))
    medians = {k: statistics.median(v) for k, v in results.items()}
    print(f"tile requests ({len(urls)} files of an internal tileset, wrk -t2 -c8 -d{seconds}s)")
    for variant, runs in results.items():
        print(f"  {variant:8} median {medians[variant]:8.1f} req/s   runs "
              + ", ".join(f"{r:.1f}" for r in runs))
    print(f"  cost of authorization + audit: "
          f"{(1 - medians['secured'] / medians['open']) * 100:.1f} %")


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def bench_backup(reps: int, work: Path) -> None:
    from server.backup import backup, restore, verify_backup
    from server.config import load_config
    from server.demo.build import build_demo
    from server.imports import import_mesh
    from server.services import open_services
    data = work / "demo"
    services = open_services(load_config({"data": {"dir": str(data)}}))
    build_demo(services)
    extra = grid_obj(work / "extra.obj", 120)
    rows = []
    for rep in range(reps):
        dest, into = work / f"backup-{rep}", work / f"restored-{rep}"
        first = backup(services, dest)
        import_mesh(services, extra, crs="EPSG:4548", origin="500000,4061000,0",
                    tileset_id=f"extra-{rep}", classification="public")
        new_bytes = _dir_bytes(services.store.tileset_dir(f"extra-{rep}"))
        second = backup(services, dest)
        started = time.perf_counter()
        report = verify_backup(dest)
        verify_s = time.perf_counter() - started
        assert report.ok, report.to_text()
        done = restore(dest, into)
        rows.append((first, second, new_bytes, verify_s, done, _dir_bytes(dest)))
        shutil.rmtree(into)
        services.store.delete(f"extra-{rep}")
        services.catalog.delete(f"extra-{rep}")
    med = statistics.median
    first = rows[0][0]
    print(f"backup of the demo district ({first['tilesets']} tilesets, {first['tile_files']} "
          f"tile files, {first['database_bytes']} database bytes)")
    print(f"  first backup    median {med(r[0]['seconds'] for r in rows):.2f} s, "
          f"{med(r[0]['copied_bytes'] + r[0]['database_bytes'] for r in rows) / 1e6:.1f} MB "
          f"copied; runs " + ", ".join(f"{r[0]['seconds']:.2f}" for r in rows))
    print(f"  second backup   median {med(r[1]['seconds'] for r in rows):.2f} s, "
          f"{med(r[1]['copied_files'] for r in rows)} tile files / "
          f"{med(r[1]['copied_bytes'] for r in rows) / 1e6:.2f} MB copied (the new tileset: "
          f"{med(r[2] for r in rows) / 1e6:.2f} MB); runs "
          + ", ".join(f"{r[1]['seconds']:.2f}" for r in rows))
    print(f"  verify          median {med(r[3] for r in rows):.2f} s")
    print(f"  restore         median {med(r[4]['seconds'] for r in rows):.2f} s; runs "
          + ", ".join(f"{r[4]['seconds']:.2f}" for r in rows))
    print(f"  DEST size after two backups: {med(r[5] for r in rows) / 1e6:.1f} MB")
    services.close()


def main() -> None:
    if sys.argv[1:2] == ["--serve"]:
        serve(*sys.argv[2:4], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--skip-tiles", action="store_true")
    parser.add_argument("--skip-backup", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if not args.skip_tiles:
            bench_tiles(args.reps, args.seconds, work)
        if not args.skip_backup:
            bench_backup(args.reps, work)


if __name__ == "__main__":
    main()
