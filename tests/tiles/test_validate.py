"""The Khronos glTF validator runner: one node process, honest verdicts."""
from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from tiles.errors import TilesError
from tiles.glb.encode import Primitive, to_glb
from tiles.model import Material
from tiles.validate import validate_glb


def good_glb() -> bytes:
    pos = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], np.float32)
    return to_glb([Primitive(pos, np.array([[0, 1, 2]], np.uint32), Material())])


def broken_glb() -> bytes:
    """A glb whose accessor claims more vertices than its buffer holds."""
    gltf = {"asset": {"version": "2.0"}, "buffers": [{"byteLength": 36}],
            "bufferViews": [{"buffer": 0, "byteLength": 36}],
            "accessors": [{"bufferView": 0, "componentType": 5126, "count": 30,
                           "type": "VEC3", "min": [0, 0, 0], "max": [1, 1, 0]}],
            "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
            "nodes": [{"mesh": 0}], "scenes": [{"nodes": [0]}], "scene": 0}
    text = json.dumps(gltf).encode()
    text += b" " * (-len(text) % 4)
    binary = bytes(36)
    total = 12 + 8 + len(text) + 8 + len(binary)
    return (struct.pack("<4sII", b"glTF", 2, total) + struct.pack("<I4s", len(text), b"JSON")
            + text + struct.pack("<I4s", len(binary), b"BIN\0") + binary)


def test_good_and_broken_files_in_one_run(tmp_path):
    path = tmp_path / "good.glb"
    path.write_bytes(good_glb())
    reports = validate_glb([path, broken_glb(), b"not a glb at all"])
    assert [r.errors == 0 for r in reports] == [True, False, False]
    assert reports[0].path == str(path)
    assert any(m["severity"] == 0 for m in reports[1].messages)
    assert "error" in reports[1].summary()


def test_missing_validator_tells_the_user_to_run_make(tmp_path, monkeypatch):
    monkeypatch.setenv("CIMTWIN_NODE_MODULES", str(tmp_path / "nowhere"))
    with pytest.raises(TilesError, match="make"):
        validate_glb([good_glb()])


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(TilesError, match="does not exist"):
        validate_glb([tmp_path / "absent.glb"])
