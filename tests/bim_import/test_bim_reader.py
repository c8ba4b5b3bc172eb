"""Elements become features: counts, identity, typed properties, materials, placement."""
from __future__ import annotations

import functools

import ifcopenshell
import ifcopenshell.util.element
import numpy as np
import pytest

from bim_import import read_ifc
from bim_import.sample import write_sample_ifc


@functools.lru_cache(maxsize=None)
def _read(path: str, **options):
    """Read once per file (meshing is the slow part); batches materialised."""
    reader = read_ifc(path, **options)
    return reader, list(reader.batches())


def _features_in_batches(batches):
    ids = set()
    for b in batches:
        ids.update(int(i) for i in np.unique(b.feature_ids))
    return ids


def test_sample_features_match_products_less_skipped(tmp_path):
    path = write_sample_ifc(tmp_path / "s.ifc", storeys=2, columns_per_storey=3,
                            broken_element=True)
    reader = read_ifc(path)
    batches = list(reader.batches())
    model = ifcopenshell.open(str(path))
    broken = model.by_type("IfcBuildingElementProxy")[0].GlobalId
    # 2 storeys x (4 walls + 1 window + 1 slab + 3 columns) + the broken proxy
    assert len(reader.products) == 19
    assert reader.skipped == [broken]
    assert len(reader.features) == 18
    assert _features_in_batches(batches) == set(reader.features)
    gids = [f["GlobalId"] for f in reader.features.values()]
    assert len(set(gids)) == len(gids) and broken not in gids
    assert any(broken in w or "skipped" in w for w in reader.warnings)


def test_sample_identity_and_typed_property_sets(tmp_path):
    reader, _ = _read(str(write_sample_ifc(tmp_path / "s.ifc")))
    walls = [f for f in reader.features.values() if f["IfcClass"] == "IfcWall"]
    wall = next(f for f in walls if f["Name"] == "Wall 1" and f["Storey"] == "2F")
    assert wall["PredefinedType"] == "SOLIDWALL"
    assert wall["Building"] == "示例楼 Sample building"
    assert wall["Pset_WallCommon.IsExternal"] is True
    assert wall["Pset_WallCommon.FireRating"] == "REI 90"
    assert wall["Qto_WallBaseQuantities.Length"] == pytest.approx(12.0)
    column = next(f for f in reader.features.values() if f["IfcClass"] == "IfcColumn")
    assert column["Pset_ColumnCommon.LoadBearing"] is True  # inherited from its type


def test_glass_is_transparent_and_walls_are_opaque(tmp_path):
    reader, batches = _read(str(write_sample_ifc(tmp_path / "s.ifc")))
    for batch in batches:
        classes = {reader.features[int(i)]["IfcClass"] for i in np.unique(batch.feature_ids)}
        if classes == {"IfcWindow"}:
            assert batch.material.base_color[3] < 0.9
        if "IfcWall" in classes:
            assert batch.material.base_color[3] == 1.0


def test_world_positions_are_in_metres_in_the_model_frame(tmp_path):
    reader, batches = _read(str(write_sample_ifc(tmp_path / "s.ifc", storeys=2)))
    points = np.concatenate([b.positions for b in batches])
    assert points.min(axis=0) == pytest.approx([0.0, -0.1, -0.25], abs=1e-6)
    assert points.max(axis=0) == pytest.approx([12.0, 8.0, 6.0], abs=1e-6)
    assert all(b.frame == reader.georef.frame for b in batches)


def test_fzk_haus_imports_despite_2d_annotations(shared_data):
    path = shared_data("ifc", "AC20-FZK-Haus.ifc")
    reader, batches = _read(str(path))
    model = ifcopenshell.open(str(path))
    assert len(model.by_type("IfcAnnotation")) > 0
    product_ids = {p.GlobalId for p in reader.products}
    assert not product_ids & {a.GlobalId for a in model.by_type("IfcAnnotation")}
    assert not product_ids & {s.GlobalId for s in model.by_type("IfcSpace")}
    assert len(reader.features) == len(reader.products) - len(reader.skipped)
    assert len(reader.features) >= 80
    windows = [f for f in reader.features.values() if f["IfcClass"] == "IfcWindow"]
    assert len(windows) == len(model.by_type("IfcWindow"))
    assert {w["Storey"] for w in windows} <= {"Erdgeschoss", "Dachgeschoss"}
    by_gid = {f["GlobalId"]: f for f in reader.features.values()}
    for wall in model.by_type("IfcWall"):
        names = [m.Name for m in ifcopenshell.util.element.get_materials(wall)]
        assert by_gid[wall.GlobalId]["Materials"].split("; ") == names


def test_duplex_properties_match_the_file(shared_data):
    path = shared_data("ifc", "Duplex_A_20110907_georeferenced.ifc")
    reader, batches = _read(str(path))
    model = ifcopenshell.open(str(path))
    assert len(reader.features) == len(reader.products) - len(reader.skipped)
    by_gid = {f["GlobalId"]: f for f in reader.features.values()}
    checked = 0
    for wall in model.by_type("IfcWall"):
        pset = ifcopenshell.util.element.get_pset(wall, "Pset_WallCommon") or {}
        if wall.GlobalId in by_gid and "IsExternal" in pset:
            assert by_gid[wall.GlobalId]["Pset_WallCommon.IsExternal"] is pset["IsExternal"]
            checked += 1
    assert checked > 10


def test_spaces_are_off_by_default_and_a_flag_includes_them(shared_data):
    path = shared_data("ifc", "AC20-FZK-Haus.ifc")
    spaces = len(ifcopenshell.open(str(path)).by_type("IfcSpace"))
    without = read_ifc(path)
    with_spaces = read_ifc(path, include_spaces=True)
    assert spaces > 0
    assert len(with_spaces.products) == len(without.products) + spaces


def test_millimetre_model_comes_out_in_metres(shared_data):
    reader, batches = _read(str(shared_data("ifc", "Revit_example_IFC2X3.ifc")))
    points = np.concatenate([b.positions for b in batches])
    extent = points.max(axis=0) - points.min(axis=0)
    assert 5.0 < extent.max() < 100.0  # a building, not 1000x it
