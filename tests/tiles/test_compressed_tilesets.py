"""Draco and meshopt through build_tileset: checked tilesets whose geometry decodes back
within 1 mm of the uncompressed build of the same input."""
from __future__ import annotations

import json

import DracoPy
import meshoptimizer
import numpy as np
import pytest
from scipy.spatial import cKDTree

from tiles.check import check_tileset
from tiles.glb.compression import decode_exp_filter
from tiles.glb.builder import read_glb
from tiles.pipeline import BuildOptions, build_tileset
from tiles.store import FileTileStore


def _build(tmp_path, gen_mesh, compression):
    store = FileTileStore(tmp_path / compression)
    summary = build_tileset(gen_mesh.terrain_batches(24_000, 8_000, 400.0), store, "t",
                            BuildOptions(kind="reality", max_triangles_per_tile=8_000,
                                         compression=compression, workers=1))
    return store, summary


def _contents(store):
    def walk(tile):
        if "content" in tile:
            yield tile["content"]["uri"]
        for child in tile.get("children", []):
            yield from walk(child)
    return list(walk(json.loads(store.get("t", "tileset.json"))["root"]))


def _plain_positions(gltf, binary):
    out = []
    for prim in gltf["meshes"][0]["primitives"]:
        acc = gltf["accessors"][prim["attributes"]["POSITION"]]
        view = gltf["bufferViews"][acc["bufferView"]]
        start = view["byteOffset"] + acc.get("byteOffset", 0)
        out.append(np.frombuffer(binary, np.float32, acc["count"] * 3, start).reshape(-1, 3))
    return np.concatenate(out)


def _draco_positions(gltf, binary):
    out = []
    for prim in gltf["meshes"][0]["primitives"]:
        view = gltf["bufferViews"][prim["extensions"]["KHR_draco_mesh_compression"]["bufferView"]]
        mesh = DracoPy.decode(binary[view["byteOffset"]:view["byteOffset"] + view["byteLength"]])
        out.append(np.asarray(mesh.points, dtype=np.float64))
    return np.concatenate(out)


def _meshopt_positions(gltf, binary):
    out = []
    for prim in gltf["meshes"][0]["primitives"]:
        acc = gltf["accessors"][prim["attributes"]["POSITION"]]
        ext = gltf["bufferViews"][acc["bufferView"]]["extensions"]["EXT_meshopt_compression"]
        raw = binary[ext["byteOffset"]:ext["byteOffset"] + ext["byteLength"]]
        words = meshoptimizer.decode_vertex_buffer(ext["count"], ext["byteStride"], raw)
        out.append(decode_exp_filter(np.frombuffer(words, np.uint32).reshape(-1, 3)))
    return np.concatenate(out).astype(np.float64)


@pytest.mark.parametrize("compression,decode", [("draco", _draco_positions),
                                                ("meshopt", _meshopt_positions)])
def test_compressed_tileset_is_checked_and_decodes_within_a_millimetre(
        tmp_path, gen_mesh, compression, decode):
    plain_store, plain = _build(tmp_path, gen_mesh, "none")
    store, summary = _build(tmp_path, gen_mesh, compression)
    report = check_tileset(store, "t", validate_glb=True)
    assert report.ok, report.to_text()
    assert summary.tiles == plain.tiles > 1
    uris = _contents(store)
    assert uris == _contents(plain_store)
    plain_bytes = packed_bytes = 0
    for uri in uris:
        gltf, binary = read_glb(store.get("t", uri))
        assert ("KHR_draco_mesh_compression" if compression == "draco"
                else "EXT_meshopt_compression") in gltf["extensionsUsed"]
        expected = _plain_positions(*read_glb(plain_store.get("t", uri)))
        decoded = decode(gltf, binary)
        # every decoded vertex lies within 1 mm of a vertex of the uncompressed tile
        dist, _ = cKDTree(expected).query(decoded)
        assert dist.max() <= 0.001
        plain_bytes += len(plain_store.get("t", uri))
        packed_bytes += len(store.get("t", uri))
    assert packed_bytes < plain_bytes / 2
