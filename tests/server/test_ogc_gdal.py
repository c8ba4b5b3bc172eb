"""GDAL's OGC API - Features client (ogrinfo OAPIF:, Debian gdal-bin) reads cimtwin's layers:
every feature, a crs= request in a Gauss-Kruger zone, and a CQL2 filter sent to the server."""
from __future__ import annotations

import re
import shutil
import subprocess
import threading

import geopandas as gpd
import pytest
from shapely.geometry import Point

from layers import LayerInfo
from layers.importer import import_layer
from server.app import create_app


@pytest.fixture
def served(tmp_path, shared_data):
    if shutil.which("ogrinfo") is None:
        pytest.fail("ogrinfo is missing: apt-get install gdal-bin (listed in the Makefile)")
    from flask import request
    from waitress.server import create_server
    app = create_app({"data": {"dir": str(tmp_path)}})
    store = app.extensions["cimtwin"].layers
    import_layer(store, shared_data("gis", "helsinki_facilities.geojson"),
                 layer_id="facilities", kind="facilities", classification="public")
    jinan = gpd.GeoDataFrame({"name": ["泉城广场"]}, geometry=[Point(117.0169, 36.6612)],
                             crs="OGC:CRS84")
    store.put_layer(jinan, LayerInfo(id="jinan", title="济南", classification="public"))
    seen: list[dict] = []
    app.before_request(lambda: seen.append(request.args.to_dict()))
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}/ogc", seen
    server.close()
    thread.join(5)


def _ogrinfo(*args: str) -> str:
    out = subprocess.run(["ogrinfo", "-ro", "-al", "-q", *args], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_gdal_reads_every_feature(served):
    base, _ = served
    text = _ogrinfo(f"OAPIF:{base}/collections/facilities")
    assert text.count("OGRFeature(facilities)") == 82
    assert "category (String) = bank" in text


def test_gdal_crs_request_gets_gauss_kruger_northing_first(served):
    base, seen = served
    text = _ogrinfo(f"OAPIF:{base}/collections/jinan?crs=http://www.opengis.net/def/crs/EPSG/0/4548")
    x, y = map(float, re.search(r"POINT \(([\d.]+) ([\d.]+)\)", text).groups())
    from pyproj import Transformer
    north, east = Transformer.from_crs("OGC:CRS84", "EPSG:4548").transform(117.0169, 36.6612)
    assert (x, y) == pytest.approx((north, east), abs=0.01)
    assert any(args.get("crs", "").endswith("/EPSG/0/4548") for args in seen)


def test_gdal_where_becomes_a_server_side_cql_filter(served):
    base, seen = served
    text = _ogrinfo("-where", "category = 'bank' OR category = 'library'",
                    f"OAPIF:{base}/collections/facilities")
    assert text.count("OGRFeature(facilities)") == 17 + 7
    filters = [args["filter"] for args in seen if "filter" in args]
    assert filters and "OR" in filters[0]
