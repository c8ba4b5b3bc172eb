"""Repeated geometry stored once (EXT_mesh_gpu_instancing), every instance pickable.

The decoder here follows the glTF rules itself (node translation, per-instance TRS,
y-up -> z-up), so a wrong transform or feature id in the writer shows as a mismatch
against the baked build of the same input.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import trimesh
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

import tiles.glb.instancing as instancing
from tiles.glb.builder import read_glb
from tiles.glb.metadata import decode_property_table
from tiles.model import GeoFrame, MeshBatch
from tiles.pipeline import BuildOptions, build_tileset
from tiles.store import FileTileStore
from tiles.validate import validate_glb

_COMP = {5121: np.uint8, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}
FRAME = GeoFrame(crs="EPSG:4548", origin=(500000.0, 4060000.0, 50.0))


def accessor(gltf: dict, bin_chunk: bytes, index: int) -> np.ndarray:
    """An uncompressed accessor as (count, width) float64 (honours byteStride)."""
    acc = gltf["accessors"][index]
    view = gltf["bufferViews"][acc["bufferView"]]
    dtype, width = np.dtype(_COMP[acc["componentType"]]), _WIDTH[acc["type"]]
    stride = view.get("byteStride", dtype.itemsize * width)
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    raw = np.frombuffer(bin_chunk, np.uint8, acc["count"] * stride, start)
    rows = raw.reshape(acc["count"], stride)[:, :dtype.itemsize * width]
    return np.ascontiguousarray(rows).view(dtype).reshape(acc["count"], width).astype(float)


def _y_to_z(v: np.ndarray) -> np.ndarray:
    return np.stack([v[:, 0], -v[:, 2], v[:, 1]], axis=1)


def decode_glb(data: bytes) -> tuple[dict[str, np.ndarray], int]:
    """{GlobalId: (n,3) z-up tile-frame positions} of every feature, and the count of
    instanced nodes. Instances are expanded with their own TRS and feature id."""
    gltf, bin_chunk = read_glb(data)
    rows = decode_property_table(gltf, bin_chunk)
    root = gltf["nodes"][0]
    base = np.asarray(root.get("translation", [0, 0, 0]), float)
    out: dict[str, list] = {}
    instanced = 0
    nodes = [root] + [gltf["nodes"][c] for c in root.get("children", [])]
    for node in nodes:
        if "mesh" not in node:
            continue
        ext = node.get("extensions", {})
        for prim in gltf["meshes"][node["mesh"]]["primitives"]:
            pos = accessor(gltf, bin_chunk, prim["attributes"]["POSITION"])
            if "EXT_mesh_gpu_instancing" not in ext:
                ids = accessor(gltf, bin_chunk, prim["attributes"]["_FEATURE_ID_0"])[:, 0]
                for row in np.unique(ids).astype(int):
                    out.setdefault(rows[row]["GlobalId"], []).append(pos[ids == row] + base)
                continue
            instanced += 1
            attrs = ext["EXT_mesh_gpu_instancing"]["attributes"]
            t, q, s = (accessor(gltf, bin_chunk, attrs[k])
                       for k in ("TRANSLATION", "ROTATION", "SCALE"))
            fid = ext["EXT_instance_features"]["featureIds"][0]
            assert fid["propertyTable"] == 0 and fid["attribute"] == 0
            ids = accessor(gltf, bin_chunk, attrs["_FEATURE_ID_0"])[:, 0].astype(int)
            for k, row in enumerate(ids):
                world = Rotation.from_quat(q[k]).apply(pos * s[k]) + t[k] + base
                out.setdefault(rows[row]["GlobalId"], []).append(world)
    return {g: _y_to_z(np.concatenate(p)) for g, p in out.items()}, instanced


def decode_tileset(folder: Path) -> tuple[dict[str, np.ndarray], int, list[Path]]:
    """Every feature's positions over all tiles (ENU metres), instanced nodes, glbs.
    Also asserts each tile's content lies inside its bounding box (1 mm)."""
    tileset = json.loads((folder / "tileset.json").read_text())
    features: dict[str, np.ndarray] = {}
    instanced, glbs = 0, []
    stack = [tileset["root"]]
    while stack:
        tile = stack.pop()
        stack.extend(tile.get("children", []))
        if "content" not in tile:
            continue
        path = folder / tile["content"]["uri"]
        glbs.append(path)
        decoded, count = decode_glb(path.read_bytes())
        instanced += count
        box = np.asarray(tile["boundingVolume"]["box"], float)
        centre, axes = box[:3], box[3:].reshape(3, 3)
        for gid, pts in decoded.items():
            assert gid not in features, f"{gid} drawn twice"
            features[gid] = pts
            local = np.linalg.solve(axes.T, (pts - centre).T).T
            slack = 1e-3 / np.linalg.norm(axes, axis=1)
            assert np.all(np.abs(local) <= 1 + slack), f"{gid} outside tile {path.name}"
    return features, instanced, glbs


def build(batches, folder: Path, tileset_id: str, monkeypatch, instanced: bool) -> Path:
    """Build inline (workers=1, so the threshold patch applies) and return the folder."""
    monkeypatch.setattr(instancing, "MIN_INSTANCES", 4 if instanced else 10**9)
    store = FileTileStore(folder)
    build_tileset(batches, store, tileset_id,
                  BuildOptions(kind="bim", workers=1, validate_glb=False))
    return store.tileset_dir(tileset_id)


def _column_batch(count: int = 6) -> MeshBatch:
    """A 256-triangle column drawn ``count`` times (turned and moved), one feature each."""
    mesh = trimesh.creation.cylinder(radius=0.3, height=3.0, sections=64)
    mats = []
    for k in range(count):
        m = np.eye(4)
        m[:3, :3] = Rotation.from_euler("z", 17.0 * k, degrees=True).as_matrix()
        m[:3, 3] = (4.0 * k, 2.0 * (k % 2), 1.5)
        mats.append(m)
    ids = np.arange(100, 100 + count, dtype=np.uint32)
    return MeshBatch(positions=np.asarray(mesh.vertices, float),
                     indices=np.asarray(mesh.faces, np.uint32), frame=FRAME,
                     instances=np.stack(mats), instance_feature_ids=ids,
                     features={int(i): {"GlobalId": f"col-{i}", "IfcClass": "IfcColumn"}
                               for i in ids})


def _wall_batch() -> MeshBatch:
    """One unique element next to the columns (stays baked)."""
    box = trimesh.creation.box(extents=(20.0, 0.2, 3.0))
    return MeshBatch(positions=np.asarray(box.vertices, float) + (10.0, -2.0, 1.5),
                     indices=np.asarray(box.faces, np.uint32), frame=FRAME,
                     feature_ids=np.full(len(box.vertices), 7, np.uint32),
                     features={7: {"GlobalId": "wall-7", "IfcClass": "IfcWall"}})


def test_instanced_build_matches_baked_build_and_keeps_one_feature_per_instance(
        tmp_path, monkeypatch):
    baked_dir = build([_column_batch(), _wall_batch()], tmp_path / "a", "baked",
                      monkeypatch, instanced=False)
    inst_dir = build([_column_batch(), _wall_batch()], tmp_path / "b", "inst",
                     monkeypatch, instanced=True)
    baked, baked_nodes, _ = decode_tileset(baked_dir)
    inst, inst_nodes, glbs = decode_tileset(inst_dir)
    assert baked_nodes == 0 and inst_nodes >= 1
    assert set(inst) == set(baked) == {f"col-{i}" for i in range(100, 106)} | {"wall-7"}
    for gid, pts in baked.items():
        d1, _ = cKDTree(inst[gid]).query(pts)
        d2, _ = cKDTree(pts).query(inst[gid])
        assert max(d1.max(), d2.max()) < 1e-3, gid
    sizes = [sum(p.stat().st_size for p in Path(d).rglob("*.glb")) for d in (baked_dir, inst_dir)]
    assert sizes[1] < sizes[0] * 0.5  # six columns -> one prototype
    reports = validate_glb(glbs)
    assert all(r.errors == 0 for r in reports), [r.messages for r in reports if r.errors]


def test_copies_that_do_not_match_stay_baked():
    """Same topology but stretched (not a rigid copy): nothing is instanced."""
    from tiles.glb.encode import Primitive
    from tiles.model import Material
    mesh = trimesh.creation.cylinder(radius=0.3, height=3.0, sections=64)
    parts, fids = [], []
    for k in range(5):
        parts.append(np.asarray(mesh.vertices) * (1.0, 1.0 + 0.1 * k, 1.0) + (3.0 * k, 0, 0))
        fids.append(np.full(len(mesh.vertices), k))
    n = len(mesh.vertices)
    prim = Primitive(positions=np.concatenate(parts).astype(np.float32),
                     indices=np.concatenate([mesh.faces + k * n
                                             for k in range(5)]).astype(np.uint32),
                     material=Material(), feature_ids=np.concatenate(fids).astype(np.uint32))
    rest, groups = instancing.split_instances(prim)
    assert groups == [] and rest is prim


def test_instance_feature_ids_must_match_the_instances():
    from tiles.errors import InputError
    from tiles.build.ingest import expand_instances
    batch = _column_batch(4)
    batch.instance_feature_ids = batch.instance_feature_ids[:3]
    with pytest.raises(InputError, match="one feature id per instance"):
        expand_instances(batch)


@pytest.mark.parametrize("compression", ["draco", "meshopt"])
def test_compressed_prototypes_are_valid_and_keep_instance_features(compression):
    """Compression applies to the prototype; instance ids and transforms stay readable."""
    from tiles.build.ingest import expand_instances
    from tiles.glb.encode import Primitive, to_glb
    from tiles.glb.metadata import PropertyTable, infer_schema
    from tiles.model import Material
    batch = _column_batch(5)
    pos, idx, extras = expand_instances(batch)
    rows = [batch.features[int(i)] for i in batch.instance_feature_ids]
    prim = Primitive(positions=pos.astype(np.float32), indices=idx.astype(np.uint32),
                     material=Material(), feature_ids=(extras["feature_ids"] - 100)
                     .astype(np.uint32))
    table = PropertyTable(schema=infer_schema(rows), rows=rows)
    glb = to_glb([prim], properties=table, compression=compression)
    gltf, bin_chunk = read_glb(glb)
    node = next(n for n in gltf["nodes"] if "EXT_instance_features" in n.get("extensions", {}))
    attrs = node["extensions"]["EXT_mesh_gpu_instancing"]["attributes"]
    assert sorted(accessor(gltf, bin_chunk, attrs["_FEATURE_ID_0"])[:, 0]) == [0, 1, 2, 3, 4]
    assert "mesh" not in gltf["nodes"][0]  # every column went into the instanced node
    report = validate_glb(glb)[0]
    assert report.errors == 0, report.messages
