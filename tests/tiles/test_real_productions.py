"""Real ContextCapture productions (shared data) through build_tileset and tiles.check.

Both the OBJ export and the OSGB production become checked, textured REPLACE trees:
every glb goes through the Khronos gltf-validator (zero errors), parents are drawn from
one texture atlas within the per-tile texture budget.
"""
from __future__ import annotations

import io
import json

from PIL import Image

from tiles.check import check_tileset
from tiles.glb.builder import read_glb
from tiles.pipeline import BuildOptions, build_tileset
from tiles.readers.contextcapture import read_production
from tiles.store import FileTileStore


def _walk(tile):
    yield tile
    for child in tile.get("children", []):
        yield from _walk(child)


def _images(store, uri):
    gltf, binary = read_glb(store.get("t", uri))
    out = []
    for image in gltf.get("images", []):
        view = gltf["bufferViews"][image["bufferView"]]
        data = binary[view["byteOffset"]:view["byteOffset"] + view["byteLength"]]
        out.append(Image.open(io.BytesIO(data)).size)
    return gltf, out


def _build_and_check(tmp_path, folder, budget, texture_px):
    frame, batches = read_production(folder)
    store = FileTileStore(tmp_path / "store")
    summary = build_tileset(batches, store, "t", BuildOptions(
        kind="reality", max_triangles_per_tile=budget, max_texture_px=texture_px,
        workers=1))
    report = check_tileset(store, "t", validate_glb=True)
    assert report.ok, report.to_text()
    assert report.validated == summary.tiles  # every glb through gltf-validator
    doc = json.loads(store.get("t", "tileset.json"))
    return store, summary, doc


def test_obj_production_becomes_a_checked_textured_hlod(tmp_path, shared_data):
    folder = shared_data("photogrammetry", "cc_obj_production5")
    store, summary, doc = _build_and_check(tmp_path, folder, budget=8_000, texture_px=512)
    assert summary.triangles == 23962  # SOURCES.md: nothing lost
    root = doc["root"]
    assert root["refine"] == "REPLACE" and root.get("children")
    gltf, sizes = _images(store, root["content"]["uri"])
    # the 4 source textures of the tile are one padded atlas in the parent
    assert len(sizes) == 1 and max(sizes[0]) <= 512
    assert len(gltf["materials"]) == 1
    for tile in _walk(root):
        _, sizes = _images(store, tile["content"]["uri"])
        assert all(max(size) <= 512 for size in sizes)


def test_osgb_production_becomes_a_checked_textured_hlod(tmp_path, shared_data):
    folder = shared_data("photogrammetry", "cc_osgb_production5")
    store, summary, doc = _build_and_check(tmp_path, folder, budget=30_000, texture_px=1024)
    assert summary.triangles == 92349  # the finest existing level of both tiles
    assert summary.frame["origin"] == [501027.524, 2488718.808, 0.0]
    root = doc["root"]
    assert root.get("children") and root["geometricError"] > 0
    _, sizes = _images(store, root["content"]["uri"])
    assert len(sizes) == 1 and max(sizes[0]) <= 1024
