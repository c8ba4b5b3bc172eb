"""import_layer: formats, CRS handling, kind validation with real and hand-made sheets."""
from __future__ import annotations

import zipfile

import geopandas as gpd
import pytest
from shapely.geometry import Point

from layers import LayerError, open_layer_store
from layers.importer import import_layer

# Jinan, Quancheng Square: about 117.0205E 36.6615N; in EPSG:4548 (GK CM 117E, no zone
# prefix) that is easting ~501,830 m, northing ~4,058,000 m (computed with pyproj below).


@pytest.fixture
def store(tmp_path):
    s = open_layer_store("gpkg://layers.gpkg", tmp_path / "data")
    yield s
    s.close()


def _gk(lon: float, lat: float, epsg: int = 4548) -> tuple[float, float]:
    from pyproj import Transformer
    return Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True).transform(lon, lat)


def test_helsinki_facilities_categories_get_chinese_labels(store, shared_data):
    path = shared_data("gis", "helsinki_facilities.geojson")
    info = import_layer(store, path, kind="facilities", classification="public")
    assert info.id == "helsinki-facilities" and info.count == 82
    banks = store.query(info.id, filters={"category": "bank"}, limit=100)
    assert banks.number_matched == 17
    assert {f["properties"]["category_zh"] for f in banks.features} == {"银行"}
    west, south, east, north = info.bbox
    assert 24.93 < west < east < 24.96 and 60.16 < south < north < 60.18


def test_kofu_projects_with_default_stage(store, shared_data):
    path = shared_data("gis", "kofu_urban_development_projects.geojson")
    info = import_layer(store, path, layer_id="kofu", kind="projects",
                        defaults={"stage": "竣工"}, classification="internal")
    assert info.count == 27
    feature = store.query("kofu", limit=1).features[0]
    assert feature["properties"]["stage"] == "completed"
    assert feature["properties"]["stage_zh"] == "竣工"
    assert feature["geometry"]["type"] == "MultiPolygon"


def test_kofu_placeholder_date_is_refused_with_row_and_field(store, shared_data):
    # PLATEAU writes validFrom 0001-01-01 when the date is unknown: not a start date.
    path = shared_data("gis", "kofu_urban_development_projects.geojson")
    with pytest.raises(LayerError, match=r"row 1 \(南西団地（市営団地）\), field 'start_date'.*placeholder"):
        import_layer(store, path, layer_id="kofu", kind="projects",
                     field_map={"start_date": "validFrom"}, defaults={"stage": "completed"})
    assert store.list_layers() == []


def test_project_sheet_chinese_stages_and_datetime_query(store, tmp_path):
    sheet = tmp_path / "项目.csv"
    e1, n1 = _gk(117.02, 36.66)
    e2, n2 = _gk(117.03, 36.67)
    sheet.write_text(
        "名称,x,y,状态,start_date,completion_date\n"
        f"CBD 一期,{e1:.2f},{n1:.2f},在建,2023-03-01,\n"
        f"CBD 二期,{e2:.2f},{n2:.2f},竣工,2019-05-01,2021-10-31\n", encoding="utf-8")
    info = import_layer(store, sheet, layer_id="cbd", kind="projects", crs="EPSG:4548",
                        field_map={"name": "名称", "stage": "状态"})
    assert info.source_crs == "EPSG:4548"
    stages = [f["properties"]["stage"] for f in store.query("cbd").features]
    assert stages == ["under_construction", "completed"]
    lon, lat = store.query("cbd").features[0]["geometry"]["coordinates"]
    assert lon == pytest.approx(117.02, abs=1e-7) and lat == pytest.approx(36.66, abs=1e-7)
    at_2020 = store.query("cbd", datetime=("2020-06-01", "2020-06-01"))
    assert [f["properties"]["name"] for f in at_2020.features] == ["CBD 二期"]
    at_2024 = store.query("cbd", datetime=("2024-01-01", "2024-01-01"))
    assert [f["properties"]["name"] for f in at_2024.features] == ["CBD 一期"]
    assert store.query("cbd", datetime=("2018-01-01", None)).number_matched == 2


@pytest.mark.parametrize("row, message", [
    ("A,117.0,36.6,demolished,,", r"row 1 \(A\), field 'stage': 'demolished'"),
    ("A,117.0,36.6,planned,2023/05/01,", r"row 1 \(A\), field 'start_date'.*YYYY-MM-DD"),
    ("A,117.0,36.6,completed,2023-05-01,2022-01-01", r"field 'completion_date'.*before start_date"),
])
def test_bad_project_rows_name_row_and_field(store, tmp_path, row, message):
    sheet = tmp_path / "p.csv"
    sheet.write_text(f"name,lon,lat,stage,start_date,completion_date\n{row}\n")
    with pytest.raises(LayerError, match=message):
        import_layer(store, sheet, kind="projects")


def test_gb18030_sheet_with_swapped_surveyor_columns(store, tmp_path):
    # Chinese survey sheets often put the northing in X and the easting in Y.
    easting, northing = _gk(117.05, 36.65)
    sheet = tmp_path / "设施.csv"
    sheet.write_bytes(f"名称,类别,X,Y\n泉城派出所,派出所,{northing:.2f},{easting:.2f}\n"
                      .encode("gb18030"))
    info = import_layer(store, sheet, layer_id="police", kind="facilities", crs="EPSG:4548",
                        field_map={"name": "名称", "category": "类别"})
    feature = store.query("police").features[0]
    assert feature["properties"]["name"] == "泉城派出所"
    assert feature["properties"]["category"] == "police"
    assert feature["geometry"]["coordinates"] == pytest.approx((117.05, 36.65), abs=1e-7)
    assert any("swapped" in w for w in info.warnings)
    assert any("gb18030" in w for w in info.warnings)


def test_zone_prefixed_eastings_name_the_right_crs(store, tmp_path):
    easting, northing = _gk(117.05, 36.65, epsg=4527)  # zone 39, eastings 39xxxxxx
    sheet = tmp_path / "s.csv"
    sheet.write_text(f"name,x,y\na,{easting:.2f},{northing:.2f}\n")
    with pytest.raises(LayerError, match="EPSG:4527"):
        import_layer(store, sheet, crs="EPSG:4548")
    info = import_layer(store, sheet, crs="EPSG:4527")
    assert store.query(info.id).features[0]["geometry"]["coordinates"] == pytest.approx((117.05, 36.65), abs=1e-7)


def test_xy_sheet_without_crs_names_the_option(store, tmp_path):
    sheet = tmp_path / "s.csv"
    sheet.write_text("name,x,y\na,501000,4057000\n")
    with pytest.raises(LayerError, match="--crs"):
        import_layer(store, sheet)


def _gk_frame() -> gpd.GeoDataFrame:
    easting, northing = _gk(117.0, 36.65)
    return gpd.GeoDataFrame({"name": ["a"], "category": ["公园"]},
                            geometry=[Point(easting, northing)], crs="EPSG:4548")


def test_shapefile_without_prj_needs_crs_then_imports_from_zip(store, tmp_path):
    folder = tmp_path / "shp"
    folder.mkdir()
    _gk_frame().to_file(folder / "parks.shp")
    (folder / "parks.prj").unlink()
    with pytest.raises(LayerError, match="--crs EPSG:4548"):
        import_layer(store, folder / "parks.shp", kind="facilities")
    archive = tmp_path / "parks.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in folder.iterdir():
            zf.write(part, part.name)
    info = import_layer(store, archive, kind="facilities", crs="EPSG:4548")
    assert info.id == "parks" and info.source_crs == "EPSG:4548"
    feature = store.query("parks").features[0]
    assert feature["properties"]["category"] == "park"
    assert feature["geometry"]["coordinates"] == pytest.approx((117.0, 36.65), abs=1e-7)


def test_geopackage_source_keeps_its_crs(store, tmp_path):
    path = tmp_path / "src.gpkg"
    _gk_frame().to_file(path, layer="parks", driver="GPKG")
    info = import_layer(store, path, layer_id="gp", kind="facilities")
    assert info.source_crs == "EPSG:4548"
    assert info.bbox[0] == pytest.approx(117.0, abs=1e-7)


def test_projected_geojson_without_crs_member_is_refused(store, tmp_path):
    path = tmp_path / "bad.geojson"
    path.write_text('{"type":"FeatureCollection","features":[{"type":"Feature","properties":'
                    '{"name":"a"},"geometry":{"type":"Point","coordinates":[501000,4057000]}}]}')
    with pytest.raises(LayerError, match="look projected"):
        import_layer(store, path)


def test_facility_without_known_category_and_sensor_duplicates(store, tmp_path):
    sheet = tmp_path / "f.csv"
    sheet.write_text("name,lon,lat,category\na,117,36.6,spaceport\n")
    with pytest.raises(LayerError, match=r"row 1 \(a\), field 'category': 'spaceport'"):
        import_layer(store, sheet, kind="facilities")
    sensors = tmp_path / "sensors.csv"
    sensors.write_text("sensor_id,lon,lat\ns1,117,36.6\ns1,117.1,36.6\n")
    with pytest.raises(LayerError, match="row 2.*'s1' repeats row 1"):
        import_layer(store, sensors, kind="sensors")


def test_field_map_naming_missing_column(store, tmp_path):
    sheet = tmp_path / "f.csv"
    sheet.write_text("name,lon,lat\na,117,36.6\n")
    with pytest.raises(LayerError, match="not in the file: 类别"):
        import_layer(store, sheet, kind="facilities", field_map={"category": "类别"})
    with pytest.raises(LayerError, match="needs a 'category' column"):
        import_layer(store, sheet, kind="facilities")


def test_null_project_dates_are_blank_not_placeholders(tmp_path):
    """GDAL reads a null date as NaT: a project not yet started has no start date."""
    import json as _json
    from layers import open_layer_store
    from layers.importer import import_layer
    path = tmp_path / "projects.geojson"
    path.write_text(_json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[
            [117.12, 36.66], [117.121, 36.66], [117.121, 36.661], [117.12, 36.66]]]},
        "properties": {"name": "拟建项目", "stage": "planned", "planned_date": "2025-01-02",
                       "start_date": None, "completion_date": None}}]}))
    store = open_layer_store("gpkg://layers.gpkg", tmp_path)
    info = import_layer(store, path, kind="projects", crs="EPSG:4326")
    assert info.count == 1
    feature = store.query(info.id, limit=10).features[0]
    assert feature["properties"]["stage"] == "planned"
    assert not feature["properties"].get("start_date")


def test_zip_member_leaving_the_archive_is_refused(store, tmp_path):
    import zipfile
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("../../outside.shp", b"x")
        archive.writestr("ok.txt", b"x")
    with pytest.raises(LayerError, match="points outside the archive"):
        import_layer(store, path)
    assert store.list_layers() == []


def test_lat_lon_swapped_names_the_swap(store, tmp_path):
    path = tmp_path / "swapped.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", '
                    '"properties": {"name": "a"}, "geometry": {"type": "Point", '
                    '"coordinates": [36.66, 117.02]}}]}')
    with pytest.raises(LayerError, match="latitude, longitude.*swap"):
        import_layer(store, path)
