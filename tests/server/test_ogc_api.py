"""OGC API - Features over HTTP: documents, paging, filters, classification, problems."""
from __future__ import annotations

import pytest

from layers import LayerInfo
from layers.importer import import_layer
from server.app import create_app

ADMIN = {"Authorization": "Bearer admin-secret"}


@pytest.fixture
def client(tmp_path, monkeypatch, shared_data):
    monkeypatch.setenv("CIMTWIN_ADMIN_TOKEN", "admin-secret")
    app = create_app({"data": {"dir": str(tmp_path)}})
    store = app.extensions["cimtwin"].layers
    import_layer(store, shared_data("gis", "helsinki_facilities.geojson"),
                 layer_id="facilities", kind="facilities", classification="public")
    import_layer(store, shared_data("gis", "kofu_urban_development_projects.geojson"),
                 layer_id="projects", kind="projects", classification="restricted",
                 defaults={"stage": "completed"})
    store.put_layer(_jinan_points(), LayerInfo(id="jinan", title="济南", classification="public"))
    return app.test_client()


def _jinan_points():
    """Nine points around Quancheng Square, Jinan (CGCS2000 GK zone CM 117E: EPSG:4548)."""
    import geopandas as gpd
    from shapely.geometry import Point
    coords = [(117.01 + i * 0.01, 36.65 + j * 0.01) for i in range(3) for j in range(3)]
    return gpd.GeoDataFrame({"name": [f"p{k}" for k in range(9)]},
                            geometry=[Point(c) for c in coords], crs="OGC:CRS84")


def test_landing_conformance_and_collections(client):
    landing = client.get("/ogc").get_json()
    assert {link["rel"] for link in landing["links"]} >= {"self", "conformance", "data"}
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in \
        client.get("/ogc/conformance").get_json()["conformsTo"]
    collections = client.get("/ogc/collections").get_json()["collections"]
    assert [c["id"] for c in collections] == ["facilities", "jinan"]  # restricted layer hidden
    facilities = collections[0]
    assert facilities["kind"] == "facilities"
    assert facilities["extent"]["spatial"]["bbox"][0][1] == pytest.approx(60.1642173)
    items_link = next(link for link in facilities["links"] if link["rel"] == "items")
    assert items_link["href"].endswith("/ogc/collections/facilities/items")


def test_items_paging_links_and_media_type(client):
    response = client.get("/ogc/collections/facilities/items?limit=30&offset=30")
    assert response.mimetype == "application/geo+json"
    body = response.get_json()
    assert body["numberMatched"] == 82 and body["numberReturned"] == 30
    rels = {link["rel"]: link["href"] for link in body["links"]}
    assert "offset=60" in rels["next"] and "offset=0" in rels["prev"]
    last = client.get("/ogc/collections/facilities/items?limit=30&offset=60").get_json()
    assert last["numberReturned"] == 22
    assert "next" not in {link["rel"] for link in last["links"]}


def test_bbox_and_property_filters(client):
    all_banks = client.get("/ogc/collections/facilities/items?category=bank&limit=100").get_json()
    assert all_banks["numberMatched"] == 17
    bbox = "24.9400,60.1680,24.9460,60.1720"
    inside = client.get(f"/ogc/collections/facilities/items?bbox={bbox}&limit=100").get_json()
    for feature in inside["features"]:
        lon, lat = feature["geometry"]["coordinates"]
        assert 24.94 <= lon <= 24.946 and 60.168 <= lat <= 60.172
    everything = client.get("/ogc/collections/facilities/items?limit=100").get_json()["features"]
    expected = [f for f in everything if 24.94 <= f["geometry"]["coordinates"][0] <= 24.946
                and 60.168 <= f["geometry"]["coordinates"][1] <= 60.172]
    assert inside["numberMatched"] == len(expected) > 0


def test_single_item_and_not_found(client):
    feature = client.get("/ogc/collections/facilities/items/1").get_json()
    assert feature["type"] == "Feature" and feature["id"] == 1
    missing = client.get("/ogc/collections/facilities/items/9999")
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"


def test_restricted_layer_is_404_for_anonymous_and_visible_to_admin(client):
    assert client.get("/ogc/collections/projects").status_code == 404
    assert client.get("/ogc/collections/projects/items").status_code == 404
    assert client.get("/ogc/collections/projects/items/1").status_code == 404
    body = client.get("/ogc/collections/projects/items?stage=completed", headers=ADMIN).get_json()
    assert body["numberMatched"] == 27


@pytest.mark.parametrize("query, text", [
    ("bbox=1,2,3", "bbox"), ("bbox=10,60,5,61", "antimeridian"), ("limit=0", "limit"),
    ("offset=-1", "offset"), ("datetime=yesterday", "RFC 3339"), ("colour=red", "colour"),
    ("f=xml", "f=json"),
])
def test_bad_parameters_are_problems(client, query, text):
    response = client.get(f"/ogc/collections/facilities/items?{query}")
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert text in response.get_json()["detail"]


def test_datetime_on_layer_without_time_is_a_problem(client):
    response = client.get("/ogc/collections/facilities/items?datetime=2024-01-01")
    assert response.status_code == 400 and "time extent" in response.get_json()["detail"]


# -- Part 1: html, oas30 -------------------------------------------------------------
def test_openapi_document_is_valid_and_lists_queryables(client):
    from openapi_spec_validator import validate
    response = client.get("/ogc/api")
    assert response.status_code == 200 and "openapi" in response.mimetype
    doc = response.get_json()
    validate(doc)
    params = [p["name"] for p in doc["paths"]["/collections/facilities/items"]["get"]["parameters"]
              if "name" in p]
    assert {"category", "name:en", "osm_id"} <= set(params)
    assert "/collections/projects/items" not in doc["paths"]  # restricted: hidden
    assert "post" in doc["paths"]["/collections/facilities/items"]
    landing = client.get("/ogc").get_json()
    assert any(link["rel"] == "service-desc" and link["href"].endswith("/ogc/api")
               for link in landing["links"])


def test_html_views_for_people(client):
    page = client.get("/ogc/collections/facilities/items?f=html&limit=5")
    assert page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert "numberMatched 82" in text and "<table>" in text and "Feature" not in text[:20]
    browser = client.get("/ogc/collections", headers={"Accept": "text/html,*/*;q=0.8"})
    assert browser.mimetype == "text/html" and "facilities" in browser.get_data(as_text=True)
    assert client.get("/ogc/collections", headers={"Accept": "*/*"}).mimetype == \
        "application/json"


# -- Part 2: crs, bbox-crs -----------------------------------------------------------
def _first(client, query: str):
    response = client.get(f"/ogc/collections/jinan/items?limit=1&{query}")
    assert response.status_code == 200, response.get_json()
    return response, response.get_json()["features"][0]["geometry"]["coordinates"]


def test_crs_output_in_authority_axis_order_with_content_crs(client):
    base, (lon, lat) = _first(client, "")
    assert base.headers["Content-Crs"] == "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"
    wgs, coords = _first(client, "crs=http://www.opengis.net/def/crs/EPSG/0/4326")
    assert wgs.headers["Content-Crs"] == "<http://www.opengis.net/def/crs/EPSG/0/4326>"
    assert coords == pytest.approx([lat, lon])  # EPSG:4326 is latitude first
    _, cgcs = _first(client, "crs=EPSG:4490")
    assert cgcs == pytest.approx([lat, lon])
    # Jinan in the CGCS2000 GK zone with CM 117E: X = northing ~4.06e6 comes first
    _, gk = _first(client, "crs=http://www.opengis.net/def/crs/EPSG/0/4548")
    assert 4.0e6 < gk[0] < 4.1e6 and 500_000 < gk[1] < 505_000
    from pyproj import Transformer
    north, east = Transformer.from_crs("OGC:CRS84", "EPSG:4548").transform(lon, lat)
    assert gk == pytest.approx([north, east], abs=0.01)


def test_bbox_crs_in_lat_lon_and_gk_selects_like_crs84(client):
    items = "/ogc/collections/jinan/items?limit=100&bbox="
    crs84 = client.get(items + "117.015,36.655,117.035,36.675").get_json()
    assert sorted(f["properties"]["name"] for f in crs84["features"]) == ["p4", "p5", "p7", "p8"]
    latlon = client.get(items + "36.655,117.015,36.675,117.035&bbox-crs=EPSG:4490").get_json()
    assert latlon["features"] == crs84["features"]
    from pyproj import Transformer
    to_gk = Transformer.from_crs("OGC:CRS84", "EPSG:4548")
    (n1, e1), (n2, e2) = to_gk.transform(117.015, 36.655), to_gk.transform(117.035, 36.675)
    gk = client.get(f"{items}{n1},{e1},{n2},{e2}"
                    "&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4548").get_json()
    assert gk["features"] == crs84["features"]
    swapped = client.get(f"{items}{e1},{n1},{e2},{n2}&bbox-crs=EPSG:4548").get_json()
    assert swapped["numberMatched"] == 0  # easting first is the wrong axis order


@pytest.mark.parametrize("query", ["crs=EPSG:3857", "crs=EPSG:4555",
                                   "bbox-crs=EPSG:2056&bbox=1,2,3,4", "bbox-crs=EPSG:4326"])
def test_unsupported_crs_is_a_400(client, query):
    response = client.get(f"/ogc/collections/facilities/items?{query}")
    assert response.status_code == 400 and "crs" in response.get_json()["detail"]


def test_collection_lists_offered_crs(client):
    info = client.get("/ogc/collections/facilities").get_json()
    assert "http://www.opengis.net/def/crs/EPSG/0/4548" in info["crs"]
    assert info["storageCrs"] == "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    assert len([c for c in info["crs"] if "/EPSG/0/45" in c]) == 42


# -- Part 3: filter, queryables, sortby, properties ----------------------------------
def test_cql2_filter_sortby_and_properties_over_http(client):
    query = ("filter=category IN ('bank','library') AND name LIKE 'S%25'"
             "&filter-lang=cql2-text&sortby=-name&properties=name,category&limit=100")
    body = client.get(f"/ogc/collections/facilities/items?{query}").get_json()
    names = [f["properties"]["name"] for f in body["features"]]
    assert names and names == sorted(names, reverse=True)
    assert all(n.startswith("S") for n in names)
    assert all(set(f["properties"]) == {"name", "category"} for f in body["features"])
    next_link = [link for link in body["links"] if link["rel"] == "self"][0]["href"]
    assert "filter=" in next_link


def test_queryables_document(client):
    response = client.get("/ogc/collections/facilities/queryables")
    assert response.mimetype == "application/schema+json"
    doc = response.get_json()
    assert doc["properties"]["category"]["type"] == "string"
    assert {"bank", "library", "hospital", "school"} <= set(doc["properties"]["category"]["enum"])
    assert doc["properties"]["category"]["x-labels-zh"]["library"] == "图书馆"
    assert doc["properties"]["geometry"]["$ref"].startswith("https://geojson.org/schema/")
    assert doc["additionalProperties"] is False


@pytest.mark.parametrize("query, text", [
    ("filter=category = ", "expected a value"), ("filter=colour = 'red'", "queryables"),
    ("filter=rank = 1&filter-lang=cql2-json", "filter-lang"), ("sortby=colour", "sortby"),
    ("properties=colour", "properties"),
])
def test_bad_filters_are_400(client, query, text):
    response = client.get(f"/ogc/collections/facilities/items?{query}")
    assert response.status_code == 400 and text in response.get_json()["detail"]


# -- Part 4: writes ------------------------------------------------------------------
def _project_id(client) -> int:
    body = client.get("/ogc/collections/projects/items?limit=1", headers=ADMIN).get_json()
    return body["features"][0]["id"]


def test_one_patch_moves_a_project_to_under_construction_and_keeps_history(client):
    fid = _project_id(client)
    url = f"/ogc/collections/projects/items/{fid}"
    client.patch(url, json={"properties": {"stage": "approved"}}, headers=ADMIN)
    response = client.patch(url, json={"properties": {"stage": "under_construction"}},
                            headers=ADMIN, content_type="application/merge-patch+json")
    assert response.status_code == 200
    props = response.get_json()["properties"]
    assert props["stage"] == "under_construction" and props["stage_zh"] == "在建"
    seen = client.get(url, headers=ADMIN).get_json()["properties"]
    assert seen["stage"] == "under_construction"
    history = client.get(f"{url}/history", headers=ADMIN).get_json()["history"]
    assert [(h["old"]["stage"], h["new"]["stage"]) for h in history] == [
        ("completed", "approved"), ("approved", "under_construction")]
    assert "env" in history[-1]["actor"] and history[-1]["at"].endswith("Z")


def test_writes_need_the_token_and_a_valid_body(client):
    url = "/ogc/collections/facilities/items/1"
    assert client.patch(url, json={"properties": {"name": "x"}}).status_code == 401
    bad = client.patch(url, json={"properties": {"category": "spaceport"}}, headers=ADMIN)
    assert bad.status_code == 400 and "category" in bad.get_json()["detail"]
    assert client.get(url).get_json()["properties"]["name"] != "x"


def test_create_in_gk_content_crs_then_delete(client):
    from pyproj import Transformer
    north, east = Transformer.from_crs("OGC:CRS84", "EPSG:4542").transform(24.95, 60.17)
    created = client.post("/ogc/collections/facilities/items", headers={
        **ADMIN, "Content-Crs": "<http://www.opengis.net/def/crs/EPSG/0/4542>"},
        json={"type": "Feature", "geometry": {"type": "Point", "coordinates": [north, east]},
              "properties": {"name": "新图书馆", "category": "图书馆"}})
    assert created.status_code == 201
    location = created.headers["Location"]
    path = location[location.index("/ogc/"):]
    feature = client.get(path).get_json()
    assert feature["geometry"]["coordinates"] == pytest.approx([24.95, 60.17])
    assert feature["properties"]["category"] == "library"
    assert client.get("/ogc/collections/facilities").get_json()["count"] == 83
    assert client.delete(path, headers=ADMIN).status_code == 204
    assert client.get(path).status_code == 404
