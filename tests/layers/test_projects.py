"""Project lifecycle details: planned/actual milestones, permit, developer, planning limits,
BIM link; Chinese column names; bad values named by row; filled in later by an edit."""
from __future__ import annotations

import json

import pytest

from layers import LayerError, open_layer_store
from layers.importer import import_layer


def _write(tmp_path, rows):
    features = [{"type": "Feature", "properties": props,
                 "geometry": {"type": "Point", "coordinates": [117.02 + i * 0.01, 36.66]}}
                for i, props in enumerate(rows)]
    path = tmp_path / "projects.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features},
                               ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture
def store(tmp_path):
    s = open_layer_store("gpkg://layers.gpkg", tmp_path)
    yield s
    s.close()


def test_details_from_chinese_columns_are_typed_and_kept(store, tmp_path):
    path = _write(tmp_path, [
        {"name": "CBD 一号地块", "stage": "在建", "建设单位": "济南城投",
         "许可证号": "370102-2024-017",
         "限高": "100", "容积率": 3.5, "建筑密度": 35, "start_date": "2024-03-01",
         "completion_date_planned": "2026-12-31"},
        {"name": "二号地块", "stage": "planned"}])
    info = import_layer(store, path, layer_id="cbd", kind="projects")
    assert info.schema["max_height_m"] == "number" and info.schema["far"] == "number"
    assert info.schema["completion_date_planned"] == "date"
    assert any("percent" in w for w in info.warnings)
    first, second = store.query("cbd", sortby=[("name", True)]).features
    props = first["properties"]
    assert props["developer"] == "济南城投" and props["permit_number"] == "370102-2024-017"
    assert props["max_height_m"] == 100 and props["far"] == 3.5 and props["coverage"] == 0.35
    assert props["completion_date_planned"] == "2026-12-31" and props["start_date"] == "2024-03-01"
    assert second["properties"]["bim_tileset"] is None and second["properties"]["far"] is None


@pytest.mark.parametrize("field, value, text", [
    ("max_height_m", "tall", "is not a number"), ("far", -1, "out of range"),
    ("coverage", 250, "out of range"), ("start_date_planned", "next spring", "ISO 8601"),
])
def test_bad_details_name_row_and_field(store, tmp_path, field, value, text):
    path = _write(tmp_path, [{"name": "ok", "stage": "approved"},
                             {"name": "bad", "stage": "approved", field: value}])
    with pytest.raises(LayerError, match=rf"row 2 \(bad\), field '{field}'.*{text}"):
        import_layer(store, path, layer_id="bad", kind="projects")


def test_an_official_fills_in_limits_and_the_bim_link_later(store, tmp_path):
    import_layer(store, _write(tmp_path, [{"name": "p", "stage": "approved"}]),
                 layer_id="p", kind="projects")
    store.update_feature("p", 1, {"properties": {"bim_tileset": "duplex", "max_height_m": 54.0,
                                                "stage": "under_construction"}}, "official")
    props = store.get_feature("p", 1)["properties"]
    assert (props["bim_tileset"], props["max_height_m"], props["stage_zh"]) == ("duplex", 54.0,
                                                                                "在建")
    with pytest.raises(LayerError, match="max_height_m"):
        store.update_feature("p", 1, {"properties": {"max_height_m": "high"}}, "official")
