"""Benchmark: compressed geometry size and error, and simplifier throughput.

Measures, side by side in one invocation (median of REPS runs each):
1. glb geometry size for compression none / draco / meshopt on a real photogrammetry tile
   (../shared/data, textures left out so only geometry counts) and on a generated
   feature-carrying terrain, with the largest position error after decoding;
2. simplifier throughput: meshoptimizer vs fast-simplification on the same mesh, and
   tiles.build.lod.simplify_chunk (meshoptimizer + measured error) as the pipeline runs it.

Run: python bench/bench_compression.py [--reps 3] [--grid 400]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tiles.glb.builder import read_glb  # noqa: E402
from tiles.glb.encode import Primitive, to_glb  # noqa: E402
from tiles.build.chunk import Chunk  # noqa: E402
from tiles.build.lod import meshopt_simplify, simplify_chunk, surface_deviation  # noqa: E402
from tiles.model import GeoFrame, Material  # noqa: E402

OBJ = ROOT.parent / "shared" / "data" / "photogrammetry" / "cc_obj_production5" / "Data" / \
    "Tile_+000_+016" / "Tile_+000_+016.obj"


def median_time(fn, reps: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(reps):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def real_tile() -> list[Primitive]:
    """The real OBJ tile as untextured primitives (UVs kept: they are geometry)."""
    from tiles.readers.mesh import read_mesh
    prims = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batches = list(read_mesh(OBJ, GeoFrame("EPSG:4547")))
    centre = np.concatenate([b.positions for b in batches]).mean(axis=0)
    for b in batches:
        prims.append(Primitive((b.positions - centre).astype(np.float32), b.indices,
                               replace(b.material, texture=None), uvs=b.uvs))
    return prims


def terrain(n: int) -> list[Primitive]:
    """A 200 m heightfield of 2*(n-1)^2 triangles; one feature per 20 m block."""
    xs, ys = np.meshgrid(np.linspace(-100, 100, n), np.linspace(-100, 100, n))
    zs = 8 * np.sin(xs / 13) * np.cos(ys / 17) + 0.3 * np.sin(xs * 1.7)
    pos = np.stack([xs.ravel(), ys.ravel(), zs.ravel()], 1).astype(np.float32)
    q = np.arange(n * n).reshape(n, n)[:-1, :-1].ravel()
    idx = np.concatenate([np.stack([q, q + 1, q + n], 1),
                          np.stack([q + 1, q + n + 1, q + n], 1)]).astype(np.uint32)
    fid = ((xs.ravel() + 100) // 20 * 10 + (ys.ravel() + 100) // 20).astype(np.uint32)
    return [Primitive(pos, idx, Material(), feature_ids=fid)]


def decoded_error(prims: list[Primitive], glb: bytes, compression: str) -> float:
    """Largest distance from a decoded vertex to its source vertex (y-up), metres."""
    from scipy.spatial import cKDTree
    gltf, bin_chunk = read_glb(glb)
    worst = 0.0
    for p, prim in zip(prims, gltf["meshes"][0]["primitives"]):
        src = np.stack([p.positions[:, 0], p.positions[:, 2], -p.positions[:, 1]], 1)
        got = _decode_positions(gltf, bin_chunk, prim, compression)
        worst = max(worst, float(cKDTree(src).query(got)[0].max()))
    return worst


def _decode_positions(gltf, bin_chunk, prim, compression):
    import DracoPy
    import meshoptimizer
    from tiles.glb.compression import decode_exp_filter
    if compression == "draco":
        view = gltf["bufferViews"][prim["extensions"]["KHR_draco_mesh_compression"]["bufferView"]]
        raw = bin_chunk[view["byteOffset"]:view["byteOffset"] + view["byteLength"]]
        return np.asarray(DracoPy.decode(raw).points)
    view = gltf["bufferViews"][gltf["accessors"][prim["attributes"]["POSITION"]]["bufferView"]]
    if compression == "meshopt":
        ext = view["extensions"]["EXT_meshopt_compression"]
        raw = bin_chunk[ext["byteOffset"]:ext["byteOffset"] + ext["byteLength"]]
        words = meshoptimizer.decode_vertex_buffer(ext["count"], ext["byteStride"], raw)
        return decode_exp_filter(np.frombuffer(words, np.uint32).reshape(-1, 3))
    start = view["byteOffset"]
    return np.frombuffer(bin_chunk[start:start + view["byteLength"]], np.float32).reshape(-1, 3)


def bench_sizes(name: str, prims: list[Primitive], reps: int) -> list[str]:
    rows, base = [], None
    tris = sum(len(p.indices) for p in prims)
    for comp in ("none", "draco", "meshopt"):
        secs, glb = median_time(lambda: to_glb(prims, compression=comp), reps)
        base = base or len(glb)
        err = decoded_error(prims, glb, comp)
        rows.append(f"| {name} | {tris:,} | {comp} | {len(glb):,} | {base / len(glb):.1f}x "
                    f"| {err * 1000:.3f} | {secs * 1000:.0f} |")
    return rows


def bench_simplify(prim: Primitive, reps: int) -> list[str]:
    import fast_simplification
    pos, idx = prim.positions.astype(np.float64), prim.indices
    target = len(idx) // 4
    chunk = Chunk(positions=pos, indices=idx, feature_ids=prim.feature_ids)
    runs = {
        "meshoptimizer (tiles.build.lod core)": lambda: meshopt_simplify(pos, idx, target),
        "fast-simplification": lambda: fast_simplification.simplify(
            pos.astype(np.float32), idx.astype(np.int64), target_reduction=0.75),
        "tiles.build.lod.simplify_chunk (+ feature split, measured error)":
            lambda: simplify_chunk(chunk, target),
    }
    rows = []
    for name, fn in runs.items():
        secs, _ = median_time(fn, reps)
        rows.append(f"| {name} | {len(idx):,} -> {target:,} | {secs * 1000:.0f} "
                    f"| {len(idx) / secs / 1e6:.2f} M/s |")
    # the cheap measured error next to the full two-way sampled deviation of the same output
    out, error = simplify_chunk(chunk, target)
    secs, full = median_time(lambda: surface_deviation(pos, idx, out.positions, out.indices),
                             reps)
    rows.append(f"\nmeasured error (tiles.build.lod.measured_error) {error * 1000:.1f} mm; "
                f"full two-way sampled deviation (tiles.build.lod.surface_deviation, "
                f"{secs * 1000:.0f} ms) {full * 1000:.1f} mm")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--grid", type=int, default=400, help="terrain grid side")
    args = parser.parse_args()
    print("| mesh | triangles | compression | glb bytes | ratio | max error mm | encode ms |")
    print("|---|---|---|---|---|---|---|")
    if OBJ.exists():
        for row in bench_sizes("real OBJ tile +016 (no textures)", real_tile(), args.reps):
            print(row)
    gen = terrain(args.grid)
    for row in bench_sizes(f"terrain {args.grid}x{args.grid}, 100 features", gen, args.reps):
        print(row)
    print()
    print("| simplifier | triangles | median ms | throughput (1 core) |")
    print("|---|---|---|---|")
    for row in bench_simplify(gen[0], args.reps):
        print(row)


if __name__ == "__main__":
    main()
