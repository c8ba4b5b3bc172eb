"""IFC mapped items / type instances are stored once in the glb and stay pickable."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from scipy.spatial import cKDTree

import tiles.glb.instancing as instancing
from bim_import import read_ifc
from bim_import.sample import write_sample_ifc
from tiles.validate import validate_glb

_SPEC = importlib.util.spec_from_file_location(
    "instancing_decode", Path(__file__).resolve().parents[1] / "tiles" / "test_instancing.py")
decode = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(decode)


def _both_builds(path: Path, tmp_path: Path, monkeypatch):
    """(reader, baked features, instanced features, instanced nodes, glbs, sizes)."""
    out = []
    for instanced in (False, True):
        reader = read_ifc(path)
        folder = decode.build(reader.batches(), tmp_path / str(instanced), "m",
                              monkeypatch, instanced)
        feats, nodes, glbs = decode.decode_tileset(folder)
        out.append((reader, feats, nodes, glbs, sum(p.stat().st_size for p in glbs)))
    return out


def _assert_same_geometry(baked: dict, inst: dict) -> None:
    assert set(baked) == set(inst)
    for gid, pts in baked.items():
        d1, _ = cKDTree(inst[gid]).query(pts)
        d2, _ = cKDTree(pts).query(inst[gid])
        assert max(d1.max(), d2.max()) < 1e-3, gid


def test_sample_columns_are_instanced_and_every_product_is_a_feature(tmp_path, monkeypatch):
    """The sample's columns share one representation: stored once, one feature each."""
    ifc = tmp_path / "sample.ifc"
    write_sample_ifc(ifc, storeys=2, columns_per_storey=4)
    monkeypatch.setattr(instancing, "MIN_TRIANGLES", 1)  # the sample column is a box
    (reader, baked, n0, _, _), (_, inst, n1, glbs, _) = _both_builds(ifc, tmp_path, monkeypatch)
    gids = {props["GlobalId"] for props in reader.features.values()}
    assert n0 == 0 and n1 >= 1
    assert set(inst) == gids and len(gids) == len(reader.features)
    _assert_same_geometry(baked, inst)
    assert all(r.errors == 0 for r in validate_glb(glbs))


def test_duplex_stores_repeated_windows_once(shared_data, tmp_path, monkeypatch):
    """The Duplex's repeated doors/windows: fewer bytes, same geometry, same features."""
    path = shared_data("ifc", "Duplex_A_20110907_georeferenced.ifc")
    (reader, baked, _, _, size0), (_, inst, nodes, glbs, size1) = \
        _both_builds(path, tmp_path, monkeypatch)
    assert nodes >= 3
    assert len(inst) == len(reader.features)  # products - skipped, each pickable once
    _assert_same_geometry(baked, inst)
    assert size1 < 0.95 * size0
    assert all(r.errors == 0 for r in validate_glb(glbs))
