"""Reality data imports, whole runs of the `cimtwin` command, side by side.

    python bench/bench_photo.py [--reps 3] [--scale 25,100,400] [--baseline TREE]
                                [--skip-points]

1. The shared 2-tile OSGB production (200,358 triangles over all levels):
   `cimtwin import photo` (the producer's pyramid kept) against `--rebuild-lod` (the
   finest level re-simplified), `osgconv` converting the same 28 files to OBJ (what
   the old path spent in the external tool alone, per run), and, with ``--baseline
   TREE``, the same command from another checkout (e.g. a worktree of the commit
   before the native reader).
2. Scaling: productions of N tile folders made by bench/gen_photo_production.py;
   folders/s, triangles/s, peak RSS and the first view's bytes per size (with
   ``--baseline TREE`` each size is imported by that tree too, right after).
3. Point clouds: `cimtwin import pointcloud` against `py3dtiles convert --jobs 2` on
   the shared Autzen file and on a 10x copy of it (laspy, offset copies).

Wall time and peak RSS of the whole process tree (sampled every 20 ms, psutil) per
run; the median of ``--reps`` runs. Output and input sizes, and the bytes of the
first view (tileset.json + root content). Results go to bench/README.md by hand.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
PRODUCTION = SHARED / "photogrammetry" / "cc_osgb_production5"
OUT = ROOT / "bench" / "out" / "photo"
CIMTWIN = Path(sys.executable).with_name("cimtwin")


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc] + proc.children(recursive=True):
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def run(args: list[str], env: dict | None = None, cwd: Path | None = None) -> dict:
    """Run a command to completion; wall seconds, peak tree RSS (MB), exit code."""
    started = time.perf_counter()
    proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    watched, peak, stop = psutil.Process(proc.pid), [0], threading.Event()

    def sample():
        while not stop.is_set():
            try:
                peak[0] = max(peak[0], _tree_rss(watched))
            except psutil.Error:
                pass
            stop.wait(0.02)
    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    out, err = proc.communicate()
    stop.set()
    thread.join()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, args))} failed: {err[-2000:]}")
    return {"s": time.perf_counter() - started, "mb": peak[0] / 2**20, "stdout": out}


def _env(data_dir: Path, tree: Path = ROOT) -> dict:
    shutil.rmtree(data_dir, ignore_errors=True)
    return os.environ | {"CIMTWIN_DATA_DIR": str(data_dir), "PYTHONPATH": str(tree)}


def _median(runs: list[dict]) -> dict:
    return {"s": statistics.median(r["s"] for r in runs),
            "mb": statistics.median(r["mb"] for r in runs), "runs": len(runs)}


def _sizes(data_dir: Path, tileset_id: str) -> dict:
    folder = (data_dir / "tiles" / tileset_id).resolve()
    doc = json.loads((folder / "tileset.json").read_text())
    tileset = (folder / "tileset.json").stat().st_size
    root = 0
    if "content" in doc["root"]:
        root = (folder / doc["root"]["content"]["uri"]).stat().st_size
    total = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return {"output_mb": total / 2**20, "first_view_kb": (tileset + root) / 1024,
            "tileset_json_kb": tileset / 1024, "root_content_kb": root / 1024}


def _input_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 2**20


def bench_production(reps: int, baseline: Path | None) -> dict:
    """Section 1: the shared production, each way ``reps`` times."""
    results = {}
    ways = {"pyramid": [], "rebuild-lod": ["--rebuild-lod"]}
    for label, extra in ways.items():
        runs = []
        for _ in range(reps):
            env = _env(OUT / "data")
            result = run([str(CIMTWIN), "import", "photo", str(PRODUCTION), "--json",
                          "--name", "p5", *extra], env=env)
            runs.append(result)
        summary = json.loads(runs[-1]["stdout"])
        results[label] = _median(runs) | _sizes(OUT / "data", summary["id"]) | {
            "triangles": summary["triangles"], "tiles": summary["tiles"]}
    if baseline is not None:
        runs = [run([str(CIMTWIN), "import", "photo", str(PRODUCTION), "--json"],
                    env=_env(OUT / "data-old", baseline)) for _ in range(reps)]
        results["baseline"] = _median(runs) | {"tree": str(baseline)}
    work = OUT / "osgconv"
    runs = []
    for _ in range(reps):
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        files = sorted(PRODUCTION.glob("Data/*/*.osgb"))
        script = "; ".join(f"osgconv '{f}' {i}.obj >/dev/null 2>&1" for i, f in
                           enumerate(files))
        runs.append(run(["bash", "-c", script], cwd=work))
    results["osgconv-obj-only"] = _median(runs) | {"files": len(files)}
    results["input_mb"] = _input_mb(PRODUCTION)
    return results


def bench_scaling(sizes: list[int], baseline: Path | None = None) -> dict:
    """Section 2: generated productions of each size, one run each; with ``baseline``
    the same production is imported by that tree right after (side by side)."""
    sys.path.insert(0, str(ROOT / "bench"))
    from gen_photo_production import generate
    out = {}
    trees = {"": ROOT} | ({"baseline": baseline} if baseline is not None else {})
    for count in sizes:
        production = generate(OUT / f"gen{count}", count)
        for label, tree in trees.items():
            env = _env(OUT / "data-scale", tree)
            result = run([str(CIMTWIN), "import", "photo", str(production), "--json"],
                         env=env)
            summary = json.loads(result["stdout"])
            key = f"{count}{'-' + label if label else ''}"
            out[key] = {"s": result["s"], "mb": result["mb"],
                        "folders_per_s": count / result["s"],
                        "triangles_per_s": summary["triangles"] / result["s"],
                        "triangles": summary["triangles"], "tiles": summary["tiles"],
                        "loadavg": os.getloadavg()} | \
                _sizes(OUT / "data-scale", summary["id"]) | {"input_mb": _input_mb(production)}
            print(key, json.dumps(out[key]), flush=True)
    return out


def _big_las(copies: int) -> Path:
    """The Autzen cloud repeated ``copies`` times side by side (x offset 1200 ft)."""
    import laspy
    import numpy as np
    target = OUT / f"autzen_x{copies}.las"
    if target.exists():
        return target
    src = laspy.read(str(SHARED / "pointcloud" / "autzen_trim.las"))
    out = laspy.LasData(src.header)
    out.points = laspy.ScaleAwarePointRecord.zeros(len(src.points) * copies,
                                                   header=src.header)
    for name in ("red", "green", "blue", "intensity", "classification"):
        setattr(out, name, np.tile(np.asarray(getattr(src, name)), copies))
    out.x = np.concatenate([np.asarray(src.x) + 1200.0 * k for k in range(copies)])
    out.y = np.tile(np.asarray(src.y), copies)
    out.z = np.tile(np.asarray(src.z), copies)
    out.write(str(target))
    return target


def bench_points(reps: int) -> dict:
    """Section 3: cimtwin and py3dtiles on the same LAS files."""
    results = {}
    py3dtiles = Path(sys.executable).with_name("py3dtiles")
    for path in (SHARED / "pointcloud" / "autzen_trim.las", _big_las(10)):
        import laspy
        points = laspy.open(str(path)).header.point_count
        ours = [run([str(CIMTWIN), "import", "pointcloud", str(path), "--json"],
                    env=_env(OUT / "data-pc")) for _ in range(reps)]
        theirs = []
        for _ in range(reps):
            shutil.rmtree(OUT / "py3dtiles", ignore_errors=True)
            theirs.append(run([str(py3dtiles), "convert", str(path), "--out",
                               str(OUT / "py3dtiles"), "--jobs", "2", "--overwrite"]))
        ours_m, theirs_m = _median(ours), _median(theirs)
        results[path.name] = {
            "points": points,
            "cimtwin": ours_m | {"points_per_s": points / ours_m["s"]},
            "py3dtiles": theirs_m | {"points_per_s": points / theirs_m["s"]},
            "input_mb": _input_mb(path)}
        print(path.name, json.dumps(results[path.name]), flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--scale", default="25,100,400")
    parser.add_argument("--baseline", type=Path)
    parser.add_argument("--skip-points", action="store_true")
    parser.add_argument("--only", choices=("production", "scaling", "points"))
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    report: dict = {"loadavg_at_start": load}
    if args.only in (None, "production"):
        report["production"] = bench_production(args.reps, args.baseline)
        print(json.dumps(report["production"], indent=1), flush=True)
    if args.only in (None, "scaling") and args.scale:
        report["scaling"] = bench_scaling([int(v) for v in args.scale.split(",")],
                                         args.baseline)
    if args.only in (None, "points") and not args.skip_points:
        report["points"] = bench_points(args.reps)
    report["loadavg_at_end"] = os.getloadavg()
    (OUT / "results.json").write_text(json.dumps(report, indent=1, default=str))
    print(json.dumps(report, indent=1, default=str))


if __name__ == "__main__":
    main()
