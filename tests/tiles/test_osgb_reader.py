"""The in-process OSGB reader on the real ContextCapture production (shared data).

Expected triangle counts are SOURCES.md's (taken with OpenSceneGraph's osgconv);
texture orientation and inline-JPEG pass-through are checked against files osgconv
writes itself, in tmp_path.
"""
import io
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from tiles.errors import InputError
from tiles.readers.osgb import read_osgb

TILE = ("photogrammetry", "cc_osgb_production5", "Data", "Tile_+000_+013")
#: SOURCES.md: triangles per file of Tile_+000_+013
TRIANGLES = {"Tile_+000_+013": 2399, "Tile_+000_+013_L15_0u": 3527,
             "Tile_+000_+013_L17_0uuu": 10325, "Tile_+000_+013_L18_0uuuu": 20454,
             "Tile_+000_+013_L19_0uuuu5": 1653}


def _osgconv(*args, cwd):
    exe = shutil.which("osgconv")
    if exe is None:
        pytest.fail("osgconv (Debian openscenegraph) is needed to make the fixture")
    subprocess.run([exe, *args], cwd=cwd, check=True, capture_output=True, timeout=120)


def test_triangles_per_file_match_the_source(shared_data):
    folder = shared_data(*TILE)
    for stem, expected in TRIANGLES.items():
        assert read_osgb(folder / f"{stem}.osgb").triangle_count == expected, stem
    total = sum(read_osgb(f).triangle_count for f in sorted(folder.parent.glob("*/*.osgb")))
    assert total == 200358  # every level of both tiles


def test_pagedlod_ranges_children_and_textures(shared_data):
    root = read_osgb(shared_data(*TILE, "Tile_+000_+013.osgb"))
    (node,) = root.nodes
    assert node.kind == "plod" and node.mode == "pixel"
    assert node.files == ["Tile_+000_+013_L15_0u.osgb"]
    assert node.radius == pytest.approx(75.2621, abs=1e-3)
    assert node.switch_range() == pytest.approx(37.6311, abs=1e-3)
    image = Image.open(io.BytesIO(root.textures[0].data))
    assert root.textures[0].mime == "image/jpeg" and image.size == (512, 512)
    lod18 = read_osgb(shared_data(*TILE, "Tile_+000_+013_L18_0uuuu.osgb"))
    assert [n.files for n in lod18.nodes] == [
        [f"Tile_+000_+013_L19_0uuuu{i}.osgb"] for i in range(8)]
    leaf = read_osgb(shared_data(*TILE, "Tile_+000_+013_L19_0uuuu5.osgb"))
    assert [n.kind for n in leaf.nodes] == ["group"] and not leaf.nodes[0].files


def test_raw_texture_is_oriented_like_osgconv_writes_it(tmp_path, shared_data):
    source = shared_data(*TILE, "Tile_+000_+013.osgb")
    _osgconv("-O", "WriteImageHint=WriteOut", str(source), "out.osgt", cwd=tmp_path)
    expected = np.asarray(Image.open(tmp_path / "Tile_+000_+013_L14_0_0_1.jpg"), float)
    ours = np.asarray(Image.open(io.BytesIO(read_osgb(source).textures[0].data)), float)
    assert np.abs(ours - expected).mean() < 2.0  # JPEG noise only
    assert np.abs(ours - expected[::-1]).mean() > 20.0  # and not upside down


def test_inline_jpeg_keeps_its_bytes(tmp_path, shared_data):
    source = shared_data(*TILE, "Tile_+000_+013.osgb")
    _osgconv("-O", "WriteImageHint=WriteOut", str(source), "out.osgt", cwd=tmp_path)
    _osgconv("-O", "WriteImageHint=IncludeFile", "out.osgt", "inline.osgb", cwd=tmp_path)
    jpeg = (tmp_path / "Tile_+000_+013_L14_0_0_1.jpg").read_bytes()
    (tmp_path / "Tile_+000_+013_L14_0_0_1.jpg").unlink()  # only the inline copy is left
    parsed = read_osgb(tmp_path / "inline.osgb")
    assert parsed.textures[0].data == jpeg  # not decoded and re-encoded
    assert parsed.nodes[0].geometries[0].texture == 0


def test_missing_external_texture_is_a_warning_and_untextured(tmp_path, shared_data):
    source = shared_data(*TILE, "Tile_+000_+013.osgb")
    _osgconv("-O", "WriteImageHint=WriteOut", str(source), "external.osgb", cwd=tmp_path)
    (tmp_path / "Tile_+000_+013_L14_0_0_1.jpg").unlink()
    parsed = read_osgb(tmp_path / "external.osgb")
    geometry = parsed.nodes[0].geometries[0]
    assert geometry.texture is None and geometry.triangle_count == 2399
    assert any("texture" in w for w in parsed.warnings)


def test_truncated_file_names_its_path(tmp_path, shared_data):
    data = shared_data(*TILE, "Tile_+000_+013_L16_0uu.osgb").read_bytes()
    broken = tmp_path / "Tile_X_L16_0uu.osgb"
    broken.write_bytes(data[:len(data) // 3])
    with pytest.raises(InputError, match="Tile_X_L16_0uu.osgb"):
        read_osgb(broken)
    garbage = tmp_path / "garbage.osgb"
    garbage.write_bytes(b"not an osgb file at all" * 10)
    with pytest.raises(InputError, match="garbage.osgb"):
        read_osgb(garbage)
