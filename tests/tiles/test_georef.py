"""Georeferencing: control points against pyproj computed independently, datum rules."""
from __future__ import annotations

import numpy as np
import pyproj
import pytest

from tiles import georef
from tiles.errors import GeoreferenceError
from tiles.model import GeoFrame


def test_gauss_kruger_control_point_within_1cm_of_pyproj_ecef():
    # A point in Lixia District, CGCS2000 / 3-degree GK CM 117E, ellipsoidal height.
    e, n, h = 510912.345, 4057123.456, 48.2
    frame = GeoFrame(crs="EPSG:4548", origin=(510000.0, 4057000.0, 40.0))
    ours = georef.to_ecef(np.array([[e - 510000.0, n - 4057000.0, h - 40.0]]), frame)[0]
    # Independent path: pyproj straight to CGCS2000 geocentric (EPSG:4479).
    to_geocentric = pyproj.Transformer.from_crs(
        pyproj.CRS("EPSG:4548").to_3d(), "EPSG:4479", always_xy=True)
    expected = np.array(to_geocentric.transform(e, n, h))
    assert np.linalg.norm(ours - expected) < 0.01


def test_ecef_round_trip_to_lonlat():
    frame = GeoFrame(crs="EPSG:4326")
    llh = np.array([[117.12, 36.65, 55.0], [117.13, 36.66, -3.0]])
    ecef = georef.to_ecef(llh, frame)
    back = georef.ecef_to_lonlatheight(ecef)
    assert np.allclose(back[:, :2], llh[:, :2], atol=1e-9)
    assert np.allclose(back[:, 2], llh[:, 2], atol=1e-3)


def test_contextcapture_wkt_parameters_win_over_authority(shared_data):
    xml = shared_data("photogrammetry", "cc_osgb_production5", "metadata.xml").read_text()
    frame = georef.read_contextcapture_srs(xml)
    assert frame.origin == (501027.524, 2488718.808, 0.0)
    llh = georef.to_lonlatheight(np.zeros((1, 3)), frame)[0]
    # Built from the WKT's parameters (CM 113.37, FN 90) by hand, not from EPSG:4547.
    by_params = pyproj.Transformer.from_crs(
        "+proj=tmerc +lat_0=0 +lon_0=113.37 +k=1 +x_0=500000 +y_0=90 +ellps=GRS80",
        "EPSG:4490", always_xy=True)
    lon, lat = by_params.transform(501027.524, 2488718.808)
    assert abs(llh[0] - lon) < 1e-8 and abs(llh[1] - lat) < 1e-8
    by_code = pyproj.Transformer.from_crs("EPSG:4547", "EPSG:4490", always_xy=True)
    wrong_lon, _ = by_code.transform(501027.524, 2488718.808)
    assert abs(llh[0] - wrong_lon) > 0.5  # the AUTHORITY code would be ~60 km off


def test_local_enu_frame_with_origin_and_rotation():
    frame = GeoFrame(crs="ENU", origin=(117.12, 36.65, 30.0), rotation_deg=90.0)
    ecef = georef.to_ecef(np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0]]), frame)
    origin = georef.lonlatheight_to_ecef(np.array([117.12]), np.array([36.65]),
                                         np.array([30.0]))[0]
    assert np.linalg.norm(ecef[0] - origin) < 1e-6
    enu = georef.ecef_to_enu_points(ecef[1:], origin)[0]
    # local x turned 90 degrees counter-clockwise from east points north
    assert np.allclose(enu, [0.0, 10.0, 0.0], atol=1e-6)


def test_orthometric_heights_need_a_geoid_offset():
    frame = GeoFrame(crs="EPSG:4548", origin=(510000.0, 4057000.0, 0.0), vertical="orthometric")
    with pytest.raises(GeoreferenceError, match="geoid_offset_m"):
        georef.to_ecef(np.zeros((1, 3)), frame)
    with_n = GeoFrame(crs="EPSG:4548", origin=(510000.0, 4057000.0, 0.0),
                      vertical="orthometric", geoid_offset_m=-3.2)
    llh = georef.to_lonlatheight(np.array([[0.0, 0.0, 20.0]]), with_n)[0]
    assert llh[2] == pytest.approx(16.8)


@pytest.mark.parametrize("text", ["EPSG:999999", "not a crs", ""])
def test_unresolvable_crs_says_what_to_pass(text):
    with pytest.raises(GeoreferenceError, match="EPSG"):
        georef.to_ecef(np.zeros((1, 3)), GeoFrame(crs=text))


def test_enu_matrix_maps_up_to_the_ellipsoid_normal():
    origin = georef.lonlatheight_to_ecef(np.array([117.12]), np.array([36.65]), np.array([0.0]))[0]
    mat = georef.enu_to_ecef_matrix(origin)
    up = georef.lonlatheight_to_ecef(np.array([117.12]), np.array([36.65]), np.array([100.0]))[0]
    assert np.allclose(mat @ np.array([0, 0, 100.0, 1]), np.append(up, 1), atol=1e-6)
