"""GET /api/search: facilities, projects and tilesets by (part of) their Chinese name, BIM
elements by name or GlobalId, each with a kind and a position; only what the caller may
see is found (restricted data is not found anonymously)."""
from __future__ import annotations

import json

import pytest

from bim_import.index import write_element_index
from layers.importer import import_layer
from server.app import create_app
from server.bim_imports import element_index_path

ADMIN = {"Authorization": "Bearer search-admin-token"}


def _facility(name: str, lon: float, lat: float, fid: str) -> dict:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {"id": fid, "name": name, "category": "park"}}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    data = tmp_path_factory.mktemp("search")
    with pytest.MonkeyPatch.context() as mp:  # the break-glass token is read per request
        mp.setenv("CIMTWIN_ADMIN_TOKEN", ADMIN["Authorization"].split()[1])
        yield _world(data)


def _world(data):
    app = create_app({"data": {"dir": str(data)}})
    services = app.extensions["cimtwin"]
    for layer_id, level, features in (
            ("parks", "public", [_facility("泉城公园", 117.02, 36.65, "F-1"),
                                 _facility("趵突泉公园", 117.01, 36.66, "F-2")]),
            ("secret", "restricted", [_facility("泉城指挥中心", 117.03, 36.67, "F-9")])):
        path = data / f"{layer_id}.geojson"
        path.write_text(json.dumps({"type": "FeatureCollection", "features": features}),
                        encoding="utf-8")
        import_layer(services.layers, path, layer_id=layer_id, kind="facilities",
                     classification=level)
    for tileset_id, level in (("bim-public", "public"), ("bim-restricted", "restricted")):
        services.catalog.add({"id": tileset_id, "name": f"运营中心 {level}", "kind": "bim",
                              "classification": level, "bounds": [117.1, 36.6, 117.2, 36.7],
                              "height": [50.0, 80.0]})
        write_element_index(element_index_path(services, tileset_id), {
            0: {"GlobalId": f"2YVonv3V8tgSfMSbAVgs{level[:2]}", "IfcClass": "IfcWall",
                "Name": "1F 南外墙", "Storey": "1F"}}, [], {})
    return app.test_client()


def search(client, q: str, headers: dict | None = None) -> list[dict]:
    response = client.get("/api/search", query_string={"q": q}, headers=headers or {})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["results"]


def test_a_part_of_a_chinese_name_finds_the_facility_with_its_position(client):
    hits = search(client, "趵突")
    assert [h["name"] for h in hits] == ["趵突泉公园"]
    hit = hits[0]
    assert hit["kind"] == "facilities" and hit["layer"] == "parks"
    assert hit["position"]["lon"] == pytest.approx(117.01)
    assert hit["position"]["lat"] == pytest.approx(36.66)


def test_exact_names_come_first(client):
    assert search(client, "泉城公园")[0]["name"] == "泉城公园"


def test_restricted_data_is_not_found_anonymously(client):
    assert {h["name"] for h in search(client, "泉城")} == {"泉城公园"}
    assert all(h.get("tileset") != "bim-restricted" for h in search(client, "南外墙"))
    # Who may see it finds it.
    assert {h["name"] for h in search(client, "泉城", ADMIN)} == {"泉城公园", "泉城指挥中心"}
    assert {h["tileset"] for h in search(client, "南外墙", ADMIN)} == {"bim-public",
                                                                      "bim-restricted"}


def test_bim_elements_by_name_and_globalid_and_tilesets_by_name(client):
    walls = search(client, "南外墙")
    assert [(h["kind"], h["tileset"]) for h in walls] == [("bim_element", "bim-public")]
    wall = walls[0]
    assert wall["ifc_class"] == "IfcWall" and wall["position"]["height"] == 80.0
    assert search(client, wall["global_id"].lower())[0]["global_id"] == wall["global_id"]
    models = search(client, "运营中心")
    assert [h["tileset"] for h in models if h["kind"] == "tileset"] == ["bim-public"]


def test_bad_queries_are_clear_errors(client):
    for query in ({}, {"q": "  "}, {"q": "x" * 101}, {"q": "a", "limit": "0"},
                  {"q": "a", "limit": "many"}):
        response = client.get("/api/search", query_string=query)
        assert response.status_code == 400, query
        assert response.headers["Content-Type"] == "application/problem+json"
        assert "detail" in response.get_json()
