"""OGC API - Features items with a random bbox: cimtwin and pygeoapi side by side (issue #9).

Both servers are up at the same time in one invocation, on the same data, each with 2
gunicorn workers on 127.0.0.1: `cimtwin serve --workers 2` (gevent workers, the layer in
a GeoPackage) and `gunicorn pygeoapi.flask_app:APP -w 2` (pygeoapi's SQLite provider on a
SpatiaLite copy of the same table). wrk, 16 connections, walks the same list of random
bboxes on both; runs alternate between the servers; per run: requests/s, p50/p99, the
load average and the CPU seconds of each server's process tree.

    python bench/bench_pygeoapi.py [--reps 3] [--seconds 8] [--layers helsinki grid]

pygeoapi lives in its own venv (bench/out/pygeoapi-venv, made by Debian's /usr/bin/python3,
whose sqlite3 can load extensions); the script creates it when missing. Needs Debian wrk,
gdal-bin (ogr2ogr) and libsqlite3-mod-spatialite. See bench/README.md.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

VENV = ROOT / "bench" / "out" / "pygeoapi-venv"
#: pygeoapi and gunicorn; GeoAlchemy2 + psycopg2 for its PostgreSQL provider
PINS = ["pygeoapi==0.21.0", "gunicorn==27.0.1", "geoalchemy2==0.20.0",
        "psycopg2-binary==2.9.13"]
HELSINKI = Path("/work/shared/data/gis/helsinki_buildings.geojson")
SHARED_HELSINKI = ROOT.parent / "shared" / "data" / "gis" / "helsinki_buildings.geojson"

LUA = """
local boxes = {%(boxes)s}
local i = 0
request = function()
  i = i %% #boxes + 1
  return wrk.format("GET", "%(prefix)s/collections/%(layer)s/items?limit=1000&bbox=" .. boxes[i],
                    {["Accept"] = "application/geo+json"})
end
"""


# -- pygeoapi's venv ---------------------------------------------------------------------

def ensure_venv(venv: Path = VENV) -> Path:
    """A venv with pygeoapi + gunicorn (bench/out/pygeoapi-venv); created when missing or
    unusable, left as it is otherwise. Returns its python."""
    python = venv / "bin" / "python"
    check = "import sqlite3, pygeoapi, gunicorn, geoalchemy2, psycopg2; " \
            "c = sqlite3.connect(':memory:'); c.enable_load_extension(True); " \
            "c.load_extension('mod_spatialite'); print(pygeoapi.__version__)"
    if python.exists():
        done = subprocess.run([str(python), "-c", check], capture_output=True, text=True)
        if done.returncode == 0:
            return python
    system = Path("/usr/bin/python3")
    probe = subprocess.run([str(system), "-c", "import sqlite3; "
                            "sqlite3.connect(':memory:').enable_load_extension(True)"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        raise SystemExit("pygeoapi's SQLite provider needs a Python whose sqlite3 can load "
                         f"extensions; {system} cannot: {probe.stderr.strip()}")
    print(f"installing {', '.join(PINS)} into {venv}", flush=True)
    if not python.exists():
        subprocess.run([str(system), "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *PINS], check=True)
    done = subprocess.run([str(python), "-c", check], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"pygeoapi venv not usable (apt-get install "
                         f"libsqlite3-mod-spatialite?): {done.stderr.strip()[-500:]}")
    return python


# -- the same layers for both ------------------------------------------------------------

def load_layers(names: list[str], features: int, url: str, data: Path) -> dict[str, dict]:
    """cimtwin's layer store ``url`` (GeoPackage in ``data`` or PostGIS) holding each named
    layer; returns their count and bbox."""
    from layers import LayerInfo, open_layer_store
    from layers.importer import import_layer
    store = open_layer_store(url, data)
    out = {}
    try:
        for name in names:
            if name == "helsinki":
                source = HELSINKI if HELSINKI.exists() else SHARED_HELSINKI
                info = import_layer(store, source, layer_id="helsinki", title="helsinki",
                                    classification="public")
            else:
                from bench_layers import grid_frame
                frame, _ = grid_frame(features)
                info = store.put_layer(frame, LayerInfo(id="grid", title="grid",
                                                        classification="public"))
            out[name] = {"count": info.count, "bbox": list(info.bbox)}
    finally:
        store.close()
    return out


def postgis_table(url: str, layer: str) -> str:
    """The table holding the layer's current version in cimtwin's PostGIS store."""
    import psycopg
    with psycopg.connect(url) as db:
        return db.execute("SELECT table_name FROM cimtwin_layers WHERE id = %s",
                          (layer,)).fetchone()[0]


def gpkg_table(gpkg: Path, layer: str) -> str:
    import sqlite3
    with sqlite3.connect(gpkg) as db:
        rows = db.execute("SELECT table_name FROM gpkg_contents WHERE data_type='features'"
                          " AND table_name LIKE ?", (f"layer_{layer}_%",)).fetchall()
    if len(rows) != 1:
        raise RuntimeError(f"layer {layer}: feature tables {rows}")
    return rows[0][0]


def export_spatialite(gpkg: Path, layer: str, out: Path) -> list[str]:
    """The layer's table as a SpatiaLite table ``layer`` (pygeoapi's GeoPackage path fails:
    AutoGPKGStart returns 0); colons in column names become underscores (pygeoapi's SQL
    breaks on them). Returns the renamed columns."""
    import sqlite3
    table = gpkg_table(gpkg, layer)
    with sqlite3.connect(gpkg) as db:
        columns = [row[1] for row in db.execute(f'PRAGMA table_info("{table}")')]
    renamed = [c for c in columns if ":" in c]
    select = ", ".join(f'"{c}" AS "{c.replace(":", "_")}"' for c in columns)
    subprocess.run(["ogr2ogr", "-f", "SQLite", "-dsco", "SPATIALITE=YES", "-update",
                    "-append" if out.exists() else "-overwrite", str(out), str(gpkg),
                    "-sql", f'SELECT {select} FROM "{table}"', "-nln", layer,
                    "-lco", "FID=fid", "-preserve_fid", "--config", "OGR_SQLITE_SYNCHRONOUS",
                    "OFF"], check=True, capture_output=True, text=True)
    return renamed


def random_bboxes(bbox: list[float], fraction: float, n: int, seed: int) -> list[list[float]]:
    """n boxes of ``fraction`` of the layer's extent per side, placed at random inside it."""
    rng = random.Random(seed)
    w, s, e, north = bbox
    dx, dy = (e - w) * fraction, (north - s) * fraction
    out = []
    for _ in range(n):
        x, y = w + rng.random() * (e - w - dx), s + rng.random() * (north - s - dy)
        out.append([round(x, 6), round(y, 6), round(x + dx, 6), round(y + dy, 6)])
    return out


def hits_per_box(url: str, data: Path, layer: str, boxes: list[list[float]]) -> list[int]:
    from layers import open_layer_store
    store = open_layer_store(url, data)
    try:
        return [store.query(layer, bbox=box, limit=1).number_matched for box in boxes]
    finally:
        store.close()


# -- servers -----------------------------------------------------------------------------

def pygeoapi_config(folder: Path, port: int, layers: dict[str, dict],
                    providers: dict[str, dict]) -> dict:
    """pygeoapi's config (and where its OpenAPI document goes) for ``layers``, each with
    its provider definition."""
    url = f"http://127.0.0.1:{port}"
    resources = {name: {
        "type": "collection", "title": name, "description": f"{name} (cimtwin bench)",
        "keywords": ["bench"],
        "extents": {"spatial": {"bbox": info["bbox"],
                                "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
        "providers": [providers[name]]} for name, info in layers.items()}
    config = {
        "server": {"bind": {"host": "127.0.0.1", "port": port}, "url": url,
                   "mimetype": "application/json; charset=UTF-8", "encoding": "utf-8",
                   "language": "en-US", "pretty_print": False, "admin": False,
                   "limits": {"default_items": 10, "max_items": 1000},
                   "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                           "attribution": "OSM"}},
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {"title": "bench", "description": "bench", "keywords": ["bench"],
                               "keywords_type": "theme", "terms_of_service": url, "url": url},
            "license": {"name": "CC-BY 4.0", "url": url},
            "provider": {"name": "bench", "url": url},
            "contact": {"name": "bench", "email": "bench@localhost"}},
        "resources": resources}
    path = folder / "pygeoapi-config.yml"
    path.write_text(json.dumps(config, indent=1))  # JSON is YAML
    return {"PYGEOAPI_CONFIG": str(path), "PYGEOAPI_OPENAPI": str(folder / "openapi.yml")}


def spawn(argv: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(argv, env=os.environ | env, stdout=log.open("w"),
                            stderr=subprocess.STDOUT, start_new_session=True, cwd=log.parent)


def wait_ready(process: subprocess.Popen, url: str, log: Path, timeout_s: float = 120) -> None:
    import requests
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if requests.get(url, timeout=5).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up: {log.read_text()[-3000:]}")


def start_cimtwin(data: Path, url: str, port: int, work: Path,
                  first_layer: str) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("cimtwin")
    log = work / "cimtwin.log"
    process = spawn([str(exe), "serve", "--workers", "2", "--host", "127.0.0.1",
                     "--port", str(port)],
                    {"CIMTWIN_DATA_DIR": str(data), "CIMTWIN_LAYERS__URL": url,
                     "PYTHONPATH": str(ROOT)}, log)
    wait_ready(process, f"http://127.0.0.1:{port}/ogc/collections/{first_layer}", log)
    return process


def start_cimtwin_sync(data: Path, url: str, port: int, work: Path,
                       first_layer: str) -> subprocess.Popen:
    """The same app and gunicorn settings as `cimtwin serve --workers 2`, but sync workers
    (one request at a time per process, FIFO from the listen queue; no SSE streams)."""
    log = work / "cimtwin-sync.log"
    code = ("from server.config import load_config\n"
            "from server.production import CimtwinApplication, gunicorn_options\n"
            f"options = gunicorn_options('127.0.0.1', {port}, 2, {{'worker_class': 'sync'}})\n"
            "CimtwinApplication(load_config(), options).run()\n")
    process = spawn([sys.executable, "-c", code],
                    {"CIMTWIN_DATA_DIR": str(data), "CIMTWIN_LAYERS__URL": url,
                     "PYTHONPATH": str(ROOT)}, log)
    wait_ready(process, f"http://127.0.0.1:{port}/ogc/collections/{first_layer}", log)
    return process


def start_pygeoapi(python: Path, env: dict, port: int, work: Path,
                   first_layer: str) -> subprocess.Popen:
    log = work / "pygeoapi.log"
    bindir = python.parent
    subprocess.run([str(bindir / "pygeoapi"), "openapi", "generate", env["PYGEOAPI_CONFIG"],
                    "--output-file", env["PYGEOAPI_OPENAPI"]], env=os.environ | env,
                   check=True, capture_output=True, text=True)
    process = spawn([str(bindir / "gunicorn"), "pygeoapi.flask_app:APP", "-w", "2",
                     "-b", f"127.0.0.1:{port}", "--timeout", "120"], env, log)
    wait_ready(process, f"http://127.0.0.1:{port}/collections/{first_layer}", log)
    return process


def stop(process: subprocess.Popen) -> None:
    import signal
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def tree_cpu_s(pid: int) -> dict[int, float]:
    """User + system CPU seconds of a process and each of its children (gunicorn master +
    workers, or PostgreSQL's postmaster + backends), by pid. Each includes its exited
    children's CPU (``children_user``/``children_system``), so a PostgreSQL backend that
    ends between two samples is still counted, under its parent."""
    import psutil
    root = psutil.Process(pid)
    out = {}
    for proc in [root, *root.children(recursive=True)]:
        try:
            t = proc.cpu_times()
            out[proc.pid] = t.user + t.system + t.children_user + t.children_system
        except psutil.NoSuchProcess:
            pass
    return out


# -- measuring ---------------------------------------------------------------------------

def wrk(base: str, script: Path, seconds: int) -> dict:
    out = subprocess.run(["wrk", "-t2", "-c16", f"-d{seconds}s", "--timeout", "20s",
                          "--latency", "-s", str(script), base], capture_output=True, text=True,
                         check=True, timeout=seconds + 60).stdout

    def ms(label: str) -> float:
        value, unit = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)\b", out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors:.*", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "requests": int(re.search(r"(\d+) requests in", out).group(1)),
            "p50": ms("50"), "p99": ms("99"),
            "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": sock.group(0) if sock else ""}


def measured_run(server: dict, script: Path, seconds: int) -> dict:
    db = server.get("db_pid")  # PostgreSQL's postmaster: the query work of both servers
    db0 = sum(tree_cpu_s(db).values()) if db else 0.0
    cpu0, load0 = tree_cpu_s(server["process"].pid), os.getloadavg()[0]
    result = wrk(server["base"], script, seconds)
    db_cpu = sum(tree_cpu_s(db).values()) - db0 if db else 0.0
    cpu1 = tree_cpu_s(server["process"].pid)
    by_pid = {pid: cpu1[pid] - cpu0.get(pid, 0.0) for pid in cpu1}
    cpu = sum(by_pid.values())
    result.update(load=(load0, os.getloadavg()[0]), cpu_s=cpu, cores=cpu / seconds,
                  cpu_split=sorted(round(v, 1) for v in by_pid.values()),
                  db_cpu_ms_per_request=1000 * db_cpu / max(result["requests"], 1),
                  cpu_ms_per_request=1000 * cpu / max(result["requests"], 1))
    return result


def same_answers(servers: dict, layer: str, boxes: list[list[float]]) -> list[int]:
    """Both servers return the same features for the first few boxes (sanity)."""
    import requests
    counts = []
    for box in boxes[:5]:
        got = {}
        for name, server in servers.items():
            url = f"{server['base']}{server['prefix']}/collections/{layer}/items"
            reply = requests.get(url, params={"limit": 1000, "bbox": ",".join(map(str, box))},
                                 headers={"Accept": "application/geo+json"}, timeout=60)
            reply.raise_for_status()
            got[name] = sorted(str(f["id"]) for f in reply.json()["features"])
        if len({json.dumps(v) for v in got.values()}) != 1:
            raise RuntimeError(f"{layer} {box}: the servers disagree: "
                               f"{ {k: len(v) for k, v in got.items()} }")
        counts.append(len(got["cimtwin"]))
    return counts


def summary(name: str, layer: str, runs: list[dict], hits: list[int]) -> dict:
    med = statistics.median
    return {"server": name, "layer": layer, "features_per_bbox_median": med(hits),
            "features_per_bbox_mean": round(statistics.fmean(hits), 1),
            "rps": med(r["rps"] for r in runs), "p50_ms": med(r["p50"] for r in runs),
            "p99_ms": med(r["p99"] for r in runs),
            "cpu_ms_per_request": round(med(r["cpu_ms_per_request"] for r in runs), 1),
            "cores_used": round(med(r["cores"] for r in runs), 2),
            "db_cpu_ms_per_request": round(med(r["db_cpu_ms_per_request"] for r in runs), 1),
            "runs_rps": [r["rps"] for r in runs],
            "cpu_split": [r["cpu_split"] for r in runs],
            "load": [round(x, 1) for r in runs for x in r["load"]],
            "non2xx": sum(r["non2xx"] for r in runs),
            "socket_errors": [r["socket_errors"] for r in runs if r["socket_errors"]]}


def bench_layer(args, servers: dict, layer: str, info: dict, store: tuple, work: Path) -> list:
    boxes = random_bboxes(info["bbox"], args.fraction[layer], 500, seed=9)
    hits = hits_per_box(*store, layer, boxes)
    print(f"{layer}: {info['count']} features, {len(boxes)} bboxes, features per bbox "
          f"median {statistics.median(hits)} (min {min(hits)}, max {max(hits)})", flush=True)
    print(f"{layer}: same answers on both servers: {same_answers(servers, layer, boxes)}",
          flush=True)
    text = ", ".join('"%s"' % ",".join(map(str, b)) for b in boxes)
    scripts = {}
    for name, server in servers.items():
        scripts[name] = work / f"{layer}-{name}.lua"
        scripts[name].write_text(LUA % {"boxes": text, "prefix": server["prefix"],
                                        "layer": layer})
        wrk(server["base"], scripts[name], args.warmup)
    runs = {name: [] for name in servers}
    for rep in range(args.reps):
        for name in (servers if rep % 2 == 0 else list(servers)[::-1]):
            runs[name].append(measured_run(servers[name], scripts[name], args.seconds))
            r = runs[name][-1]
            print(f"  {layer} {name} run {rep + 1}: {r['rps']:.1f} req/s, p50 {r['p50']:.0f} "
                  f"ms, p99 {r['p99']:.0f} ms, CPU {r['cpu_ms_per_request']:.1f} ms/request "
                  f"(s by process {r['cpu_split']}; PostgreSQL "
                  f"{r['db_cpu_ms_per_request']:.1f} ms/request), "
                  f"load {r['load'][0]:.1f}-{r['load'][1]:.1f}", flush=True)
    rows = [summary(name, layer, runs[name], hits) for name in servers]
    def cpu(row: dict) -> float:
        return row["cpu_ms_per_request"] + row["db_cpu_ms_per_request"]
    for row in rows:
        row["ratio_rps"] = round(row["rps"] / rows[-1]["rps"], 2)
        row["ratio_cpu"] = round(cpu(rows[-1]) / cpu(row), 2)
    return rows


def bench_backend(args, python: Path, backend: str, url: str, work: Path, pg=None) -> list:
    """Load the layers into cimtwin's store ``url``, give pygeoapi the same table (a
    SpatiaLite copy, or cimtwin's own PostGIS table), run both side by side."""
    from tests.services import free_port
    data = work / "data"
    t0 = time.perf_counter()
    layers = load_layers(args.layers, args.features, url, data)
    if backend == "postgis":
        providers = {name: {"type": "feature", "name": "PostgreSQL", "id_field": "fid",
                            "table": postgis_table(url, name), "geom_field": "geom",
                            "data": {"host": "127.0.0.1", "port": pg.port, "user": pg.user,
                                     "dbname": url.rsplit("/", 1)[1]}} for name in layers}
        renamed = {}
    else:
        sqlite = work / "layers.sqlite"
        renamed = {name: export_spatialite(data / "layers.gpkg", name, sqlite)
                   for name in layers}
        providers = {name: {"type": "feature", "name": "SQLiteGPKG", "data": str(sqlite),
                            "id_field": "fid", "table": name} for name in layers}
    print(f"{backend}: layers {layers} ready in {time.perf_counter() - t0:.1f} s; "
          f"renamed for pygeoapi: {renamed}", flush=True)
    env = pygeoapi_config(work, free_port(), layers, providers)
    first = args.layers[0]
    servers = {}
    try:
        port = free_port()
        servers["cimtwin"] = {"process": start_cimtwin(data, url, port, work, first),
                              "base": f"http://127.0.0.1:{port}", "prefix": "/ogc"}
        if args.cimtwin_sync:
            port = free_port()
            servers["cimtwin-sync"] = {
                "process": start_cimtwin_sync(data, url, port, work, first),
                "base": f"http://127.0.0.1:{port}", "prefix": "/ogc"}
        port = free_port()
        servers["pygeoapi"] = {"process": start_pygeoapi(python, env, port, work, first),
                               "base": f"http://127.0.0.1:{port}", "prefix": ""}
        rows = []
        if pg is not None:
            postmaster = int((pg.folder / "data" / "postmaster.pid").read_text().split()[0])
            for server in servers.values():
                server["db_pid"] = postmaster
        for layer in args.layers:
            rows += bench_layer(args, servers, layer, layers[layer], (url, data), work)
    finally:
        for server in servers.values():
            stop(server["process"])
    for row in rows:
        row["backend"] = backend
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--features", type=int, default=100_000, help="grid layer size")
    parser.add_argument("--layers", nargs="+", default=["helsinki", "grid"],
                        choices=("helsinki", "grid"))
    parser.add_argument("--backends", nargs="+", default=["gpkg"], choices=("gpkg", "postgis"),
                        help="cimtwin's layer store (pygeoapi: SpatiaLite copy / same table)")
    parser.add_argument("--venv", type=Path, default=VENV, help="pygeoapi's venv")
    parser.add_argument("--cimtwin-sync", action="store_true",
                        help="also run cimtwin's app under gunicorn sync workers")
    parser.add_argument("--helsinki-fraction", type=float, default=0.5,
                        help="bbox side as a fraction of the helsinki layer's extent")
    args = parser.parse_args()
    for tool in ("wrk", "ogr2ogr"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} not found (Debian wrk / gdal-bin)")
    python = ensure_venv(args.venv)
    # ~10 x 10 grid cells per bbox on the grid (about 100-121 features)
    args.fraction = {"helsinki": args.helsinki_fraction,
                     "grid": 10 / max(args.features, 1) ** 0.5}
    rows = []
    with tempfile.TemporaryDirectory(prefix="cimtwin-bench-pygeoapi-", dir="/tmp") as tmp:
        for backend in args.backends:
            work = Path(tmp) / backend
            work.mkdir()
            os.chmod(work, 0o755)
            if backend == "postgis":
                from tests.services import start_postgres
                pg = start_postgres()
                try:
                    rows += bench_backend(args, python, backend, pg.create_database("bench"),
                                          work, pg)
                finally:
                    pg.stop()
            else:
                rows += bench_backend(args, python, backend, "gpkg://layers.gpkg", work)
    print(json.dumps(rows, indent=1))
    print("| backend | layer | server | features per bbox (median) | requests/s | p50 ms "
          "| p99 ms | CPU ms per request | PostgreSQL CPU ms per request | cores used "
          "| runs req/s | load average | x pygeoapi req/s | x pygeoapi CPU (incl. PostgreSQL) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['backend']} | {r['layer']} | {r['server']} | "
              f"{r['features_per_bbox_median']:g} | {r['rps']:.1f} | {r['p50_ms']:.0f} | "
              f"{r['p99_ms']:.0f} | "
              f"{r['cpu_ms_per_request']} | {r['db_cpu_ms_per_request']} | {r['cores_used']} | "
              f"{', '.join(f'{x:.1f}' for x in r['runs_rps'])} | "
              f"{min(r['load'])}-{max(r['load'])} | {r['ratio_rps']} | {r['ratio_cpu']} |")


if __name__ == "__main__":
    main()
