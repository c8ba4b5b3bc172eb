"""Benchmark one step of the engine in isolation: a tile's glb streams, numpy vs compiled.

``tiles.glb.encode.to_glb`` on one 30 000-triangle tile (the default budget; generated
terrain, 4 features), uncompressed, with the numpy path of :mod:`tiles.glb.kernels`
(what every tile below 200 000 triangles used before) and with the one compiled pass,
alternated per repetition in one process (same load), median of ``--reps`` (wall and
CPU time of the process). Short runs,
so the median is less at the mercy of a shared machine than whole builds are.

    python bench/bench_glb_streams.py --reps 15
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tiles.glb import kernels  # noqa: E402
from tiles.glb.encode import Primitive, to_glb  # noqa: E402
from tiles.model import Material  # noqa: E402


def tile(n: int = 123) -> Primitive:
    """A 2*(n-1)^2-triangle wavy heightfield tile in float32 metres, 4 features."""
    xs, ys = np.meshgrid(np.linspace(-200, 200, n), np.linspace(-200, 200, n))
    zs = 8 * np.sin(xs / 13) * np.cos(ys / 17) + 0.3 * np.sin(xs * 1.7)
    pos = np.stack([xs.ravel(), ys.ravel(), zs.ravel()], 1).astype(np.float32)
    q = np.arange(n * n).reshape(n, n)[:-1, :-1].ravel()
    idx = np.concatenate([np.stack([q, q + 1, q + n], 1),
                          np.stack([q + 1, q + n + 1, q + n], 1)]).astype(np.uint32)
    fid = ((xs.ravel() > 0) * 2 + (ys.ravel() > 0)).astype(np.uint32)
    return Primitive(pos, idx, Material(), feature_ids=fid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=15)
    args = parser.parse_args()
    prim = tile()
    paths = {"numpy (before)": lambda triangles: False, "compiled (after)": lambda t: True}
    times: dict[str, list[float]] = {name: [] for name in paths}
    cpu: dict[str, list[float]] = {name: [] for name in paths}
    sizes = {}
    original = kernels.use_compiled
    for rep in range(args.reps + 1):  # the first round warms numba's cache, untimed
        for name, choice in paths.items():
            kernels.use_compiled = choice
            start, start_cpu = time.perf_counter(), time.process_time()
            sizes[name] = to_glb([prim])
            if rep:
                times[name].append(time.perf_counter() - start)
                cpu[name].append(time.process_time() - start_cpu)
    kernels.use_compiled = original
    print("| glb streams path | tile triangles | median ms | runs ms (min-max) "
          "| median CPU ms | glb bytes |")
    print("|---|---|---|---|---|---|")
    for name, values in times.items():
        print(f"| {name} | {len(prim.indices):,} | {statistics.median(values) * 1000:.1f} "
              f"| {min(values) * 1000:.1f}-{max(values) * 1000:.1f} "
              f"| {statistics.median(cpu[name]) * 1000:.1f} | {len(sizes[name]):,} |")
    same = len(set(sizes.values())) == 1
    print(f"\nglb bytes identical on both paths: {same}")


if __name__ == "__main__":
    main()
