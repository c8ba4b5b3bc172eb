"""Readers on the real photogrammetry deliveries and on broken files."""
from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tiles.errors import InputError
from tiles.glb.encode import Primitive, to_glb
from tiles.model import GeoFrame
from tiles.readers.contextcapture import read_production
from tiles.readers.mesh import MeshRepairWarning, read_mesh
from tiles.readers.osgb import finest_files
from tiles.validate import validate_glb

FRAME = GeoFrame(crs="EPSG:4547")


def to_primitive(batch):
    centre = batch.positions.mean(axis=0)
    return Primitive((batch.positions - centre).astype(np.float32), batch.indices,
                     batch.material, uvs=batch.uvs, colors=batch.colors)


def test_real_obj_export_with_textures(shared_data):
    obj = shared_data("photogrammetry", "cc_obj_production5", "Data", "Tile_+000_+016",
                      "Tile_+000_+016.obj")
    batches = list(read_mesh(obj, FRAME))
    assert sum(len(b.indices) for b in batches) == 23962  # SOURCES.md
    assert len(batches) == 4
    jpegs = {p.read_bytes() for p in obj.parent.glob("*.jpg")}
    for b in batches:
        assert b.material.texture in jpegs  # embedded as delivered, not re-encoded
        assert b.uvs is not None and b.uvs.min() >= 0 and b.uvs.max() <= 1
        lo, hi = b.positions.min(0), b.positions.max(0)
        assert lo[0] > -1 and hi[0] < 101 and lo[1] > 1599 and hi[1] < 1701
    glb = to_glb([to_primitive(b) for b in batches], compression="draco")
    report = validate_glb([glb])[0]
    assert report.errors == 0, report.summary()


def test_real_osgb_production_reads_finest_level(shared_data):
    folder = shared_data("photogrammetry", "cc_osgb_production5")
    frame, batches = read_production(folder)
    assert frame.origin == (501027.524, 2488718.808, 0.0)
    assert "central_meridian\",113.37" in frame.crs.replace(" ", "")
    total, textured, first = 0, 0, None
    for b in batches:
        total += len(b.indices)
        textured += b.material.texture is not None
        first = first or b
    # the L19 leaves of both tiles (their L20 children are missing): 38,807 + 53,542
    assert total == 92349
    assert textured > 0
    image = Image.open(io.BytesIO(first.material.texture))
    assert image.size[0] > 8  # a real decoded texture, not a placeholder
    glb = to_glb([to_primitive(first)])
    report = validate_glb([glb])[0]
    assert report.errors == 0, report.summary()


def test_finest_files_tolerates_missing_children():
    names = ["T", "T_L15_0u", "T_L16_0uu", "T_L17_0uu0", "T_L17_0uu1", "T_L18_0uu10"]
    leaves = finest_files([Path(n + ".osgb") for n in names])
    assert [p.stem for p in leaves] == ["T_L17_0uu0", "T_L18_0uu10"]


def write_obj(folder: Path, body: str, mtl: str | None = None) -> Path:
    path = folder / "m.obj"
    head = "mtllib m.mtl\n" if mtl is not None else ""
    path.write_text(head + body)
    if mtl is not None:
        (folder / "m.mtl").write_text(mtl)
    return path


def test_repairs_nan_degenerate_and_missing_texture(tmp_path):
    body = """v 0 0 0
v 1 0 0
v 0 1 0
v nan 0 0
v 2 0 0
vt 0 0
vt 1 0
vt 0 1
vt 1 1
vt 1 1
usemtl facade
f 1/1 2/2 3/3
f 1/1 4/4 3/3
f 1/1 2/2 5/5
"""
    obj = write_obj(tmp_path, body, "newmtl facade\nKd 0.5 0.5 0.5\nmap_Kd gone.jpg\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        batches = list(read_mesh(obj, FRAME))
    messages = " ".join(str(w.message) for w in caught if w.category is MeshRepairWarning)
    assert "NaN" in messages and "degenerate" in messages and "gone.jpg" in messages
    assert len(batches) == 1 and len(batches[0].indices) == 1
    assert batches[0].material.texture is None
    assert np.isfinite(batches[0].positions).all()


def test_uvs_shifted_by_whole_repeats_come_back(tmp_path):
    body = "v 0 0 0\nv 1 0 0\nv 0 1 0\nvt 2.1 3.2\nvt 2.9 3.1\nvt 2.5 3.9\nf 1/1 2/2 3/3\n"
    Image.new("RGB", (4, 4), (9, 9, 9)).save(tmp_path / "t.png")
    obj = write_obj(tmp_path, body, "newmtl a\nmap_Kd t.png\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (batch,) = list(read_mesh(obj, FRAME))
    assert batch.uvs.min() >= 0 and batch.uvs.max() <= 1
    assert np.allclose(sorted(batch.uvs[:, 0]), [0.1, 0.5, 0.9], atol=1e-5)


def test_empty_or_missing_mesh_is_refused(tmp_path):
    with pytest.raises(InputError):
        list(read_mesh(write_obj(tmp_path, "v 0 0 0\nv 0 0 0\nv 0 0 0\nf 1 2 3\n"), FRAME))
    with pytest.raises(InputError, match="does not exist"):
        list(read_mesh(tmp_path / "absent.obj", FRAME))


def test_production_without_metadata_is_refused(tmp_path):
    (tmp_path / "Data").mkdir()
    with pytest.raises(InputError, match="metadata.xml"):
        read_production(tmp_path)
