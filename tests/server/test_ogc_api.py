"""OGC API - Features over HTTP: documents, paging, filters, classification, problems."""
from __future__ import annotations

import pytest

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
    return app.test_client()


def test_landing_conformance_and_collections(client):
    landing = client.get("/ogc").get_json()
    assert {link["rel"] for link in landing["links"]} >= {"self", "conformance", "data"}
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in \
        client.get("/ogc/conformance").get_json()["conformsTo"]
    collections = client.get("/ogc/collections").get_json()["collections"]
    assert [c["id"] for c in collections] == ["facilities"]  # restricted layer hidden
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
