"""Parents keep the triangle budget and an honest, growing error, even when the input is
many separately simplified patches with many features (their borders and feature seams
block quadric collapses)."""
from __future__ import annotations

import json

import numpy as np

from tiles.check import check_tileset
from tiles.glb.builder import read_glb
from tiles.build.lod import surface_deviation
from tiles.pipeline import BuildOptions, build_tileset
from tiles.store import FileTileStore


def _triangles(store, uri):
    gltf, _ = read_glb(store.get("t", uri))
    return sum(gltf["accessors"][p["indices"]]["count"] // 3
               for m in gltf["meshes"] for p in m["primitives"])


def test_every_tile_keeps_the_budget_and_errors_grow_towards_the_root(tmp_path, gen_mesh):
    budget = 6_000
    batches = list(gen_mesh.terrain_batches(400_000, 10_000, 1500.0, features_per_batch=8))
    store = FileTileStore(tmp_path / "store")
    build_tileset(batches, store, "t", BuildOptions(
        kind="reality", max_triangles_per_tile=budget, workers=1))
    root = json.loads(store.get("t", "tileset.json"))["root"]
    assert check_tileset(store, "t", validate_glb=False).ok
    depth_errors = {}

    def walk(tile, depth):
        assert _triangles(store, tile["content"]["uri"]) <= 1.3 * budget
        depth_errors.setdefault(depth, []).append(tile["geometricError"])
        for child in tile.get("children", []):
            walk(child, depth + 1)
    walk(root, 0)
    assert len(depth_errors) >= 4
    worst = [max(depth_errors[d]) for d in sorted(depth_errors)]
    assert worst == sorted(worst, reverse=True) and worst[-1] == 0
    # a 1.3 k-triangle root of a 1.5 km terrain is coarse (its gaps count in the error),
    # but a measured error stays a small share of the tile, not hundreds of metres
    assert 0 < root["geometricError"] < 0.1 * 1500


def test_the_root_error_covers_its_real_deviation_from_the_full_mesh(tmp_path, gen_mesh):
    batches = list(gen_mesh.terrain_batches(40_000, 10_000, 300.0))
    store = FileTileStore(tmp_path / "store")
    build_tileset(batches, store, "t", BuildOptions(
        kind="reality", max_triangles_per_tile=4_000, workers=1))
    root = json.loads(store.get("t", "tileset.json"))["root"]
    gltf, binary = read_glb(store.get("t", root["content"]["uri"]))
    prim = gltf["meshes"][0]["primitives"][0]
    acc = gltf["accessors"][prim["attributes"]["POSITION"]]
    view = gltf["bufferViews"][acc["bufferView"]]
    pos = np.frombuffer(binary, np.float32, acc["count"] * 3, view["byteOffset"]).reshape(-1, 3)
    iacc = gltf["accessors"][prim["indices"]]
    iview = gltf["bufferViews"][iacc["bufferView"]]
    dtype = np.uint16 if iacc["componentType"] == 5123 else np.uint32
    idx = np.frombuffer(binary, dtype, iacc["count"], iview["byteOffset"]).reshape(-1, 3)
    # the full mesh in the same (glTF y-up, tile-relative) frame as the root's content
    t = np.asarray(gltf["nodes"][0].get("translation", [0, 0, 0]))
    full_pos, full_idx, offset = [], [], 0
    import pyproj  # noqa: F401  (placement goes through the pipeline's georef)
    from tiles.georef import ecef_to_enu_points, enu_to_ecef_matrix, to_ecef
    enu = np.asarray(root["transform"]).reshape(4, 4).T
    origin = enu[:3, 3]
    for b in batches:
        e = ecef_to_enu_points(to_ecef(b.positions, b.frame), origin)
        full_pos.append(np.stack([e[:, 0], e[:, 2], -e[:, 1]], 1) - t)
        full_idx.append(b.indices + offset)
        offset += len(b.positions)
    assert np.allclose(enu_to_ecef_matrix(origin), enu)
    deviation = surface_deviation(np.concatenate(full_pos), np.concatenate(full_idx),
                                  pos.astype(np.float64), idx.astype(np.int64))
    # the root's geometricError is at least its measured deviation (sampled both ways,
    # independently of the pipeline's own estimate), within sampling noise
    assert root["geometricError"] >= 0.9 * deviation
