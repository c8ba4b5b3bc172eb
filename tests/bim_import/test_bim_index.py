"""The element index answers the viewer's questions and is written atomically."""
from __future__ import annotations

import pytest

from bim_import import ElementIndex, write_element_index
from bim_import.errors import ElementIndexError

FEATURES = {
    0: {"GlobalId": "A", "IfcClass": "IfcWallStandardCase", "Storey": "1F", "Name": "W1",
        "Pset_WallCommon.IsExternal": True, "Qto.Width": 0.2},
    1: {"GlobalId": "B", "IfcClass": "IfcWall", "Storey": "2F", "Name": "W2",
        "Pset_WallCommon.IsExternal": False, "Qto.Width": 0.3},
    2: {"GlobalId": "C", "IfcClass": "IfcDoor", "Storey": "1F", "Name": "门 D1",
        "Pset_DoorCommon.FireRating": "EI 30", "Pset_DoorCommon.Count": 3},
}
STOREYS = [{"name": "1F", "global_id": "S1", "elevation": 0.0},
           {"name": "2F", "global_id": "S2", "elevation": 3.0}]


@pytest.fixture
def index(tmp_path):
    path = write_element_index(tmp_path / "bim" / "m.sqlite", FEATURES, STOREYS, {"schema": "IFC4"})
    assert [p.name for p in path.parent.iterdir()] == ["m.sqlite"]  # no temp file left
    return ElementIndex(path)


def test_get_by_global_id_returns_every_property(index):
    assert index.get("C") == {"fid": 2, **FEATURES[2]}
    assert index.get("nope") is None


def test_class_filter_includes_standard_case(index):
    assert [e["GlobalId"] for e in index.query(ifc_class="IfcWall")["elements"]] == ["A", "B"]
    assert [e["GlobalId"] for e in index.query(ifc_class="ifcdoor")["elements"]] == ["C"]


def test_property_filters_are_typed(index):
    ext = index.query(properties=[("Pset_WallCommon.IsExternal", "true")])
    assert [e["GlobalId"] for e in ext["elements"]] == ["A"]
    assert index.query(properties=[("Pset_WallCommon.IsExternal", "False")])["total"] == 1
    assert index.query(properties=[("Qto.Width", "0.30")])["elements"][0]["GlobalId"] == "B"
    assert index.query(properties=[("Pset_DoorCommon.Count", "3.0")])["total"] == 1
    assert index.query(properties=[("Pset_DoorCommon.FireRating", "EI 30")])["total"] == 1


def test_filters_combine_and_page(index):
    result = index.query(storey="1F", ifc_class="IfcWall")
    assert result["total"] == 1 and result["elements"][0]["GlobalId"] == "A"
    page = index.query(limit=1, offset=1)
    assert page["total"] == 3 and [e["GlobalId"] for e in page["elements"]] == ["B"]
    with pytest.raises(ElementIndexError):
        index.query(limit=0)


def test_storeys_in_elevation_order_with_counts_and_classes(index):
    assert index.storeys() == [
        {"name": "1F", "global_id": "S1", "elevation": 0.0, "elements": 2},
        {"name": "2F", "global_id": "S2", "elevation": 3.0, "elements": 1}]
    assert {c["class"]: c["elements"] for c in index.classes()} == {
        "IfcWallStandardCase": 1, "IfcWall": 1, "IfcDoor": 1}
    assert index.meta() == {"schema": "IFC4"}


def test_rewrite_replaces_atomically(tmp_path):
    path = tmp_path / "m.sqlite"
    write_element_index(path, FEATURES, STOREYS, {})
    write_element_index(path, {0: FEATURES[0]}, STOREYS, {})
    assert ElementIndex(path).query()["total"] == 1


def test_missing_index_is_an_error(tmp_path):
    with pytest.raises(ElementIndexError, match="import the model again"):
        ElementIndex(tmp_path / "absent.sqlite")


def test_tree_groups_classes_under_storeys_with_counts(index):
    assert index.tree() == [
        {"name": "1F", "elements": 2, "classes": [
            {"class": "IfcDoor", "elements": 1}, {"class": "IfcWallStandardCase", "elements": 1}]},
        {"name": "2F", "elements": 1, "classes": [{"class": "IfcWall", "elements": 1}]}]
