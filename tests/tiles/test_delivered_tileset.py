"""Delivered 3D Tiles: checked, copied and published whole, or refused with a report.

The "delivered" tileset is a real one: the shared degrees point cloud tiled here, copied
to a folder as a contractor would hand it over.
"""
import json
import os
import shutil
import struct

import pytest

from tiles.delivered import DeliveredTilesetError, import_delivered
from tiles.errors import UnsafePathError
from tiles.pointcloud import PointOptions, build_pointcloud
from tiles.readers.pointcloud import read_las
from tiles.store import FileTileStore


@pytest.fixture
def delivered(tmp_path, shared_data):
    store = FileTileStore(tmp_path / "maker")
    cloud = read_las(shared_data("pointcloud", "epsg_4326.las"))
    build_pointcloud(cloud, store, "made", PointOptions(max_points_per_tile=1500))
    folder = tmp_path / "delivery"
    shutil.copytree(store.tileset_dir("made"), folder)
    return folder


def _doc(folder):
    return json.loads((folder / "tileset.json").read_text())


def _save(folder, doc):
    (folder / "tileset.json").write_text(json.dumps(doc))


def test_a_good_tileset_is_published_byte_for_byte_with_its_bounds(tmp_path, delivered):
    store = FileTileStore(tmp_path / "store")
    summary = import_delivered(delivered / "tileset.json", store, "t")
    originals = sorted(p.relative_to(delivered).as_posix() for p in delivered.rglob("*")
                       if p.is_file())
    assert list(store.list("t")) == originals
    for path in originals:
        assert store.get("t", path) == (delivered / path).read_bytes()
    # SOURCES.md: x -94.68...-94.66, y 31.04...31.05
    assert -94.69 < summary.bounds[0] < summary.bounds[2] < -94.65
    assert 31.03 < summary.bounds[1] < summary.bounds[3] < 31.06


def test_legacy_b3dm_is_served_as_delivered(tmp_path, delivered):
    doc = _doc(delivered)
    glb_uri = doc["root"]["content"]["uri"]
    glb = (delivered / glb_uri).read_bytes()
    table = b'{"BATCH_LENGTH":0}  '
    b3dm = struct.pack("<4sIIIIII", b"b3dm", 1, 28 + len(table) + len(glb), len(table),
                       0, 0, 0) + table + glb
    (delivered / "legacy.b3dm").write_bytes(b3dm)
    doc["root"]["content"]["uri"] = "legacy.b3dm"
    _save(delivered, doc)
    (delivered / glb_uri).unlink()
    store = FileTileStore(tmp_path / "store")
    summary = import_delivered(delivered, store, "t")
    assert store.get("t", "legacy.b3dm") == b3dm
    assert "legacy" in summary.warnings[0] and "--upgrade" in summary.warnings[0]


@pytest.mark.parametrize("uri", ["../outside.glb", "/etc/passwd", "http://host/t.glb",
                                 "file:///etc/passwd", "points/../../outside.glb"])
def test_content_uris_leaving_the_folder_are_refused(tmp_path, delivered, uri):
    (tmp_path / "outside.glb").write_bytes(b"secret")
    doc = _doc(delivered)
    doc["root"]["children"][0]["content"]["uri"] = uri
    _save(delivered, doc)
    store = FileTileStore(tmp_path / "store")
    with pytest.raises(UnsafePathError):
        import_delivered(delivered, store, "t")
    assert store.tilesets() == []


def test_a_symlink_out_of_the_folder_is_refused(tmp_path, delivered):
    (tmp_path / "outside.glb").write_bytes(b"secret")
    uri = _doc(delivered)["root"]["children"][0]["content"]["uri"]
    (delivered / uri).unlink()
    os.symlink(tmp_path / "outside.glb", delivered / uri)
    with pytest.raises(UnsafePathError):
        import_delivered(delivered, FileTileStore(tmp_path / "store"), "t")


def test_a_broken_tileset_gets_a_report_and_the_old_one_keeps_serving(tmp_path, delivered):
    store = FileTileStore(tmp_path / "store")
    import_delivered(delivered, store, "t")
    before = store.get("t", "tileset.json")
    doc = _doc(delivered)
    missing = doc["root"]["children"][0]["content"]["uri"]
    damaged = doc["root"]["children"][1]["content"]["uri"]
    (delivered / missing).unlink()
    (delivered / damaged).write_bytes(b"glTF but not really")
    doc["root"]["children"][2]["geometricError"] = doc["root"]["geometricError"] * 10
    _save(delivered, doc)
    with pytest.raises(DeliveredTilesetError) as info:
        import_delivered(delivered, store, "t")
    report = "\n".join(info.value.report)
    assert missing in report and damaged in report and "exceeds its parent" in report
    assert store.get("t", "tileset.json") == before
