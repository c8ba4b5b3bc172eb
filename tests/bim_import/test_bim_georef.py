"""Each georeferencing path on real files, the contradiction warning and the overrides."""
from __future__ import annotations

import math

import pyproj
import pytest

from bim_import import GeoreferenceMissingError, detect_georef
from bim_import.georef import (SOURCE_EPSET, SOURCE_MAP_CONVERSION, SOURCE_OVERRIDE,
                               SOURCE_SITE)
from bim_import.ifcfile import open_ifc
from bim_import.sample import write_sample_ifc


def _lonlat(frame, x=0.0, y=0.0):
    """Where local (x, y) lands, computed independently of the code under test."""
    a = math.radians(frame.rotation_deg)
    e = frame.origin[0] + frame.scale * (math.cos(a) * x - math.sin(a) * y)
    n = frame.origin[1] + frame.scale * (math.sin(a) * x + math.cos(a) * y)
    crs = pyproj.CRS.from_user_input(frame.crs)
    if crs.is_compound:
        crs = crs.sub_crs_list[0]
    return pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(e, n)


def test_ifc4_map_conversion_with_projected_crs(tmp_path):
    path = write_sample_ifc(tmp_path / "s.ifc", origin=(510800.0, 4057300.0, 45.0),
                            rotation_deg=30.0)
    georef = detect_georef(open_ifc(path), geoid_offset_m=-3.5)
    assert georef.source == SOURCE_MAP_CONVERSION
    assert georef.frame.crs == "EPSG:4548"
    assert georef.frame.origin == pytest.approx((510800.0, 4057300.0, 45.0))
    assert georef.frame.rotation_deg == pytest.approx(30.0)
    assert georef.frame.scale == pytest.approx(1.0)
    assert georef.frame.vertical == "orthometric" and georef.frame.geoid_offset_m == -3.5
    assert any("orthometric" in n for n in georef.notes)
    lon, lat = _lonlat(georef.frame)
    assert 117.0 < lon < 117.3 and 36.5 < lat < 36.8  # Jinan


def test_duplex_uses_epset_map_conversion_and_warns_about_its_site_latlon(shared_data):
    georef = detect_georef(open_ifc(shared_data("ifc", "Duplex_A_20110907_georeferenced.ifc")))
    assert georef.source == SOURCE_EPSET
    assert georef.frame.crs == "EPSG:9897"
    assert georef.frame.origin == pytest.approx((76670.0, 77179.0, 293.7), abs=1e-3)
    assert georef.frame.rotation_deg == pytest.approx(math.degrees(math.atan2(0.945518575599318,
                                                                              0.325568154457152)))
    lon, lat = _lonlat(georef.frame)
    assert 5.7 < lon < 6.6 and 49.4 < lat < 50.2  # Luxembourg, not Chicago
    contradiction = [w for w in georef.warnings if "RefLatitude" in w]
    assert contradiction and "km" in contradiction[0]
    # no geoid offset configured: the report says the heights are orthometric
    assert any("orthometric" in w and "geoid" in w for w in georef.warnings)


def test_fzk_haus_is_placed_by_site_latlon_with_true_north(shared_data):
    model = open_ifc(shared_data("ifc", "AC20-FZK-Haus.ifc"))
    georef = detect_georef(model)
    assert georef.source == SOURCE_SITE
    lon, lat = _lonlat(georef.frame)
    assert lat == pytest.approx(49 + 6 / 60 + 1.566 / 3600, abs=1e-6)
    assert lon == pytest.approx(8 + 26 / 60 + 11.5404 / 3600, abs=1e-6)
    assert georef.frame.origin[2] == pytest.approx(110.0)
    # TrueNorth (0.766, 0.643) lies 40 deg from +x: the model turns 50 deg so it points north
    tn_x, tn_y = 0.766044443119, 0.642787609687
    assert georef.frame.rotation_deg == pytest.approx(90 - math.degrees(math.atan2(tn_y, tn_x)))
    a = math.radians(georef.frame.rotation_deg)
    assert math.cos(a) * tn_x - math.sin(a) * tn_y == pytest.approx(0.0, abs=1e-9)


def test_ifc2x3_revit_export_with_site_latlon(shared_data):
    georef = detect_georef(open_ifc(shared_data("ifc", "Revit_example_IFC2X3.ifc")))
    assert georef.source == SOURCE_SITE
    lon, lat = _lonlat(georef.frame)
    assert lat == pytest.approx(42.213, abs=1e-3) and lon == pytest.approx(-71.033, abs=1e-3)


def test_no_georeference_names_the_flags(shared_data):
    model = open_ifc(shared_data("ifc", "IfcOpenHouse_IFC4.ifc"))
    with pytest.raises(GeoreferenceMissingError) as err:
        detect_georef(model)
    assert "--crs" in str(err.value) and "--origin" in str(err.value)


def test_override_places_a_model_without_georeference(shared_data):
    model = open_ifc(shared_data("ifc", "IfcOpenHouse_IFC4.ifc"))
    georef = detect_georef(model, crs="EPSG:4548", origin=(510800.0, 4057300.0, 40.0),
                           rotation=12.5)
    assert georef.source == SOURCE_OVERRIDE
    assert georef.frame.crs == "EPSG:4548" and georef.frame.rotation_deg == 12.5
    assert georef.frame.origin == (510800.0, 4057300.0, 40.0)


def test_override_replaces_a_files_conversion_and_says_so(tmp_path):
    path = write_sample_ifc(tmp_path / "s.ifc")
    georef = detect_georef(open_ifc(path), crs="EPSG:4547", origin=(400000.0, 4000000.0, 0.0))
    assert georef.source == SOURCE_OVERRIDE and georef.frame.crs == "EPSG:4547"
    assert any("replaced" in w for w in georef.warnings)


def test_crs_alone_without_conversion_asks_for_origin(tmp_path):
    path = write_sample_ifc(tmp_path / "s.ifc", crs=None)
    with pytest.raises(GeoreferenceMissingError, match="--origin"):
        detect_georef(open_ifc(path), crs="EPSG:4548")


def test_unknown_crs_name_is_an_error_naming_crs(tmp_path):
    path = write_sample_ifc(tmp_path / "s.ifc", crs="EPSG:999999")
    with pytest.raises(GeoreferenceMissingError, match="--crs"):
        detect_georef(open_ifc(path))
