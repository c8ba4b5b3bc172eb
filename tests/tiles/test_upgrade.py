"""`import tileset --upgrade`: 3D Tiles 1.0 contents (b3dm, pnts, cmpt) become glb that
passes gltf-validator, with the same world positions and the same feature properties.

The legacy inputs are written here byte by byte from the 3D Tiles 1.0 specification
(headers, feature and batch tables), around a small glTF 2.0 payload, as an older
exporter would deliver them.
"""
import json
import struct

import numpy as np
import pytest

from tiles import georef
from tiles.delivered import import_delivered
from tiles.errors import InputError
from tiles.glb.builder import ARRAY_BUFFER, FLOAT, USHORT, GlbBuilder, read_glb
from tiles.glb.metadata import decode_property_table
from tiles.store import FileTileStore

# A corner of Lixia District, Jinan (the tileset's root transform puts (0,0,0) there).
LON, LAT, HEIGHT = 117.05, 36.68, 40.0
TRIANGLES_YUP = np.array([[0, 0, 0], [10, 0, 0], [0, 5, -10],
                          [20, 0, 0], [30, 0, 0], [20, 8, -10]], np.float32)
BATCH = {"name": ["教学楼", "Library"], "height": [12.5, 20.0]}
RTC = [100.0, 50.0, 3.0]


def _pad(data: bytes, to: int = 8, fill: bytes = b" ") -> bytes:
    return data + fill * (-len(data) % to)


def _payload_glb() -> bytes:
    """Two triangles, one per batch id, as a 3D Tiles 1.0 exporter writes them."""
    b = GlbBuilder()
    pos = b.add_accessor(b.add_view(TRIANGLES_YUP.tobytes(), ARRAY_BUFFER), FLOAT, 6, "VEC3",
                         minmax=(TRIANGLES_YUP.min(0), TRIANGLES_YUP.max(0)))
    ids = np.array([0, 0, 0, 1, 1, 1], np.uint16)
    bid = b.add_accessor(b.add_view(ids.tobytes(), ARRAY_BUFFER), USHORT, 6, "SCALAR")
    mesh = b.add_list("meshes", {"primitives": [{"attributes": {"POSITION": pos,
                                                                "_BATCHID": bid}}]})
    b.gltf["nodes"], b.gltf["scenes"], b.gltf["scene"] = [{"mesh": mesh}], [{"nodes": [0]}], 0
    return b.finish()


def _b3dm(feature: dict, batch: dict, glb: bytes) -> bytes:
    ft = _pad(json.dumps(feature).encode())
    bt = _pad(json.dumps(batch, ensure_ascii=False).encode())
    return struct.pack("<4s6I", b"b3dm", 1, 28 + len(ft) + len(bt) + len(glb), len(ft), 0,
                       len(bt), 0) + ft + bt + glb


def _pnts() -> tuple[bytes, np.ndarray, np.ndarray]:
    """A quantized, coloured point cloud with RTC; returns (pnts, z-up world rel. to the
    tile frame, rgb)."""
    rng = np.random.default_rng(7)
    quantized = rng.integers(0, 65535, size=(50, 3)).astype(np.uint16)
    rgb = rng.integers(0, 255, size=(50, 3)).astype(np.uint8)
    offset, scale = [-40.0, -30.0, 1.0], [80.0, 60.0, 20.0]
    body = _pad(quantized.tobytes()) + rgb.tobytes()
    body = _pad(body, fill=b"\0")
    feature = {"POINTS_LENGTH": 50, "POSITION_QUANTIZED": {"byteOffset": 0},
               "RGB": {"byteOffset": len(_pad(quantized.tobytes()))},
               "QUANTIZED_VOLUME_OFFSET": offset, "QUANTIZED_VOLUME_SCALE": scale,
               "RTC_CENTER": RTC}
    ft = _pad(json.dumps(feature).encode())
    data = struct.pack("<4s6I", b"pnts", 1, 28 + len(ft) + len(body), len(ft), len(body),
                       0, 0) + ft + body
    world = np.asarray(offset) + quantized / 65535.0 * np.asarray(scale) + np.asarray(RTC)
    return data, world, rgb


def _cmpt(*tiles: bytes) -> bytes:
    return struct.pack("<4sIII", b"cmpt", 1, 16 + sum(map(len, tiles)), len(tiles)) \
        + b"".join(tiles)


def _tile(uri: str) -> dict:
    return {"boundingVolume": {"box": [0, 0, 0, 500, 0, 0, 0, 500, 0, 0, 0, 200]},
            "geometricError": 0, "content": {"uri": uri}}


@pytest.fixture
def delivery(tmp_path):
    folder = tmp_path / "delivery"
    (folder / "tiles").mkdir(parents=True)
    glb = _payload_glb()
    (folder / "tiles" / "building.b3dm").write_bytes(
        _b3dm({"BATCH_LENGTH": 2, "RTC_CENTER": RTC}, BATCH, glb))
    pnts, world, rgb = _pnts()
    (folder / "tiles" / "cloud.pnts").write_bytes(pnts)
    (folder / "tiles" / "both.cmpt").write_bytes(
        _cmpt(_b3dm({"BATCH_LENGTH": 2}, BATCH, glb), pnts))
    origin = georef.lonlatheight_to_ecef(np.array([LON]), np.array([LAT]),
                                         np.array([HEIGHT])).reshape(3)
    root = _tile("tiles/building.b3dm") | {
        "geometricError": 50, "refine": "ADD",
        "transform": georef.column_major(georef.enu_to_ecef_matrix(origin)),
        "children": [_tile("tiles/cloud.pnts"), _tile("tiles/both.cmpt")]}
    (folder / "tileset.json").write_text(json.dumps(
        {"asset": {"version": "1.0"}, "geometricError": 100, "root": root}))
    return folder, world, rgb


def _world_of(glb: bytes) -> np.ndarray:
    """z-up tile-frame positions of a glb's first primitive (root translation applied)."""
    gltf, binary = read_glb(glb)
    accessor = gltf["accessors"][gltf["meshes"][0]["primitives"][0]["attributes"]["POSITION"]]
    view = gltf["bufferViews"][accessor["bufferView"]]
    yup = np.frombuffer(binary, np.float32, accessor["count"] * 3,
                        view.get("byteOffset", 0)).reshape(-1, 3).astype(np.float64)
    for node in gltf["nodes"]:
        yup = yup + np.asarray(node.get("translation", [0, 0, 0]))
    return np.stack([yup[:, 0], -yup[:, 2], yup[:, 1]], axis=1)  # y-up -> z-up


def test_b3dm_pnts_and_cmpt_become_valid_glb_at_the_same_place(tmp_path, delivery):
    folder, cloud_world, rgb = delivery
    store = FileTileStore(tmp_path / "store")
    # validate=True: every published glb went through gltf-validator with zero errors
    summary = import_delivered(folder, store, "t", upgrade=True)
    files = sorted(store.list("t"))
    assert files == ["tiles/both_0.glb", "tiles/both_1.glb", "tiles/building.glb",
                     "tiles/cloud.glb", "tileset.json"]
    assert summary.frame["legacy"] == 0 and summary.frame["glb"] == 4
    doc = json.loads(store.get("t", "tileset.json"))
    assert doc["asset"]["version"] == "1.1"
    assert doc["root"]["content"]["uri"] == "tiles/building.glb"
    assert [c["uri"] for c in doc["root"]["children"][1]["contents"]] == \
        ["tiles/both_0.glb", "tiles/both_1.glb"]
    # the b3dm's RTC_CENTER is kept: same tile-frame positions as before
    zup = np.stack([TRIANGLES_YUP[:, 0], -TRIANGLES_YUP[:, 2], TRIANGLES_YUP[:, 1]], axis=1)
    assert np.allclose(_world_of(store.get("t", "tiles/building.glb")), zup + RTC, atol=1e-4)
    # the cmpt's b3dm had no RTC: its positions stay where they were
    assert np.allclose(_world_of(store.get("t", "tiles/both_0.glb")), zup, atol=1e-4)
    cloud = store.get("t", "tiles/cloud.glb")
    assert np.allclose(_world_of(cloud), cloud_world, atol=1e-3)
    gltf, binary = read_glb(cloud)
    primitive = gltf["meshes"][0]["primitives"][0]
    assert primitive["mode"] == 0
    color = gltf["accessors"][primitive["attributes"]["COLOR_0"]]
    view = gltf["bufferViews"][color["bufferView"]]
    rgba = np.frombuffer(binary, np.uint8, 200, view.get("byteOffset", 0)).reshape(-1, 4)
    assert (rgba[:, :3] == rgb).all()


def test_batch_table_properties_are_picked_from_the_upgraded_glb(tmp_path, delivery):
    folder, _, _ = delivery
    store = FileTileStore(tmp_path / "store")
    import_delivered(folder, store, "t", upgrade=True)
    gltf, binary = read_glb(store.get("t", "tiles/building.glb"))
    primitive = gltf["meshes"][0]["primitives"][0]
    assert "_BATCHID" not in primitive["attributes"]
    ids = primitive["extensions"]["EXT_mesh_features"]["featureIds"][0]
    assert ids == {"featureCount": 2, "attribute": 0, "propertyTable": 0}
    assert "_FEATURE_ID_0" in primitive["attributes"]
    rows = decode_property_table(gltf, binary)
    assert [r["name"] for r in rows] == BATCH["name"]
    assert [r["height"] for r in rows] == BATCH["height"]


def test_without_upgrade_the_legacy_contents_are_kept(tmp_path, delivery):
    folder, _, _ = delivery
    store = FileTileStore(tmp_path / "store")
    summary = import_delivered(folder, store, "t")
    assert "tiles/building.b3dm" in store.list("t")
    assert summary.frame["legacy"] == 3


def test_an_i3dm_is_kept_as_delivered_and_named(tmp_path, delivery):
    folder, _, _ = delivery
    (folder / "tiles" / "trees.i3dm").write_bytes(
        struct.pack("<4s7I", b"i3dm", 1, 32, 0, 0, 0, 0, 1))
    doc = json.loads((folder / "tileset.json").read_text())
    doc["root"]["children"].append(_tile("tiles/trees.i3dm"))
    (folder / "tileset.json").write_text(json.dumps(doc))
    store = FileTileStore(tmp_path / "store")
    summary = import_delivered(folder, store, "t", upgrade=True)
    assert "tiles/trees.i3dm" in store.list("t") and "tiles/building.glb" in store.list("t")
    assert any("trees.i3dm" in w and "kept as delivered" in w for w in summary.warnings)


def test_a_truncated_b3dm_is_named_and_nothing_is_published(tmp_path, delivery):
    folder, _, _ = delivery
    path = folder / "tiles" / "building.b3dm"
    path.write_bytes(path.read_bytes()[:60])
    store = FileTileStore(tmp_path / "store")
    with pytest.raises(InputError, match="building.b3dm"):
        import_delivered(folder, store, "t", upgrade=True)
    assert not store.exists("t", "tileset.json")
