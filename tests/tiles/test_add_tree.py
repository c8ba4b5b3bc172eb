"""ADD trees (buildings, BIM): whole features placed by size, so the root draws the big ones."""
from __future__ import annotations

import json

import numpy as np

from tiles.check import check_tileset
from tiles.glb.builder import read_glb
from tiles.glb.metadata import decode_property_table
from tiles.model import GeoFrame, MeshBatch
from tiles.pipeline import BuildOptions, build_tileset
from tiles.store import FileTileStore

FRAME = GeoFrame(crs="ENU", origin=(117.12, 36.65, 30.0))


def _box(x, y, w, d, h, fid):
    """A closed box (12 triangles) with one feature id; (x, y) is its SW corner."""
    c = np.array([[i, j, k] for k in (0, 1) for j in (0, 1) for i in (0, 1)], float)
    pos = c * [w, d, h] + [x, y, 0]
    faces = [[0, 2, 1], [1, 2, 3], [4, 5, 6], [5, 7, 6], [0, 1, 4], [1, 5, 4],
             [2, 6, 3], [3, 6, 7], [0, 4, 2], [2, 4, 6], [1, 3, 5], [3, 7, 5]]
    return MeshBatch(positions=pos, indices=np.array(faces, np.uint32), frame=FRAME,
                     feature_ids=np.full(8, fid, np.uint32),
                     features={fid: {"name": f"b{fid}", "height_m": float(h)}})


def _district():
    """Four 150 m towers and 400 small 6 m houses over a 1.6 km square."""
    batches, sizes = [], {}
    for k, (x, y) in enumerate([(100, 100), (1300, 100), (100, 1300), (1300, 1300)]):
        batches.append(_box(x, y, 60, 60, 150, k))
        sizes[k] = float(np.linalg.norm([60, 60, 150]))
    rng = np.random.default_rng(3)
    for k in range(4, 404):
        x, y = rng.random(2) * 1550
        batches.append(_box(x, y, 6, 6, 4, k))
        sizes[k] = float(np.linalg.norm([6, 6, 4]))
    return batches, sizes


def _walk(tile, depth=0):
    yield tile, depth
    for child in tile.get("children", []):
        yield from _walk(child, depth + 1)


def _feature_names(store, tile):
    gltf, binary = read_glb(store.get("t", tile["content"]["uri"]))
    return {row["name"] for row in decode_property_table(gltf, binary) if row.get("name")}


def test_root_holds_the_big_buildings_and_smaller_ones_refine(tmp_path):
    batches, sizes = _district()
    store = FileTileStore(tmp_path / "store")
    summary = build_tileset(batches, store, "t", BuildOptions(
        kind="buildings", max_triangles_per_tile=600, workers=1))
    doc = json.loads(store.get("t", "tileset.json"))
    root = doc["root"]
    assert root["refine"] == "ADD" and "content" in root, "the root must draw something"
    assert {"b0", "b1", "b2", "b3"} <= _feature_names(store, root)
    assert root.get("children"), "the small houses go to deeper tiles"
    placed: dict[str, int] = {}
    for tile, _ in _walk(root):
        names = _feature_names(store, tile) if "content" in tile else set()
        for name in names:
            placed[name] = placed.get(name, 0) + 1
        below = {n for child in tile.get("children", []) for t, _ in _walk(child)
                 if "content" in t for n in _feature_names(store, t)}
        largest_below = max((sizes[int(n[1:])] for n in below), default=0.0)
        if tile.get("children"):
            # the error is the size of what is missing when only this tile is drawn
            assert tile["geometricError"] >= largest_below - 1e-6
            assert tile["geometricError"] < max(sizes.values())
        else:
            assert tile["geometricError"] == 0
    assert placed == {f"b{k}": 1 for k in sizes}, "each building whole, in exactly one tile"
    assert summary.tiles > 1
    report = check_tileset(store, "t", validate_glb=True)
    assert report.ok, report.to_text()


def test_a_small_district_within_budget_still_refines_by_size(tmp_path):
    batches, _ = _district()
    store = FileTileStore(tmp_path / "store")
    build_tileset(batches, store, "t", BuildOptions(
        kind="buildings", max_triangles_per_tile=30_000, workers=1))
    root = json.loads(store.get("t", "tileset.json"))["root"]
    # 4,848 triangles fit one tile, but the houses are tiny next to a 1.6 km root
    assert _feature_names(store, root) == {"b0", "b1", "b2", "b3"}
    assert sum(1 for t, _ in _walk(root) if "content" in t) > 1
