"""glb content: what CesiumJS reads back must be what was imported, and valid glTF."""
from __future__ import annotations

import io

import DracoPy
import meshoptimizer
import numpy as np
import pytest
from PIL import Image
from scipy.spatial import cKDTree

from tiles.glb.compression import decode_exp_filter
from tiles.errors import TilesError
from tiles.glb.builder import read_glb
from tiles.glb.encode import Primitive, to_glb
from tiles.glb.metadata import PropertyTable, decode_property_table, infer_schema
from tiles.model import Material
from tiles.validate import validate_glb

ROWS = [
    {"GlobalId": "2O2Fr$t4X7Zf8NOew3FLOH", "Pset_WallCommon.IsExternal": True,
     "Qto.Height": 2.7, "storeys": 3, "ifc_class": "IfcWall", "名称": "外墙"},
    {"GlobalId": "1hOSvn6df7F8_7GcBWlRGQ", "Pset_WallCommon.IsExternal": False,
     "Qto.Height": None, "storeys": 12, "ifc_class": "IfcSlab", "名称": "楼板"},
    {"GlobalId": "3cUkl32yn9qRSPvBJVyWw5", "ifc_class": "IfcWall", "storeys": 7,
     "Pset_WallCommon.IsExternal": True},
]


def box(size=(4.0, 6.0, 3.0), offset=(0.0, 0.0, 0.0)):
    """An axis-aligned box as (positions (8,3), indices (12,3)), z-up, outward winding."""
    sx, sy, sz = size
    corners = np.array([[x, y, z] for z in (0, sz) for y in (0, sy) for x in (0, sx)],
                       dtype=np.float32) + np.asarray(offset, dtype=np.float32)
    faces = np.array([[0, 2, 1], [1, 2, 3], [4, 5, 6], [5, 7, 6], [0, 1, 4], [1, 5, 4],
                      [2, 6, 3], [3, 6, 7], [0, 4, 2], [2, 4, 6], [1, 3, 5], [3, 7, 5]],
                     dtype=np.uint32)
    return corners, faces


def three_features():
    """Three boxes, one per feature of ROWS, in one primitive."""
    parts = [box(offset=(10.0 * i, 0, 0)) for i in range(3)]
    pos = np.concatenate([p for p, _ in parts])
    idx = np.concatenate([f + 8 * i for i, (_, f) in enumerate(parts)]).astype(np.uint32)
    fid = np.repeat(np.arange(3, dtype=np.uint32), 8)
    return pos, idx, fid


def png(color=(200, 30, 30), size=(16, 16)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def assert_valid(*glbs: bytes) -> None:
    reports = validate_glb(list(glbs))
    bad = [r.summary() for r in reports if r.errors]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("compression", ["none", "draco", "meshopt"])
def test_metadata_round_trip_and_valid(compression):
    pos, idx, fid = three_features()
    schema = infer_schema(ROWS, enums=["ifc_class"])
    glb = to_glb([Primitive(pos, idx, Material(), feature_ids=fid)],
                 translation=(100.0, 200.0, 30.0),
                 properties=PropertyTable(schema, ROWS), compression=compression)
    assert_valid(glb)
    gltf, bin_chunk = read_glb(glb)
    rows = decode_property_table(gltf, bin_chunk)
    names = schema.names
    for original, decoded in zip(ROWS, rows):
        back = {names[pid]: v for pid, v in decoded.items() if v is not None}
        assert back == {k: v for k, v in original.items() if v is not None}
    prim = gltf["meshes"][0]["primitives"][0]
    fids = prim["extensions"]["EXT_mesh_features"]["featureIds"][0]
    assert fids["propertyTable"] == 0 and fids["attribute"] == 0
    assert "_FEATURE_ID_0" in prim["attributes"]


def test_schema_types_ids_and_names():
    schema = infer_schema(ROWS, enums=["ifc_class"])
    extra = infer_schema([{"mixed": 1}, {"mixed": "a"}, {"num": 1}, {"num": 2.5},
                          {"big": 2**40}, {"partial_flag": True}])
    props = schema.properties
    by_name = {p.name: p for p in list(props.values()) + list(extra.properties.values())}
    assert by_name["Pset_WallCommon.IsExternal"].type == "BOOLEAN"
    assert by_name["Qto.Height"].type == "FLOAT64"
    assert by_name["storeys"].type == "INT32"
    assert by_name["ifc_class"].type == "ENUM"
    assert by_name["ifc_class"].enum_values == ("IfcSlab", "IfcWall")
    assert by_name["mixed"].type == "STRING"
    assert by_name["num"].type == "FLOAT64"
    assert by_name["big"].type == "FLOAT64"
    # a boolean some features lack must not read back as false
    assert by_name["partial_flag"].type == "STRING"
    for pid in props:
        assert pid.replace("_", "a").isalnum() and not pid[0].isdigit()
    assert schema.key_to_id["Pset_WallCommon.IsExternal"] == "Pset_WallCommon_IsExternal"
    assert schema.names["Pset_WallCommon_IsExternal"] == "Pset_WallCommon.IsExternal"


def test_positions_are_y_up_and_translation_converted():
    pos, idx = box(size=(1.0, 2.0, 3.0))
    glb = to_glb([Primitive(pos, idx, Material())], translation=(5.0, 6.0, 7.0))
    assert_valid(glb)
    gltf, _ = read_glb(glb)
    acc = gltf["accessors"][gltf["meshes"][0]["primitives"][0]["attributes"]["POSITION"]]
    # z-up (x, y, z) -> y-up (x, z, -y): the 2 m north extent becomes -z
    assert acc["min"] == [0.0, 0.0, -2.0] and acc["max"] == [1.0, 3.0, 0.0]
    assert gltf["nodes"][0]["translation"] == [5.0, 7.0, -6.0]


def test_material_texture_transparency_and_normals():
    pos, idx = box()
    uvs = np.tile([[0, 0], [1, 0], [0, 1], [1, 1]], (2, 1)).astype(np.float32)
    texture = png()
    textured = Primitive(pos, idx, Material(name="facade", texture=texture), uvs=uvs)
    glass = Primitive(pos + 10, idx, Material(name="glass", base_color=(0.2, 0.4, 0.9, 0.35),
                                              double_sided=False))
    glb = to_glb([textured, glass])
    assert_valid(glb)
    gltf, bin_chunk = read_glb(glb)
    mats = {m["name"]: m for m in gltf["materials"]}
    assert mats["glass"]["alphaMode"] == "BLEND" and mats["glass"]["doubleSided"] is False
    assert "alphaMode" not in mats["facade"]
    view = gltf["bufferViews"][gltf["images"][0]["bufferView"]]
    embedded = bin_chunk[view["byteOffset"]:view["byteOffset"] + view["byteLength"]]
    assert embedded == texture and gltf["images"][0]["mimeType"] == "image/png"
    for prim in gltf["meshes"][0]["primitives"]:
        assert "NORMAL" in prim["attributes"]  # computed: boxes stay lit in CesiumJS


def _view_bytes(gltf, bin_chunk, index):
    view = gltf["bufferViews"][index]
    ext = view["extensions"]["EXT_meshopt_compression"]
    return ext, bin_chunk[ext["byteOffset"]:ext["byteOffset"] + ext["byteLength"]]


def test_meshopt_decodes_within_one_millimetre():
    rng = np.random.default_rng(7)
    pos = rng.uniform(-400, 400, (3000, 3)).astype(np.float32)
    idx = np.stack([rng.permutation(3000) for _ in range(3)], 1)[:2500].astype(np.uint32)
    glb = to_glb([Primitive(pos, idx, Material(unlit=True))], compression="meshopt")
    assert_valid(glb)
    gltf, bin_chunk = read_glb(glb)
    prim = gltf["meshes"][0]["primitives"][0]
    ext, raw = _view_bytes(gltf, bin_chunk,
                           gltf["accessors"][prim["attributes"]["POSITION"]]["bufferView"])
    assert ext["filter"] == "EXPONENTIAL"
    words = meshoptimizer.decode_vertex_buffer(ext["count"], ext["byteStride"], raw)
    decoded = decode_exp_filter(np.frombuffer(words, np.uint32).reshape(-1, 3))
    ext, raw = _view_bytes(gltf, bin_chunk, gltf["accessors"][prim["indices"]]["bufferView"])
    out = meshoptimizer.decode_index_buffer(ext["count"], ext["byteStride"], raw)
    # the wrapper returns the decoded bytes in a uint32 array; the stride here is 2
    tris = np.frombuffer(np.asarray(out).tobytes(), np.uint16)[:ext["count"]].reshape(-1, 3)
    # vertices and triangles are reordered for the codec: match triangles by their
    # corners (y-up source), in any order, each corner within 1 mm
    source = np.stack([pos[:, 0], pos[:, 2], -pos[:, 1]], axis=1)[idx]
    got = decoded[tris]
    assert len(got) == len(source)
    dist, match = cKDTree(source.mean(axis=1)).query(got.mean(axis=1))
    assert len(set(match)) == len(source)
    corner_err = np.linalg.norm(np.sort(got, axis=1) - np.sort(source[match], axis=1), axis=2)
    assert corner_err.max() <= 0.001


def test_draco_decodes_within_one_millimetre_and_keeps_feature_ids():
    pos, idx, fid = three_features()
    glb = to_glb([Primitive(pos * 30, idx, Material(), feature_ids=fid)], compression="draco")
    assert_valid(glb)
    gltf, bin_chunk = read_glb(glb)
    ext = gltf["meshes"][0]["primitives"][0]["extensions"]["KHR_draco_mesh_compression"]
    view = gltf["bufferViews"][ext["bufferView"]]
    mesh = DracoPy.decode(bin_chunk[view["byteOffset"]:view["byteOffset"] + view["byteLength"]])
    expected = np.stack([pos[:, 0], pos[:, 2], -pos[:, 1]], axis=1) * 30
    dist, nearest = cKDTree(expected).query(np.asarray(mesh.points))
    assert dist.max() <= 0.001
    ids = mesh.get_attribute_by_unique_id(ext["attributes"]["_FEATURE_ID_0"])["data"]
    assert np.array_equal(ids.reshape(-1).astype(int), fid[nearest])


def test_instances_and_many_feature_ids_are_valid():
    pos, idx = box()
    mats = np.tile(np.eye(4), (3, 1, 1))
    mats[:, 0, 3] = [0.0, 20.0, 40.0]
    mats[2, :3, :3] = [[0, -1, 0], [1, 0, 0], [0, 0, 1]]  # 90 degrees about up
    many = np.arange(70000, 70008, dtype=np.uint32)  # beyond uint16: float ids
    glb = to_glb([Primitive(pos, idx, Material()), Primitive(pos, idx, Material(),
                                                            feature_ids=many)],
                 instances=[mats, None])
    assert_valid(glb)
    gltf, _ = read_glb(glb)
    node = gltf["nodes"][gltf["nodes"][0]["children"][0]]
    assert gltf["accessors"][node["extensions"]["EXT_mesh_gpu_instancing"]["attributes"][
        "TRANSLATION"]]["count"] == 3
    assert "EXT_mesh_gpu_instancing" in gltf["extensionsRequired"]


@pytest.mark.parametrize("bad", ["nan", "index", "empty"])
def test_bad_primitives_are_refused(bad):
    pos, idx = box()
    if bad == "nan":
        pos = pos.copy()
        pos[3, 1] = np.nan
    elif bad == "index":
        idx = idx.copy()
        idx[0, 0] = 99
    else:
        idx = np.zeros((0, 3), np.uint32)
    with pytest.raises(TilesError):
        to_glb([Primitive(pos, idx, Material())])


def test_feature_without_row_is_refused():
    pos, idx, fid = three_features()
    schema = infer_schema(ROWS)
    with pytest.raises(TilesError, match="no row"):
        to_glb([Primitive(pos, idx, Material(), feature_ids=fid)],
               properties=PropertyTable(schema, ROWS[:2]))


def test_a_column_with_only_empty_strings_in_this_tile_is_valid_and_reads_as_missing():
    # another tile of the same import has a value; in this one every row is noData ("")
    schema = infer_schema([{"name": "a", "note": "x"}, {"name": "b", "note": ""}])
    pos, idx, fid = three_features()
    rows = [{"name": "b", "note": ""}, {"name": "c", "note": ""}, {"name": "d"}]
    glb = to_glb([Primitive(positions=pos, indices=idx, material=Material(), feature_ids=fid)],
                 properties=PropertyTable(schema=schema, rows=rows))
    assert_valid(glb)
    gltf, binary = read_glb(glb)
    decoded = decode_property_table(gltf, binary)
    assert [r["name"] for r in decoded] == ["b", "c", "d"]
    assert all(r.get("note") in (None, "") for r in decoded)
