"""check_tileset finds the rule breaks a viewer would suffer from."""
from __future__ import annotations

import json
import struct

import pytest

from tiles.check import check_tileset
from tiles.glb.builder import read_glb
from tiles.pipeline import BuildOptions, build_tileset
from tiles.store import FileTileStore


@pytest.fixture
def built(tmp_path, gen_mesh):
    store = FileTileStore(tmp_path / "store")
    build_tileset(gen_mesh.terrain_batches(20_000, 5_000, 200.0), store, "t",
                  BuildOptions(kind="reality", max_triangles_per_tile=6_000, workers=1,
                               validate_glb=False))
    return store


def _tamper(store, change):
    path = store.path_for("t", "tileset.json")
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def test_built_tileset_passes(built):
    report = check_tileset(built, "t")
    assert report.ok, report.to_text()
    assert "OK" in report.to_text()


def test_child_outside_parent_is_an_error(built):
    def move(doc):
        doc["root"]["children"][0]["boundingVolume"]["box"][0] += 5000.0
    _tamper(built, move)
    report = check_tileset(built, "t", validate_glb=False)
    assert any("sticks out of its parent" in e for e in report.errors)
    assert any("geometry sticks out" in e for e in report.errors)


def test_error_rules_and_missing_content(built):
    def break_rules(doc):
        child = doc["root"]["children"][0]
        child["geometricError"] = doc["root"]["geometricError"] + 1
        leaf = doc["root"]["children"][1]
        while leaf.get("children"):
            leaf = leaf["children"][0]
        leaf["geometricError"] = 3.0
        doc["root"]["children"][-1]["content"]["uri"] = "tiles/nope.glb"
        del doc["root"]["refine"]
    _tamper(built, break_rules)
    text = check_tileset(built, "t", validate_glb=False).to_text()
    assert "exceeds its parent" in text
    assert "expected 0" in text
    assert "'tiles/nope.glb' is missing" in text
    assert "refine must be set" in text


def _glb(gltf: dict, binary: bytes) -> bytes:
    text = json.dumps(gltf).encode()
    text += b" " * (-len(text) % 4)
    binary += b"\x00" * (-len(binary) % 4)
    total = 12 + 8 + len(text) + 8 + len(binary)
    return (b"glTF" + struct.pack("<II", 2, total) + struct.pack("<I4s", len(text), b"JSON")
            + text + struct.pack("<I4s", len(binary), b"BIN\x00") + binary)


def test_invalid_glb_fails_validation(built):
    path = built.path_for("t", "tiles/r.glb")
    gltf, binary = read_glb(path.read_bytes())
    gltf["accessors"][0]["count"] *= 1000  # reads far past its buffer view
    path.write_bytes(_glb(gltf, binary))
    report = check_tileset(built, "t", validate_glb=True)
    assert not report.ok
    assert any("r.glb" in e and "error" in e for e in report.errors)


def test_a_large_build_validates_a_sample_and_says_so(built):
    from tiles.check import check_directory
    directory = built.tileset_dir("t")
    full = check_directory(directory)
    assert full.validated == full.contents > 3 and not full.warnings
    sampled = check_directory(directory, validate_limit=3)
    assert sampled.ok and sampled.validated == 3
    assert any("3 of" in w and "tilesets check" in w for w in sampled.warnings)
