"""Benchmark the tiling pipeline: input triangles/s/core and peak RSS of the process tree.

Each run is a fresh subprocess that builds a generated terrain (bench/gen_mesh.py) with
``tiles.pipeline.build_tileset`` (partition, LOD, glb writing; gltf-validator off) while
a thread samples the RSS of the process and its pool workers (50 ms). The comparison in
the same invocation, run right before each build (same machine load), is meshoptimizer's
simplifier alone on a 1 M-triangle grid, the speed the issue quotes as the reference.
Reports the median of ``--reps`` runs. ``--textured`` gives every batch a JPEG texture.

``--code LABEL=DIR ...`` compares source trees side by side in one invocation (e.g. a
``git archive`` of an earlier commit per step): runs alternate between the trees within
each repetition, so every tree sees the same machine load; each tree first builds a
small warm-up tileset untimed (numba compiles its cache per source path).

    python bench/bench_tiles.py --triangles 1000000 2000000 --reps 3 --workers 2
    python bench/bench_tiles.py --triangles 2000000 --code before=/tmp/a after=.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))


def _tree_rss(proc) -> int:
    total = 0
    for p in [proc] + proc.children(recursive=True):
        try:
            total += p.memory_info().rss
        except Exception:  # a worker that just exited
            pass
    return total


def child_build(triangles: int, workers: int, textured: bool) -> dict:
    """Runs inside the subprocess: one whole build, timed, with peak tree RSS."""
    import psutil
    from gen_mesh import terrain_batches
    from tiles.pipeline import BuildOptions, build_tileset
    from tiles.store import FileTileStore
    me, peak, main, stop = psutil.Process(), [0], [0], threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], _tree_rss(me))
            main[0] = max(main[0], me.memory_info().rss)
            time.sleep(0.05)

    threading.Thread(target=sample, daemon=True).start()
    with tempfile.TemporaryDirectory(prefix="bench-tiles-") as tmp:
        start = time.perf_counter()
        summary = build_tileset(terrain_batches(triangles, 200_000, textured=textured),
                                FileTileStore(tmp), "bench",
                                BuildOptions(kind="reality", workers=workers,
                                             validate_glb=False))
        seconds = time.perf_counter() - start
    stop.set()
    return {"triangles": summary.triangles, "tiles": summary.tiles, "seconds": seconds,
            "peak_rss_mb": peak[0] / 2**20, "main_rss_mb": main[0] / 2**20}


def simplifier_alone() -> float:
    """meshoptimizer simplify of a 1 M-triangle grid to 25 %: triangles/s on one core."""
    import meshoptimizer as mo
    import numpy as np
    n = 708
    lin = np.linspace(0, 1000, n + 1)
    gx, gy = np.meshgrid(lin, lin)
    pos = np.column_stack([gx.ravel(), gy.ravel(),
                           5 * np.sin(gx.ravel() / 37)]).astype(np.float32)
    i = np.arange(n)
    a = (i[None, :] + (n + 1) * i[:, None]).ravel()
    idx = np.concatenate([np.stack([a, a + 1, a + n + 2], 1),
                          np.stack([a, a + n + 2, a + n + 1], 1)])
    flat = idx.astype(np.uint32).ravel()
    dest = np.zeros_like(flat)
    start = time.perf_counter()
    mo.simplify(dest, flat, pos, target_index_count=len(flat) // 4, target_error=1.0)
    return len(idx) / (time.perf_counter() - start)


def run(triangles: int, workers: int, textured: bool, tree: Path = HERE.parent) -> dict:
    """One build in a fresh subprocess, importing the engine from source tree ``tree``."""
    code = (f"import sys, json; sys.path[:0] = [{str(HERE)!r}, {str(tree)!r}]\n"
            "from bench_tiles import child_build\n"
            "if __name__ == '__main__':\n"
            f"    print(json.dumps(child_build({triangles}, {workers}, {textured})))\n")
    script = Path(tempfile.mkstemp(suffix=".py")[1])
    script.write_text(code)
    try:
        out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                             check=True, env=dict(os.environ, PYTHONPATH=str(tree))).stdout
    finally:
        script.unlink()
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--triangles", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--textured", action="store_true")
    parser.add_argument("--code", nargs="+", default=[f"this={HERE.parent}"],
                        help="LABEL=DIR source trees to compare (default: this tree)")
    args = parser.parse_args()
    trees = {label: Path(path).resolve() for label, path in
             (item.split("=", 1) for item in args.code)}
    for tree in trees.values():  # untimed: numba's cache, the OS file cache
        run(200_000, args.workers, args.textured, tree)
    refs: list[float] = []
    print("| code | input triangles | workers | median s | runs s | tri/s/core "
          "| peak RSS MB, tree (median) | of which main process | tiles |")
    print("|---|---|---|---|---|---|---|---|---|")
    for triangles in args.triangles:
        runs: dict[str, list[dict]] = {label: [] for label in trees}
        for _ in range(args.reps):  # the comparison right before each run (same load)
            for label, tree in trees.items():
                refs.append(simplifier_alone())
                runs[label].append(run(triangles, args.workers, args.textured, tree))
        for label, done in runs.items():
            print(_row(label, done, args.workers), flush=True)
    print(f"\nreference: meshoptimizer simplify alone, median of {len(refs)} runs interleaved "
          f"with the builds: {statistics.median(refs) / 1e6:.2f} M tri/s (1 core; runs "
          + ", ".join(f"{r / 1e6:.2f}" for r in refs) + ")")


def _row(label: str, runs: list[dict], workers: int) -> str:
    secs = statistics.median(r["seconds"] for r in runs)
    rss = statistics.median(r["peak_rss_mb"] for r in runs)
    main_rss = statistics.median(r["main_rss_mb"] for r in runs)
    rate = runs[0]["triangles"] / secs / workers
    each = ", ".join(f"{r['seconds']:.1f}" for r in runs)
    return (f"| {label} | {runs[0]['triangles']:,} | {workers} | {secs:.1f} | {each} "
            f"| {rate:,.0f} | {rss:.0f} | {main_rss:.0f} | {runs[0]['tiles']} |")


if __name__ == "__main__":
    main()
