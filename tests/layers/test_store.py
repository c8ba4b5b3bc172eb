"""GeoPackage LayerStore: atomic replace, queries, classification, deletion."""
from __future__ import annotations

import geopandas as gpd
import pyogrio
import pytest
from shapely.geometry import Point, box

from layers import LayerError, LayerInfo, LayerNotFound, open_layer_store


def _points(n: int, crs: str = "OGC:CRS84", **columns) -> gpd.GeoDataFrame:
    data = {"name": [f"p{i}" for i in range(n)], "rank": list(range(n)), **columns}
    return gpd.GeoDataFrame(data, geometry=[Point(117.0 + i * 0.01, 36.6) for i in range(n)], crs=crs)


@pytest.fixture
def store(tmp_path):
    s = open_layer_store("gpkg://layers.gpkg", tmp_path)
    yield s
    s.close()


def test_put_and_query_pages_in_lonlat(store):
    info = store.put_layer(_points(5), LayerInfo(id="pts", title="Points", classification="public"))
    assert info.count == 5
    assert info.bbox == pytest.approx([117.0, 36.6, 117.04, 36.6])
    assert info.schema == {"name": "string", "rank": "integer"}
    page = store.query("pts", limit=2, offset=2)
    assert page.number_matched == 5
    assert [f["properties"]["name"] for f in page.features] == ["p2", "p3"]
    assert page.features[0]["geometry"]["coordinates"] == pytest.approx((117.02, 36.6))


def test_projected_input_is_stored_in_crs84_and_source_crs_recorded(store):
    # 500000 E is the central meridian (117E) of EPSG:4548; 4057000 N is about 36.65N.
    frame = gpd.GeoDataFrame({"name": ["cm"]}, geometry=[Point(500000, 4057000)], crs="EPSG:4548")
    info = store.put_layer(frame, LayerInfo(id="gk", title="GK"))
    assert info.source_crs == "EPSG:4548"
    lon, lat = store.query("gk").features[0]["geometry"]["coordinates"]
    assert lon == pytest.approx(117.0, abs=1e-9)
    assert 36.6 < lat < 36.7


def test_failed_replace_keeps_old_layer(store, monkeypatch):
    store.put_layer(_points(3), LayerInfo(id="keep", title="v1"))

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")
    monkeypatch.setattr(pyogrio, "write_dataframe", broken)
    with pytest.raises(LayerError, match="could not write"):
        store.put_layer(_points(7), LayerInfo(id="keep", title="v2"))
    monkeypatch.undo()
    assert store.get_layer("keep").title == "v1"
    assert store.query("keep").number_matched == 3


def test_replace_swaps_content_and_drops_old_table(store, tmp_path):
    store.put_layer(_points(3), LayerInfo(id="swap", title="v1"))
    store.put_layer(_points(4), LayerInfo(id="swap", title="v2"))
    assert store.get_layer("swap").title == "v2"
    assert store.query("swap").number_matched == 4
    store.close()
    tables = [str(name) for name, _ in pyogrio.list_layers(tmp_path / "layers.gpkg")]
    assert len([t for t in tables if t.startswith("layer_swap_")]) == 1
    # the file stays a GeoPackage GDAL reads, with the current version's rows
    table = next(t for t in tables if t.startswith("layer_swap_"))
    assert len(pyogrio.read_dataframe(tmp_path / "layers.gpkg", layer=table)) == 4


def test_bbox_filter_is_exact_for_polygons(store):
    # The L-shaped polygon's envelope overlaps the query box; the polygon itself does not.
    l_shape = box(0, 0, 10, 1).union(box(0, 0, 1, 10))
    frame = gpd.GeoDataFrame({"name": ["L", "square"]},
                             geometry=[l_shape, box(5, 5, 6, 6)], crs="OGC:CRS84")
    store.put_layer(frame, LayerInfo(id="poly", title="poly"))
    hit = store.query("poly", bbox=[4, 4, 8, 8])
    assert [f["properties"]["name"] for f in hit.features] == ["square"]
    assert hit.number_matched == 1
    assert store.query("poly", bbox=[0.2, 0.2, 0.4, 0.4]).number_matched == 1


def test_property_filter_uses_column_type_and_rejects_unknown(store):
    store.put_layer(_points(4), LayerInfo(id="f", title="f"))
    assert [f["properties"]["name"] for f in store.query("f", filters={"rank": "2"}).features] == ["p2"]
    with pytest.raises(LayerError, match="unknown property 'nope'"):
        store.query("f", filters={"nope": "1"})
    with pytest.raises(LayerError, match="integer"):
        store.query("f", filters={"rank": "two"})


def test_classification_hides_layers(store):
    store.put_layer(_points(1), LayerInfo(id="pub", title="p", classification="public"))
    store.put_layer(_points(1), LayerInfo(id="sec", title="s", classification="restricted"))
    assert [i.id for i in store.list_layers({"public"})] == ["pub"]
    with pytest.raises(LayerNotFound):
        store.get_layer("sec", {"public"})
    with pytest.raises(LayerNotFound):
        store.query("sec", levels={"public", "internal"})
    assert store.get_layer("sec", {"restricted"}).id == "sec"


def test_delete_and_missing(store):
    store.put_layer(_points(1), LayerInfo(id="gone", title="g"))
    store.delete_layer("gone")
    assert store.list_layers() == []
    with pytest.raises(LayerNotFound):
        store.delete_layer("gone")
    with pytest.raises(LayerNotFound):
        store.get_feature("gone", 1)


def test_reopen_sees_layers(tmp_path):
    first = open_layer_store("gpkg://layers.gpkg", tmp_path)
    first.put_layer(_points(2), LayerInfo(id="persist", title="p"))
    first.close()
    second = open_layer_store("gpkg://layers.gpkg", tmp_path)
    assert second.get_feature("persist", 2)["properties"]["name"] == "p1"


def test_bad_inputs(store, tmp_path):
    with pytest.raises(LayerError, match="not supported"):
        open_layer_store("mysql://x", tmp_path)
    with pytest.raises(LayerError, match="layer id"):
        LayerInfo(id="Bad Id", title="x")
    with pytest.raises(LayerError, match="no CRS"):
        store.put_layer(gpd.GeoDataFrame({"a": [1]}, geometry=[Point(1, 2)]), LayerInfo(id="x", title="x"))
    with pytest.raises(LayerError, match="differ only in case"):
        store.put_layer(_points(1, Name=["a"]), LayerInfo(id="x", title="x"))
    assert store.list_layers() == []
