"""`cimtwin import buildings` and `cimtwin import citymodel` end to end: checked tilesets
(3D Tiles rules + gltf-validator) with one feature per building and its attributes, placed
where the data is; bad input gets messages that say what to do."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pyproj import Transformer

from server.city_imports import import_buildings, import_citymodel
from server.config import load_config
from server.services import open_services
from tiles.check import check_tileset
from tiles.errors import GeoreferenceError, InputError
from tiles.glb.builder import read_glb
from tiles.glb.metadata import decode_property_table


@pytest.fixture
def services(tmp_path):
    s = open_services(load_config(overrides={"data": {"dir": str(tmp_path / "data")}}))
    yield s
    s.close()


def _feature_rows(services, tileset_id: str) -> list[dict]:
    rows = []
    for glb in services.store.tileset_dir(tileset_id).rglob("*.glb"):
        gltf, binary = read_glb(glb.read_bytes())
        rows += decode_property_table(gltf, binary)
    return rows


def _checked(services, result):
    report = check_tileset(services.store, result["id"], validate_glb=True)
    assert report.ok, report.errors
    assert report.validated > 0
    return _feature_rows(services, result["id"])


def _inside(bounds, lon, lat):
    west, south, east, north = bounds[:4]
    return west <= lon <= east and south <= lat <= north


def test_helsinki_footprints_become_white_models_and_a_layer(services, shared_data):
    result = import_buildings(services, shared_data("gis", "helsinki_buildings.geojson"),
                              default_height=9.0, layer_id="helsinki-fp")
    assert result["buildings"] == 446 and sum(result["height_sources"].values()) == 446
    assert any("default" in w for w in result["warnings"])
    rows = _checked(services, result)
    assert len({r["osm_id"] for r in rows}) == 446  # one feature per building, attributes kept
    assert {"name", "building", "height_source", "base_m"} <= set(rows[0])
    assert _inside(result["bounds"], 24.944, 60.171)
    layer = services.layers.get_layer("helsinki-fp")
    assert layer.kind == "buildings" and layer.count == 446


def test_zurich_cityjson_transform_applied_parts_as_features(services, shared_data):
    result = import_citymodel(services, shared_data("citymodel", "zurich_subset_lod2.city.json"))
    assert result["objects"] == 161 and result["types"] == {"BuildingPart": 161}
    rows = _checked(services, result)
    assert len({r["id"] for r in rows}) == 161
    assert all(r["parent"] and r["type"] == "BuildingPart" for r in rows)
    assert any("RoofSurface" in r["surfaces"] for r in rows)
    # the file's geographicalExtent, through pyproj: the tileset sits there (transform applied)
    lon, lat = Transformer.from_crs("EPSG:2056", "OGC:CRS84").transform(2682811.96, 1248058.25)
    assert _inside(result["bounds"], lon, lat)
    assert 390 < result["height"][1] < 630


def test_munich_citygml_1_with_adv_compound_crs(services, shared_data):
    result = import_citymodel(services, shared_data("citymodel",
                                                    "munich_LOD2_4424_5482_solid.gml"))
    assert result["objects"] == 111 and result["frame_crs"] == "EPSG:31468"
    assert result["surfaces"]["RoofSurface"] > 0 and result["surfaces"]["GroundSurface"] == 111
    rows = _checked(services, result)
    assert len({r["id"] for r in rows}) == 111
    assert all(isinstance(r["measuredHeight"], float) for r in rows)
    lon, lat = Transformer.from_crs("EPSG:31468", "OGC:CRS84", always_xy=True).transform(
        4424750.0, 5482714.0)
    assert _inside(result["bounds"], lon, lat)


def test_yokosuka_citygml_2_lat_lon_order_and_lods(services, shared_data):
    path = shared_data("citymodel", "plateau_yokosuka", "52397519_bldg_6697_op.gml")
    result = import_citymodel(services, path)
    assert result["lods"] == {"2": 3, "1": 11}
    _checked(services, result)
    # EPSG:6697 is latitude first: the file's envelope reads "lat lon h"
    import re
    lower, upper = (list(map(float, re.search(f"<gml:{c}>([^<]+)<", path.read_text())
                             .group(1).split())) for c in ("lowerCorner", "upperCorner"))
    lat, lon = (lower[0] + upper[0]) / 2, (lower[1] + upper[1]) / 2
    assert _inside(result["bounds"], lon, lat)
    assert result["bounds"][2] - result["bounds"][0] < 0.05


def test_no_crs_names_the_flag_and_writes_nothing(services, shared_data, tmp_path):
    doc = json.loads(shared_data("citymodel", "zurich_subset_lod2.city.json").read_text())
    doc["metadata"].pop("referenceSystem")
    bare = tmp_path / "bare.city.json"
    bare.write_text(json.dumps(doc))
    with pytest.raises(GeoreferenceError, match="--crs"):
        import_citymodel(services, bare)
    assert services.catalog.list() == []


MINIMAL_GML = """<?xml version="1.0"?>
{doctype}<core:CityModel xmlns:core="http://www.opengis.net/citygml/2.0"
 xmlns:bldg="http://www.opengis.net/citygml/building/2.0" xmlns:gml="http://www.opengis.net/gml"
 xmlns:gen="http://www.opengis.net/citygml/generics/2.0">
<core:cityObjectMember><bldg:Building gml:id="b1">
<gen:stringAttribute name="note"><gen:value>{value}</gen:value></gen:stringAttribute>
<bldg:lod1Solid><gml:Solid srsName="EPSG:4548"><gml:exterior><gml:CompositeSurface>
<gml:surfaceMember><gml:Polygon><gml:exterior><gml:LinearRing><gml:posList srsDimension="3">
500000 4057000 30 500010 4057000 30 500010 4057010 30 500000 4057010 30 500000 4057000 30
</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon></gml:surfaceMember>
</gml:CompositeSurface></gml:exterior></gml:Solid></bldg:lod1Solid>
</bldg:Building></core:cityObjectMember>{tail}"""


def test_malformed_citygml_names_the_line(services, tmp_path):
    path = tmp_path / "broken.gml"
    path.write_text(MINIMAL_GML.format(doctype="", value="x", tail="\n</core:CityModel"))
    with pytest.raises(InputError, match=r"not well-formed XML: line 1[0-9]"):
        import_citymodel(services, path)


def test_external_entities_are_not_read(services, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    doctype = f'<!DOCTYPE core:CityModel [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
    path = tmp_path / "xxe.gml"
    path.write_text(MINIMAL_GML.format(doctype=doctype, value="&xxe;", tail="\n</core:CityModel>"))
    result = import_citymodel(services, path)
    rows = _feature_rows(services, result["id"])
    assert rows and "TOP-SECRET-VALUE" not in json.dumps(rows)


def _cli(tmp_path, *args):
    env = os.environ | {"CIMTWIN_DATA_DIR": str(tmp_path / "data")}
    exe = Path(sys.executable).with_name("cimtwin")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=env,
                          timeout=600, check=False)


def test_cli_reports_height_sources_and_refuses_points(tmp_path, shared_data):
    points = _cli(tmp_path, "import", "buildings",
                  str(shared_data("gis", "helsinki_facilities.geojson")), "--default-height", "9")
    assert points.returncode != 0 and "must be polygons" in points.stderr
    done = _cli(tmp_path, "import", "buildings",
                str(shared_data("gis", "helsinki_buildings.geojson")),
                "--floors-field", "levels", "--storey-height", "3.2", "--default-height", "10",
                "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["height_sources"]["floors"] >= 138 and result["buildings"] == 446
