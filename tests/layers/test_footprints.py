"""Footprints for white models: heights from field, floors or default (counted), base from
Z or the given base height, polygons only, invalid ones repaired, a metric CRS chosen."""
from __future__ import annotations

import json

import geopandas as gpd
import pytest

from layers import LayerError
from layers.footprints import metric_crs, read_footprints


def _geojson(tmp_path, features, name="f.geojson"):
    path = tmp_path / name
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": p, "geometry": g} for p, g in features]}))
    return path


def _square(x, y, d=0.0005, z=None):
    ring = [[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]
    if z is not None:
        ring = [[a, b, z] for a, b in ring]
    return {"type": "Polygon", "coordinates": [ring]}


def test_helsinki_heights_come_from_field_then_floors_then_default(shared_data):
    path = shared_data("gis", "helsinki_buildings.geojson")
    raw = gpd.read_file(path)
    with_height = raw["height_m"].notna() & (raw["height_m"] > 0)
    with_floors = ~with_height & raw["levels"].notna() & (raw["levels"] > 0)
    with pytest.raises(LayerError, match="--default-height"):
        read_footprints(path)
    fs = read_footprints(path, default_height=9.0, storey_height=3.5)
    assert fs.sources == {"height_field": int(with_height.sum()),
                          "floors": int(with_floors.sum()),
                          "default": int((~with_height & ~with_floors).sum())}
    assert any("default 9.0 m" in w for w in fs.warnings)
    row = int(with_floors.to_numpy().nonzero()[0][0])
    assert fs.top[row] - fs.base[row] == pytest.approx(raw["levels"][row] * 3.5)
    assert fs.frame["height_source"][row] == "floors"
    assert fs.crs == "EPSG:32635"  # UTM zone of Helsinki (25E), metres
    assert set(fs.frame.columns) >= {"osm_id", "building", "name", "height_m", "base_m"}


def test_named_fields_base_from_z_and_base_height(tmp_path):
    path = _geojson(tmp_path, [({"h": "24 m", "n": 2}, _square(117.02, 36.66, z=31.5)),
                               ({"h": None, "n": 5}, _square(117.03, 36.66))])
    fs = read_footprints(path, height_field="h", floors_field="n", storey_height=3.0,
                         base_height=28.0)
    assert fs.base == [31.5, 28.0]
    assert fs.top == [pytest.approx(55.5), pytest.approx(43.0)]
    assert fs.sources == {"height_field": 1, "floors": 1, "default": 0}
    assert fs.crs == "EPSG:4548"  # CGCS2000 3-degree GK zone, CM 117E (Jinan)
    with pytest.raises(LayerError, match="no column 'height'"):
        read_footprints(path, height_field="height")


def test_points_and_mixed_geometry_are_refused_with_the_row(tmp_path):
    path = _geojson(tmp_path, [({"height": 10}, _square(117.02, 36.66)),
                               ({"height": 10}, {"type": "Point", "coordinates": [117.0, 36.6]})])
    with pytest.raises(LayerError, match="row 2 is a Point"):
        read_footprints(path)


def test_self_intersecting_footprint_is_repaired_and_reported(tmp_path):
    bow = {"type": "Polygon", "coordinates": [[[117.0, 36.6], [117.001, 36.601],
                                               [117.001, 36.6], [117.0, 36.601], [117.0, 36.6]]]}
    path = _geojson(tmp_path, [({"height": 12}, bow), ({"height": 9}, _square(117.01, 36.6))])
    fs = read_footprints(path)
    assert any("repaired" in w and "rows 1" in w for w in fs.warnings)
    assert fs.polygons[0].is_valid and fs.polygons[0].area > 1.0  # m^2, both triangles kept


def test_projected_input_keeps_its_own_crs(tmp_path):
    frame = gpd.GeoDataFrame({"height": [10]}, geometry=gpd.GeoSeries.from_wkt(
        ["POLYGON((500000 4057000, 500010 4057000, 500010 4057010, 500000 4057000))"]),
        crs="EPSG:4548")
    assert metric_crs(frame) == "EPSG:4548"
