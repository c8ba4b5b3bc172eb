"""GIS layer figures: OGC API items bbox queries on a 100,000-feature layer (GeoPackage and
PostGIS side by side, 16 concurrent wrk clients), 100,000 footprints -> white-model
tileset (time, peak RSS), and CityJSON/CityGML objects per second.

Run: python bench/bench_layers.py --reps 3 [--features 100000] [--skip items|white|city]
Needs Debian wrk and PostgreSQL+PostGIS (tests/services.py starts a private cluster).
Everything listens on 127.0.0.1 only; each wrk run is bounded (--seconds).
"""
from __future__ import annotations

import argparse
import json
import os
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

LUA = """
math.randomseed(42)
request = function()
  local w = 117.0 + math.random() * (%(span)f - %(box)f)
  local s = 36.6 + math.random() * (%(span)f - %(box)f)
  local path = string.format("/ogc/collections/grid/items?limit=1000&bbox=%%.5f,%%.5f,%%.5f,%%.5f",
                             w, s, w + %(box)f, s + %(box)f)
  return wrk.format("GET", path)
end
"""


def grid_frame(n: int):
    """n small square footprints on a square grid near Jinan, with a few attributes."""
    import geopandas as gpd
    import numpy as np
    import shapely
    side = int(np.ceil(np.sqrt(n)))
    step = 0.0005
    i = np.arange(n)
    x, y = 117.0 + (i % side) * step, 36.6 + (i // side) * step
    boxes = shapely.box(x, y, x + step * 0.6, y + step * 0.6)
    return gpd.GeoDataFrame({"name": [f"b{k}" for k in i], "floors": (i % 30) + 1,
                             "use": np.array(["住宅", "办公", "商业", "教育"])[i % 4]},
                            geometry=boxes, crs="OGC:CRS84"), side * step


def _serve(data_dir: Path, layers_url: str, port: int, log: Path) -> subprocess.Popen:
    env = os.environ | {"CIMTWIN_DATA_DIR": str(data_dir), "CIMTWIN_LAYERS__URL": layers_url,
                        "PYTHONPATH": str(ROOT)}
    exe = Path(sys.executable).with_name("cimtwin")
    process = subprocess.Popen([str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)],
                               env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    import requests
    for _ in range(600):
        try:
            if requests.get(f"http://127.0.0.1:{port}/ogc/collections/grid", timeout=2).ok:
                return process
        except requests.RequestException:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"server did not start: {log.read_text()[-2000:]}")


def _wrk(port: int, script: Path, seconds: int) -> dict:
    out = subprocess.run(["wrk", "-t2", "-c16", f"-d{seconds}s", "--timeout", "20s", "--latency",
                          "-s", str(script),
                          f"http://127.0.0.1:{port}"], capture_output=True, text=True,
                         check=True, timeout=seconds + 60).stdout
    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50": ms("50"), "p99": ms("99"),
            "errors": bool(re.search(r"Non-2xx|Socket errors", out))}


def bench_items(args, work: Path) -> list[dict]:
    from layers import LayerInfo, open_layer_store
    from tests.services import free_port, start_postgres
    frame, span = grid_frame(args.features)
    scripts = {}
    for cells in (10, 30):  # about 100 and 900 features per bbox
        box = span * (cells / (args.features ** 0.5))
        scripts[cells] = (work / f"bbox{cells}.lua", box)
        scripts[cells][0].write_text(LUA % {"span": span, "box": box})
    pg = start_postgres()
    results = []
    try:
        urls = {"gpkg": "gpkg://layers.gpkg", "postgis": pg.create_database("bench")}
        for backend, url in urls.items():
            data = work / backend
            store = open_layer_store(url, data)
            t0 = time.perf_counter()
            store.put_layer(frame, LayerInfo(id="grid", title="grid", classification="public"))
            load_s = time.perf_counter() - t0
            port = free_port()
            server = _serve(data, url, port, work / f"{backend}.log")
            try:
                for cells, (script, box) in scripts.items():
                    hits = store.query("grid", bbox=[117.0, 36.6, 117.0 + box, 36.6 + box],
                                       limit=1000)
                    _wrk(port, script, 3)  # warm-up
                    runs = [_wrk(port, script, args.seconds) for _ in range(args.reps)]
                    results.append({"backend": backend, "load_s": round(load_s, 1),
                                    "features_per_bbox": hits.number_matched,
                                    "rps": statistics.median(r["rps"] for r in runs),
                                    "p50_ms": statistics.median(r["p50"] for r in runs),
                                    "p99_ms": statistics.median(r["p99"] for r in runs),
                                    "errors": any(r["errors"] for r in runs)})
                    print(json.dumps(results[-1]), flush=True)
            finally:
                store.close()
                server.terminate()
                server.wait(20)
    finally:
        pg.stop()
    return results


def _white_once(path: Path, data: Path) -> dict:
    """One import in a fresh process; returns its report, wall time and peak RSS."""
    code = ("import json,resource,sys,time\n"
            "from server.config import load_config\nfrom server.services import open_services\n"
            "from server.city_imports import import_buildings\n"
            "def main():\n"
            f"    s = open_services(load_config(overrides={{'data': {{'dir': {str(data)!r}}}}}))\n"
            "    t = time.perf_counter()\n"
            f"    r = import_buildings(s, {str(path)!r}, floors_field='floors')\n"
            "    dt = time.perf_counter() - t\n"
            "    rss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,"
            " resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024\n"
            "    print(json.dumps({'seconds': dt, 'rss_mb': rss, 'triangles': r.get('triangles'),"
            " 'tiles': r.get('tiles'), 'buildings': r['buildings']}))\n"
            "if __name__ == '__main__':\n    main()\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=os.environ | {"PYTHONPATH": str(ROOT)}, check=True, timeout=900)
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_white(args, work: Path) -> dict:
    frame, _ = grid_frame(args.features)
    path = work / "footprints.gpkg"
    import pyogrio
    pyogrio.write_dataframe(frame, path, layer="footprints", driver="GPKG")
    runs = []
    for rep in range(args.reps):
        data = work / f"white-{rep}"
        runs.append(_white_once(path, data))
        shutil.rmtree(data, ignore_errors=True)
        print(json.dumps(runs[-1]), flush=True)
    return {"buildings": runs[0]["buildings"], "triangles": runs[0]["triangles"],
            "seconds": statistics.median(r["seconds"] for r in runs),
            "rss_mb": max(r["rss_mb"] for r in runs),
            "runs": [round(r["seconds"], 1) for r in runs]}


def bench_city(args) -> list[dict]:
    from tiles.readers.citymodel import read_citymodel
    data = ROOT.parent / "shared" / "data" / "citymodel"
    if not data.exists():
        data = Path("/work/shared/data/citymodel")
    files = [data / "zurich_subset_lod2.city.json", data / "munich_LOD2_4424_5482_solid.gml",
             data / "plateau_yokosuka" / "52397519_bldg_6697_op.gml"]
    out = []
    read_citymodel(files[0])  # imports and caches warm
    for path in files:
        times = []
        for _ in range(args.reps):
            t = time.perf_counter()
            model = read_citymodel(path)
            triangles = sum(b.triangle_count for b in model.batches())
            times.append(time.perf_counter() - t)
        median = statistics.median(times)
        out.append({"file": path.name, "objects": model.stats["objects"], "triangles": triangles,
                    "seconds": round(median, 3),
                    "objects_per_s": round(model.stats["objects"] / median)})
        print(json.dumps(out[-1]), flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--features", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--skip", action="append", default=[], choices=("items", "white", "city"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cimtwin-bench-layers-", dir="/tmp") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)
        report = {}
        if "city" not in args.skip:
            report["city"] = bench_city(args)
        if "items" not in args.skip:
            report["items"] = bench_items(args, work)
        if "white" not in args.skip:
            report["white"] = bench_white(args, work)
    print(json.dumps(report, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
