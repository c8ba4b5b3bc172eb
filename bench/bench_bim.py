"""BIM import benchmark: cimtwin vs py3dtiles 12 on the same IFC files, side by side.

Each run is a whole process (`cimtwin import bim FILE --json` vs `py3dtiles convert FILE`),
repeated --repeat times (default 3, median reported). Measured per run: wall time and the
peak resident memory of the process tree (psutil, sampled every 20 ms). Elements per
second use the same numerator for both tools: the elements with 3D body geometry
(bim_import.geometry.meshable_products). For py3dtiles we also report where its root
lands: the distance from cimtwin's placement of the same model.

    . .venv/bin/activate && python bench/bench_bim.py [--repeat 3] [--what-if] [FILES...]

--what-if adds a third run per repetition: cimtwin as it would be with two changes outside
bim_import, simulated by a wrapper (nothing in the project is changed): the CLI ending with
os._exit after flushing (Python's teardown of scipy/ifcopenshell/pyproj is 0.2-0.5 s), and
tiles.build.lod importing scipy.spatial where its KD-tree is built, not at module level.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "ifc"
#: Files without a georeference get these overrides (cimtwin refuses to guess).
OVERRIDES = {"IfcOpenHouse_IFC4.ifc": ["--crs", "EPSG:4548", "--origin", "510800,4057300,40"]}


def run_measured(cmd: list[str], env: dict) -> dict:
    """Run ``cmd``; wall seconds, peak tree RSS (MB), exit code, stdout."""
    start = time.perf_counter()
    proc = psutil.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    while proc.poll() is None:
        try:
            tree = [proc] + proc.children(recursive=True)
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.02)
    out, err = proc.communicate()
    return {"seconds": time.perf_counter() - start, "peak_mb": peak / 2**20,
            "rc": proc.returncode, "stdout": out, "stderr": err}


def cimtwin_run(path: Path, work: Path) -> dict:
    env = dict(os.environ, CIMTWIN_DATA_DIR=str(work), PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "server.cli", "import", "bim", str(path), "--json",
           "--classification", "public"] + OVERRIDES.get(path.name, [])
    result = run_measured(cmd, env)
    if result["rc"] == 0:
        summary = json.loads(result["stdout"].strip().splitlines()[-1])
        w, s, e, n = summary["bounds"]
        result["centre"] = ((w + e) / 2, (s + n) / 2)
        result["note"] = (f"{summary['elements']} features, {len(summary['skipped'])} skipped, "
                          f"georef {summary['georef_source']}")
    return result


#: Simulates the two changes --what-if measures (see the module docstring).
WHAT_IF_WRAPPER = """
import importlib, os, runpy, sys, types
fake = types.ModuleType("scipy.spatial")
def cKDTree(*args, **kwargs):
    del sys.modules["scipy.spatial"]
    return importlib.import_module("scipy.spatial").cKDTree(*args, **kwargs)
fake.cKDTree = cKDTree
import scipy
sys.modules["scipy.spatial"] = fake
try:
    runpy.run_module("server.cli", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    sys.stdout.flush(); sys.stderr.flush()
    os._exit(exc.code or 0)
"""


def what_if_run(path: Path, work: Path) -> dict:
    """cimtwin with the CLI and engine changes simulated (``--what-if``)."""
    env = dict(os.environ, CIMTWIN_DATA_DIR=str(work), PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-c", WHAT_IF_WRAPPER, "import", "bim", str(path), "--json",
           "--classification", "public"] + OVERRIDES.get(path.name, [])
    result = run_measured(cmd, env)
    result["note"] = "simulated: CLI os._exit + engine imports scipy lazily"
    return result


def py3dtiles_run(path: Path, work: Path) -> dict:
    exe = Path(sys.executable).with_name("py3dtiles")
    result = run_measured([str(exe), "convert", str(path), "--out", str(work / "out")],
                          dict(os.environ))
    tileset = work / "out" / "tileset.json"
    if result["rc"] == 0 and tileset.exists():
        result["centre"] = _py3dtiles_centre(json.loads(tileset.read_text()))
        result["note"] = "ok"
    else:
        result["note"] = "failed: " + (result["stderr"].strip().splitlines() or ["?"])[-1][:120]
    return result


def _py3dtiles_centre(tileset: dict) -> tuple[float, float] | None:
    """Lon/lat of the root box centre (after the root transform), via pyproj."""
    import numpy as np
    import pyproj
    root = tileset["root"]
    box = root.get("boundingVolume", {}).get("box")
    if not box:
        return None
    centre = np.append(np.asarray(box[:3], float), 1.0)
    if "transform" in root:
        centre = np.asarray(root["transform"], float).reshape(4, 4, order="F") @ centre
    ecef_to_ll = pyproj.Transformer.from_crs("EPSG:4978", "EPSG:4979", always_xy=True)
    lon, lat, _ = ecef_to_ll.transform(*centre[:3])
    return (lon, lat)


def count_elements(path: Path) -> int:
    from bim_import.geometry import meshable_products
    from bim_import.ifcfile import open_ifc
    return len(meshable_products(open_ifc(path), include_spaces=False))


def bench_file(path: Path, repeat: int, what_if: bool = False) -> dict:
    """Alternate the tools per repetition so load changes hit them alike."""
    tools = [("cimtwin", cimtwin_run), ("py3dtiles", py3dtiles_run)]
    if what_if:
        tools.insert(1, ("cimtwin what-if", what_if_run))
    runs = {tool: [] for tool, _ in tools}
    for _ in range(repeat):
        for tool, fn in tools:
            with tempfile.TemporaryDirectory(prefix="bench-bim-") as tmp:
                runs[tool].append(fn(path, Path(tmp)))
    return runs


def speed_ratio(runs: dict, tool: str) -> str:
    """py3dtiles' median seconds over ``tool``'s (= elements/s ratio), '-' on failure."""
    medians = {}
    for name in (tool, "py3dtiles"):
        ok = [r["seconds"] for r in runs[name] if r["rc"] == 0]
        if not ok:
            return "-"
        medians[name] = statistics.median(ok)
    return f"{medians['py3dtiles'] / medians[tool]:.2f}x"


def report(path: Path, runs: dict, elements: int) -> list[str]:
    import pyproj
    size_mb = path.stat().st_size / 2**20
    rows = []
    ours = runs["cimtwin"][-1].get("centre")
    for tool, results in runs.items():
        ok = [r for r in results if r["rc"] == 0]
        if not ok:
            rows.append(f"| {path.name} | {tool} | {elements} | failed | - | - | - | "
                        f"{results[-1]['note']} |")
            continue
        secs = statistics.median(r["seconds"] for r in ok)
        peak = statistics.median(r["peak_mb"] for r in ok)
        note = ok[-1].get("note", "")
        centre = ok[-1].get("centre")
        if tool == "py3dtiles" and centre and ours:
            _, _, dist = pyproj.Geod(ellps="WGS84").inv(centre[0], centre[1], ours[0], ours[1])
            note += f"; root {dist / 1000:,.0f} km from the site"
        rows.append(f"| {path.name} ({size_mb:.1f} MB) | {tool} | {elements} | {secs:.2f} | "
                    f"{elements / secs:.0f} | "
                    f"{speed_ratio(runs, tool) if tool != 'py3dtiles' else ''} | {peak:.0f} | "
                    f"{note} |")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--what-if", action="store_true",
                        help="also time cimtwin with the CLI/engine changes simulated")
    args = parser.parse_args()
    files = args.files or sorted(DATA.glob("*.ifc"))
    lines = ["| file | tool | elements | median s | elements/s | vs py3dtiles | "
             "peak RSS MB (tree) | notes |", "|---|---|---|---|---|---|---|---|"]
    load_before = os.getloadavg()
    for path in files:
        runs = bench_file(path, args.repeat, args.what_if)
        lines += report(path, runs, count_elements(path))
        print("\n".join(lines[-2:]), file=sys.stderr, flush=True)
    print("\n".join(lines))
    print(f"\nload average (1/5/15 min) before: {', '.join(f'{v:.1f}' for v in load_before)}; "
          f"after: {', '.join(f'{v:.1f}' for v in os.getloadavg())}; {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
