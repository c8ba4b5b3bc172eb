"""build_tileset end to end: a checked, georeferenced HLOD tree with pickable features."""
from __future__ import annotations

import json

import numpy as np
import pyproj
import pytest

from tiles.check import check_tileset
from tiles.errors import GeoreferenceError, InputError
from tiles.glb.builder import read_glb
from tiles.glb.metadata import decode_property_table
from tiles.model import GeoFrame, Material, MeshBatch
from tiles.pipeline import BuildOptions, build_tileset
from tiles.store import FileTileStore


def _tiles(tile, depth=0):
    yield tile, depth
    for child in tile.get("children", []):
        yield from _tiles(child, depth + 1)


def _build(tmp_path, batches, **options):
    store = FileTileStore(tmp_path / "store")
    opts = dict(kind="reality", max_triangles_per_tile=20_000, workers=1)
    opts.update(options)
    summary = build_tileset(batches, store, "t", BuildOptions(**opts))
    document = json.loads(store.get("t", "tileset.json"))
    return store, summary, document


def test_reality_mesh_becomes_checked_replace_hlod(tmp_path, gen_mesh):
    batches = list(gen_mesh.terrain_batches(120_000, 30_000, size_m=800.0))
    store, summary, doc = _build(tmp_path, batches)
    assert summary.triangles == sum(b.triangle_count for b in batches)
    report = check_tileset(store, "t", validate_glb=True)
    assert report.ok, report.to_text()
    assert report.validated == summary.tiles > 4
    root = doc["root"]
    assert root["refine"] == "REPLACE"
    for tile, _ in _tiles(root):
        kids = tile.get("children", [])
        if kids:
            assert all(tile["geometricError"] > k["geometricError"] for k in kids)
        else:
            assert tile["geometricError"] == 0
    # a parent really is simplified: fewer triangles than its children together
    glb_root, _ = read_glb(store.get("t", root["content"]["uri"]))
    root_tris = sum(glb_root["accessors"][p["indices"]]["count"] // 3
                    for m in glb_root["meshes"] for p in m["primitives"])
    assert root_tris < summary.triangles / 2


def test_root_transform_places_data_where_pyproj_says(tmp_path, gen_mesh):
    frame = GeoFrame(crs="EPSG:4548", origin=gen_mesh.LIXIA_ORIGIN)
    _, summary, doc = _build(tmp_path, gen_mesh.terrain_batches(20_000, 20_000, 200.0, frame))
    matrix = np.asarray(doc["root"]["transform"]).reshape(4, 4).T
    centre = np.asarray(doc["root"]["boundingVolume"]["box"][:3])
    ecef = matrix @ np.append(centre, 1.0)
    lon, lat, _ = pyproj.Transformer.from_crs("EPSG:4978", "EPSG:4979",
                                              always_xy=True).transform(*ecef[:3])
    e, n = pyproj.Transformer.from_crs("EPSG:4490", "EPSG:4548",
                                       always_xy=True).transform(lon, lat)
    assert abs(e - (gen_mesh.LIXIA_ORIGIN[0] + 100)) < 1.0
    assert abs(n - (gen_mesh.LIXIA_ORIGIN[1] + 100)) < 1.0
    assert summary.bounds[0] < lon < summary.bounds[2]
    assert summary.frame["crs"] == "EPSG:4548"


def test_features_survive_simplification_and_are_typed(tmp_path, gen_mesh):
    batches = list(gen_mesh.terrain_batches(60_000, 15_000, size_m=400.0))
    expected = {k: v for b in batches for k, v in b.features.items()}
    store, _, doc = _build(tmp_path, batches)
    seen = set()
    for tile, _ in _tiles(doc["root"]):
        gltf, binary = read_glb(store.get("t", tile["content"]["uri"]))
        rows = decode_property_table(gltf, binary)
        for row in rows:
            fid = row["index"]
            seen.add(fid)
            assert row == expected[fid]
    assert seen == set(expected)


def test_building_models_use_add_and_tall_data_an_octree(tmp_path):
    frame = GeoFrame(crs="ENU", origin=(117.12, 36.65, 30.0))
    batches = []
    rng = np.random.default_rng(1)
    for k in range(64):  # a 4x4 x 4-storey stack of boxes, one feature each
        x, y, z = k % 4 * 10.0, k // 4 % 4 * 10.0, k // 16 * 10.0
        pts = rng.random((300, 3)) * 8 + [x, y, z]
        idx = np.arange(300, dtype=np.uint32).reshape(-1, 3)
        batches.append(MeshBatch(positions=pts, indices=idx, frame=frame,
                                 feature_ids=np.full(300, k, np.uint32),
                                 features={k: {"GlobalId": f"g{k}", "storey": k // 16}}))
    store, _, doc = _build(tmp_path, batches, kind="bim", max_triangles_per_tile=400)
    assert doc["root"]["refine"] == "ADD"
    assert len(doc["root"]["children"]) == 8  # 40 m tall, 40 m wide: split in z too
    assert check_tileset(store, "t", validate_glb=True).ok


def test_bad_input_is_repaired_with_warnings(tmp_path):
    frame = GeoFrame(crs="ENU", origin=(117.12, 36.65, 30.0))
    pos = np.array([[0, 0, 0], [10, 0, 0], [0, 10, 0], [np.nan, 0, 0], [5, 0, 0]], float)
    idx = np.array([[0, 1, 2], [0, 1, 3], [0, 1, 4], [1, 1, 2], [0, 1, 9]], np.uint32)
    good = MeshBatch(positions=pos, indices=idx, frame=frame,
                     uvs=np.full((5, 2), 3.0, np.float32),  # UVs without a texture
                     material=Material(name="broken", texture=b"not an image"))
    empty = MeshBatch(positions=np.empty((0, 3)), indices=np.empty((0, 3), np.uint32),
                      frame=frame)
    store, summary, _ = _build(tmp_path, [empty, good])
    assert summary.triangles == 1
    text = " ".join(summary.warnings)
    assert "empty mesh" in text and "4 of 5 triangles dropped" in text
    assert "cannot be decoded" in text
    assert check_tileset(store, "t", validate_glb=True).ok


def test_unusable_input_fails_and_previous_version_keeps_serving(tmp_path, gen_mesh):
    store, _, _ = _build(tmp_path, gen_mesh.terrain_batches(2_000, 2_000, 50.0))
    before = store.get("t", "tileset.json")
    frame = GeoFrame(crs="ENU", origin=(117.12, 36.65, 30.0))
    nan = MeshBatch(positions=np.full((3, 3), np.nan), indices=np.array([[0, 1, 2]], np.uint32),
                    frame=frame)
    with pytest.raises(InputError, match="no usable triangles"):
        build_tileset([nan], store, "t", BuildOptions(workers=1))
    bad_crs = MeshBatch(positions=np.eye(3), indices=np.array([[0, 1, 2]], np.uint32),
                        frame=GeoFrame(crs="EPSG:0"))
    with pytest.raises(GeoreferenceError):
        build_tileset([bad_crs], store, "t", BuildOptions(workers=1))
    assert store.get("t", "tileset.json") == before
