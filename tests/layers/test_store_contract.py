"""One contract for every LayerStore backend: GeoPackage (embedded) and PostGIS (real
PostgreSQL on loopback). Import, queries, CQL2, CRS, transactions, history, classification."""
from __future__ import annotations

import geopandas as gpd
import pytest
from shapely.geometry import Point, box

from layers import LayerError, LayerInfo, LayerNotFound, open_layer_store
from layers.cql2 import parse
from layers.importer import import_layer


@pytest.fixture(params=["gpkg", "postgis"])
def backend(request, tmp_path):
    if request.param == "gpkg":
        url = "gpkg://layers.gpkg"
    else:
        url = request.getfixturevalue("postgres_url")
    store = open_layer_store(url, tmp_path)
    store.kind = request.param
    yield store
    store.close()


def _grid(n: int = 10) -> gpd.GeoDataFrame:
    """n x n points 0.01 degrees apart near Jinan, with typed properties."""
    rows = [(i, j) for i in range(n) for j in range(n)]
    return gpd.GeoDataFrame(
        {"name": [f"p{i}-{j}" for i, j in rows], "rank": [i * n + j for i, j in rows],
         "score": [float(j) / 2 for _, j in rows], "open": [bool(j % 2) for _, j in rows],
         "opened": [f"20{10 + i:02d}-0{1 + j % 9}-15" for i, j in rows]},
        geometry=[Point(117.0 + i * 0.01, 36.6 + j * 0.01) for i, j in rows], crs="OGC:CRS84")


@pytest.fixture
def grid(backend):
    backend.put_layer(_grid(), LayerInfo(id="grid", title="Grid", classification="public"))
    return backend


def _cql(store, text: str, **kwargs) -> list[int]:
    result = store.query("grid", cql=parse(text), limit=1000, **kwargs)
    return sorted(f["properties"]["rank"] for f in result.features)


def test_import_shared_layers_counts_schema_and_bbox(backend, shared_data):
    info = import_layer(backend, shared_data("gis", "helsinki_facilities.geojson"),
                        layer_id="facilities", kind="facilities", classification="public")
    assert info.count == 82 and info.schema["category"] == "string"
    assert backend.query("facilities", filters={"category": "bank"}).number_matched == 17
    projects = import_layer(backend, shared_data("gis", "kofu_urban_development_projects.geojson"),
                            layer_id="projects", kind="projects", defaults={"stage": "approved"})
    assert projects.count == 27
    assert backend.get_layer("projects").bbox == pytest.approx([138.5312, 35.5982, 138.6127,
                                                                 35.6679], abs=1e-3)


def test_paging_sorting_and_property_selection(grid):
    page = grid.query("grid", limit=5, offset=10, sortby=[("rank", False)],
                      properties=["name"])
    assert page.number_matched == 100
    assert [f["id"] for f in page.features] == [90, 89, 88, 87, 86]
    assert set(page.features[0]["properties"]) == {"name"}
    by_score = grid.query("grid", limit=3, sortby=[("score", True), ("rank", False)])
    assert [f["properties"]["rank"] for f in by_score.features] == [90, 80, 70]
    with pytest.raises(LayerError, match="sortby"):
        grid.query("grid", sortby=[("colour", True)])


def test_bbox_is_exact_and_empty_page_still_counts(grid):
    hit = grid.query("grid", bbox=[117.005, 36.605, 117.025, 36.615], limit=100)
    assert sorted(f["properties"]["rank"] for f in hit.features) == [11, 21]
    beyond = grid.query("grid", bbox=[117.0, 36.6, 117.1, 36.7], offset=500)
    assert beyond.features == [] and beyond.number_matched == 100


def test_polygon_bbox_uses_geometry_not_envelope(backend):
    l_shape = box(0, 0, 10, 1).union(box(0, 0, 1, 10))
    frame = gpd.GeoDataFrame({"name": ["L", "square"]}, geometry=[l_shape, box(5, 5, 6, 6)],
                             crs="OGC:CRS84")
    backend.put_layer(frame, LayerInfo(id="poly", title="poly"))
    assert [f["properties"]["name"] for f in backend.query("poly", bbox=[4, 4, 8, 8]).features] \
        == ["square"]
    within = backend.query("poly", cql=parse("S_WITHIN(geometry, BBOX(4,4,8,8))"))
    assert [f["properties"]["name"] for f in within.features] == ["square"]


@pytest.mark.parametrize("text, expected", [
    ("rank = 5", [5]),
    ("rank <> 5 AND rank < 3", [0, 1, 2]),
    ("rank >= 97 OR rank <= 0", [0, 97, 98, 99]),
    ("NOT (rank > 1)", [0, 1]),
    ("name LIKE 'p9-_'", list(range(90, 100))),
    ("name NOT LIKE 'p%' ", []),
    ("name LIKE 'P9-%'", []),
    ("rank IN (3, 7, 300)", [3, 7]),
    ("rank NOT IN (3) AND rank < 5", [0, 1, 2, 4]),
    ("rank BETWEEN 10 AND 12", [10, 11, 12]),
    ("score > 4 AND open = TRUE", [9, 19, 29, 39, 49, 59, 69, 79, 89, 99]),
    ("S_INTERSECTS(geometry, BBOX(116.999, 36.599, 117.001, 36.611))", [0, 1]),
    ("S_INTERSECTS(geometry, POLYGON((116.99 36.59, 117.025 36.59, 116.99 36.625, "
     "116.99 36.59)))", [0, 1, 10]),
    ("S_DISJOINT(geometry, BBOX(117.005, 36.5, 118, 37)) AND rank < 3", [0, 1, 2]),
    ("opened = DATE('2010-01-15')", [0, 9]),
    ("T_INTERSECTS(opened, INTERVAL('2019-01-01', '..')) AND rank < 95", [90, 91, 92, 93, 94]),
    ("T_DURING(opened, INTERVAL('2010-01-01', '2010-03-01'))", [0, 1, 9]),
    ("T_BEFORE(opened, DATE('2010-02-01'))", [0, 9]),
    ("T_AFTER(opened, TIMESTAMP('2019-09-15T00:00:00Z'))", []),
])
def test_cql2_operators(grid, text, expected):
    assert _cql(grid, text) == expected


def test_cql2_combines_with_bbox_and_property_filters(grid):
    ranks = _cql(grid, "rank < 30", bbox=[117.0, 36.6, 117.015, 36.605], filters={"open": "false"})
    assert ranks == [0, 10]


def test_cql2_unknown_property_names_the_queryables(grid):
    with pytest.raises(LayerError, match="queryables: name, rank"):
        grid.query("grid", cql=parse("colour = 'red'"))


def test_temporal_query_on_project_lifecycles(backend):
    frame = gpd.GeoDataFrame(
        {"name": ["old", "running", "future"], "stage": ["completed", "在建", "planned"],
         "start_date": ["2015-01-01", "2023-05-01", None],
         "completion_date": ["2016-06-30", None, None],
         "planned_date": ["2014-01-01", "2022-01-01", "2026-01-01"]},
        geometry=[Point(117, 36.6), Point(117.01, 36.6), Point(117.02, 36.6)], crs="OGC:CRS84")
    from layers.schema import validate_kind
    result = validate_kind(frame, "projects")
    backend.put_layer(result.frame, LayerInfo(id="proj", title="p", kind="projects",
                                              schema=result.schema, temporal=result.temporal))
    names = lambda r: sorted(f["properties"]["name"] for f in r.features)  # noqa: E731
    assert names(backend.query("proj", datetime=("2024-01-01", "2024-01-01"))) == ["running"]
    assert names(backend.query("proj", datetime=("2016-01-01", None))) == \
        ["future", "old", "running"]
    during = backend.query("proj", cql=parse(
        "T_INTERSECTS(INTERVAL(lifecycle_start, lifecycle_end), INTERVAL('2015-06-01', "
        "'2015-07-01'))"))
    assert names(during) == ["old"]


def test_projected_input_is_stored_in_crs84(backend):
    frame = gpd.GeoDataFrame({"name": ["cm"]}, geometry=[Point(500000, 4057000)], crs="EPSG:4548")
    info = backend.put_layer(frame, LayerInfo(id="gk", title="GK"))
    assert info.source_crs == "EPSG:4548"
    lon, lat = backend.query("gk").features[0]["geometry"]["coordinates"]
    assert lon == pytest.approx(117.0, abs=1e-9) and 36.6 < lat < 36.7


def test_classification_hides_layers(backend):
    backend.put_layer(_grid(2), LayerInfo(id="secret", title="s", classification="restricted"))
    backend.put_layer(_grid(2), LayerInfo(id="open", title="o", classification="public"))
    assert [i.id for i in backend.list_layers(["public"])] == ["open"]
    with pytest.raises(LayerNotFound):
        backend.query("secret", levels=["public"])
    with pytest.raises(LayerNotFound):
        backend.get_feature("secret", 1, levels=["public", "internal"])
    assert backend.get_feature("secret", 1, levels=["restricted"])["id"] == 1


def test_replace_is_atomic_and_delete_removes(backend, monkeypatch):
    backend.put_layer(_grid(2), LayerInfo(id="keep", title="v1"))
    if backend.kind == "gpkg":
        import pyogrio
        target, name = pyogrio, "write_dataframe"
    else:
        from layers import postgis_tables
        target, name = postgis_tables, "index_feature_table"

    def broken(*args, **kwargs):
        raise LayerError("could not write: disk full")
    monkeypatch.setattr(target, name, broken)
    with pytest.raises(LayerError, match="could not"):
        backend.put_layer(_grid(3), LayerInfo(id="keep", title="v2"))
    monkeypatch.undo()
    assert backend.get_layer("keep").title == "v1"
    assert backend.query("keep").number_matched == 4
    backend.put_layer(_grid(3), LayerInfo(id="keep", title="v2"))
    assert backend.query("keep").number_matched == 9
    backend.delete_layer("keep")
    with pytest.raises(LayerNotFound):
        backend.get_layer("keep")


def _facilities(store) -> None:
    frame = gpd.GeoDataFrame({"name": ["library", "bank"], "category": ["library", "bank"]},
                             geometry=[Point(117, 36.6), Point(117.01, 36.61)], crs="OGC:CRS84")
    from layers.schema import validate_kind
    result = validate_kind(frame, "facilities")
    store.put_layer(result.frame, LayerInfo(id="fac", title="f", kind="facilities"))


def test_item_create_patch_replace_delete_with_history(backend):
    _facilities(backend)
    fid = backend.create_feature("fac", {"type": "Feature", "geometry": {
        "type": "Point", "coordinates": [117.02, 36.62]}, "properties": {
        "name": "clinic", "category": "诊所"}}, "alice")
    created = backend.get_feature("fac", fid)
    assert created["properties"]["category"] == "clinic"  # normalised like an import
    assert created["properties"]["category_zh"] == "诊所"
    assert backend.query("fac", bbox=[117.015, 36.615, 117.025, 36.625]).number_matched == 1
    assert backend.get_layer("fac").count == 3
    first_update = created["properties"]["updated_at"]
    backend.update_feature("fac", fid, {"properties": {"name": "health centre"}}, "bob")
    patched = backend.get_feature("fac", fid)
    assert patched["properties"]["name"] == "health centre"
    assert patched["properties"]["category"] == "clinic"
    assert patched["properties"]["updated_at"] >= first_update
    backend.replace_feature("fac", fid, {"type": "Feature", "geometry": {
        "type": "Point", "coordinates": [117.5, 36.9]}, "properties": {"category": "bank"}},
        "carol")
    replaced = backend.get_feature("fac", fid)
    assert replaced["properties"]["name"] is None and replaced["geometry"]["coordinates"] == \
        pytest.approx((117.5, 36.9))
    assert backend.query("fac", bbox=[117.015, 36.615, 117.025, 36.625]).number_matched == 0
    backend.delete_feature("fac", fid, "dave")
    with pytest.raises(LayerNotFound):
        backend.get_feature("fac", fid)
    rows = backend.history("fac", fid)
    assert [(r["action"], r["actor"]) for r in rows] == [
        ("create", "alice"), ("update", "bob"), ("replace", "carol"), ("delete", "dave")]
    assert rows[1]["old"] == {"name": "clinic"} and rows[1]["new"] == {"name": "health centre"}
    assert rows[3]["new"] is None and rows[3]["old"]["category"] == "bank"


def test_invalid_edit_changes_nothing(backend):
    _facilities(backend)
    before = backend.get_feature("fac", 1)
    for body in ({"properties": {"category": "spaceport"}},
                 {"properties": {"colour": "red"}},
                 {"properties": {"name": 5}},
                 {"geometry": {"type": "Point", "coordinates": [500000, 4057000]}}):
        with pytest.raises(LayerError):
            backend.update_feature("fac", 1, body, "mallory")
    assert backend.get_feature("fac", 1) == before
    assert backend.history("fac") == []
    with pytest.raises(LayerNotFound):
        backend.update_feature("fac", 99, {"properties": {"name": "x"}}, "mallory")


def test_only_project_and_facility_items_are_editable(grid):
    with pytest.raises(LayerError, match="projects and facilities"):
        grid.update_feature("grid", 1, {"properties": {"name": "x"}}, "someone")


def test_bbox_queries_use_the_spatial_index(backend):
    backend.put_layer(_grid(60), LayerInfo(id="big", title="big"))
    plan = backend.explain("big", bbox=[117.1, 36.7, 117.12, 36.72], limit=100)
    print(plan)  # shown with -s: docs/layers.md quotes both plans
    if backend.kind == "gpkg":
        assert "VIRTUAL TABLE INDEX" in plan and "rtree_" in plan
        assert "USING INTEGER PRIMARY KEY" in plan
    else:
        assert "_geom_idx" in plan and "Seq Scan" not in plan
    hits = backend.query("big", bbox=[117.1, 36.7, 117.12, 36.72], limit=100)
    assert hits.number_matched == 9


def test_geometry_of_every_type_comes_back_as_stored(backend):
    from shapely.geometry import MultiPolygon, Polygon, shape
    holed = Polygon([(117, 36.6), (117.01, 36.6), (117.01, 36.61), (117, 36.61)],
                    [[(117.002, 36.602), (117.004, 36.602), (117.004, 36.604)]])
    shapes = [holed, MultiPolygon([holed, box(117.02, 36.6, 117.03, 36.61)]),
              Point(117.05, 36.65), Point(117.06, 36.66)]
    frame = gpd.GeoDataFrame({"n": [0, 1, 2, 3]}, geometry=shapes, crs="OGC:CRS84")
    backend.put_layer(frame, LayerInfo(id="mixed", title="m"))
    for page in (backend.query("mixed", sortby=[("n", True)]).features,
                 backend.query("mixed", filters={"n": "2"}).features):
        for feature in page:
            assert shape(feature["geometry"]).equals(shapes[feature["properties"]["n"]])
    polygons_only = backend.query("mixed", bbox=[116.99, 36.59, 117.035, 36.62])
    assert [shape(f["geometry"]).geom_type for f in polygons_only.features] == \
        ["Polygon", "MultiPolygon"]
