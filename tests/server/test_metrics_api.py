"""Metrics over HTTP: registration, ingest rules, classification everywhere, reads, alarms."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from server.app import create_app

INGEST = {"Authorization": "Bearer ingest-secret"}
ADMIN = {"Authorization": "Bearer admin-secret"}
SENSORS = [
    {"id": "aq-1", "name": "泉城广场空气站", "kind": "air", "classification": "public",
     "location": {"lon": 117.02, "lat": 36.66}, "metrics": "pm25,noise_db"},
    {"id": "en-1", "name": "Office energy", "kind": "energy", "classification": "internal",
     "feature": {"type": "building", "id": "B-7", "layer": "demo-buildings"},
     "datastreams": [{"metric": "power_kw", "sampling_s": 60,
                      "rules": [{"condition": "above", "threshold": 500}]}]},
]


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("CIMTWIN_INGEST_TOKEN", "ingest-secret")
    monkeypatch.setenv("CIMTWIN_ADMIN_TOKEN", "admin-secret")
    app = create_app({"data": {"dir": str(tmp_path)}, "server": {"sse_keepalive_s": 0.2}})
    yield app
    app.extensions["cimtwin"].close()


@pytest.fixture
def client(app):
    c = app.test_client()
    assert c.post("/api/sensors", json=SENSORS, headers=ADMIN).status_code == 201
    return c


def _iso(minutes_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat()


def _q(text: str) -> str:
    return text.replace("+", "%2B")


def test_registration_needs_admin_and_names_the_bad_field(app):
    c = app.test_client()
    assert c.post("/api/sensors", json=SENSORS, headers=INGEST).status_code == 403
    bad = c.post("/api/sensors", json=[SENSORS[0], {"id": "x", "classification": "secret"}],
                 headers=ADMIN)
    assert bad.status_code == 400 and "sensor 1: 'classification'" in bad.get_json()["detail"]
    assert c.get("/api/sensors", headers=ADMIN).get_json()["features"] == []  # nothing half-stored
    geo = {"type": "FeatureCollection", "features": [{"type": "Feature", "id": 7, "geometry": {
        "type": "Point", "coordinates": [117.1, 36.6]}, "properties": {
        "sensor_id": "g-1", "metrics": "dust", "project_id": "P02", "classification": "public"}}]}
    assert c.post("/api/sensors", json=geo, headers=ADMIN).get_json()["datastreams"] == 1
    [feature] = c.get("/api/sensors").get_json()["features"]
    assert feature["id"] == "g-1"  # the sensor_id, not the layer's feature number
    assert feature["properties"]["feature"] == {"type": "project", "id": "P02", "layer": None}
    assert feature["geometry"]["coordinates"][:2] == [117.1, 36.6]


def test_ingest_needs_the_ingest_token(client):
    reading = {"datastream": "aq-1:pm25", "value": 12}
    assert client.post("/api/metrics", json=reading).status_code == 401
    assert client.post("/api/metrics", json=reading, headers={"Authorization": "Bearer no"}
                       ).status_code == 403
    assert client.post("/api/metrics", json=reading, headers=INGEST).status_code == 202


def test_a_resent_batch_changes_nothing_and_says_so(client):
    batch = {"observations": [{"datastream": "aq-1:pm25", "value": v, "time": t}
                              for v, t in [(20, _iso(5)), (30, _iso(4))]]}
    assert client.post("/api/metrics", json=batch, headers=INGEST).get_json() == {
        "received": 2, "stored": 2, "duplicates": 0}
    batch["observations"][0]["value"] = 999
    assert client.post("/api/metrics", json=batch, headers=INGEST).get_json() == {
        "received": 2, "stored": 0, "duplicates": 2}
    late = [{"sensor_id": "aq-1", "metric": "pm25", "value": 25, "time": _iso(30)}]
    assert client.post("/api/metrics", json=late, headers=INGEST).get_json()["stored"] == 1
    history = client.get("/api/metrics/history?datastream=aq-1:pm25").get_json()
    assert [p["value"] for p in history["observations"]] == [25, 20, 30]
    assert client.get("/api/metrics/latest").get_json()[0]["value"] == 30


def _future(minutes: float) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


@pytest.mark.parametrize("body, status, detail", [
    ('{"datastream": "aq-1:pm25", "value": 1', 400, "JSON"),
    ([{"datastream": "aq-1:pm25", "value": 1}, {"datastream": "nope", "value": 2}], 400,
     "observation 1: 'datastream' 'nope' is not registered"),
    ([{"datastream": "aq-1:pm25", "value": 1}, {"sensor_id": "aq-1", "metric": "co", "value": 2}],
     400, "observation 1: 'sensor_id' 'aq-1' has no datastream for 'metric' 'co'"),
    ([{"datastream": "aq-1:pm25", "value": "12"}], 400, "observation 0: 'value'"),
    ([{"datastream": "aq-1:pm25", "value": True}], 400, "observation 0: 'value'"),
    ('[{"datastream": "aq-1:pm25", "value": NaN}]', 400, "observation 0: 'value'"),
    ('[{"datastream": "aq-1:pm25", "value": Infinity}]', 400, "observation 0: 'value'"),
    ([{"datastream": "aq-1:pm25", "value": 1, "time": "2024-06-30 08:00"}], 400, "UTC offset"),
    ([{"datastream": "aq-1:pm25", "value": 1, "time": 1719705600}], 400, "observation 0: 'time'"),
    ([{"datastream": "aq-1:pm25", "value": 1, "time": _future(60)}], 400,
     "observation 0: 'time'"),
    ([{"datastream": "aq-1:pm25", "value": 1, "quality": "great"}], 400,
     "observation 0: 'quality'"),
    ([{"datastream": "aq-1:pm25", "value": 1, "time": "2000-01-01T00:00:00Z"}], 400,
     "retention"),
    ([{"datastream": "aq-1:pm25", "value": 1}] * 10001, 413, "at most 10000"),
])
def test_bad_batches_are_refused_whole_naming_item_and_field(client, body, status, detail):
    data = body if isinstance(body, str) else json.dumps(body)
    good = {"datastream": "aq-1:noise_db", "value": 50, "time": _iso(1)}
    if isinstance(body, list):
        data = json.dumps([good] + body).replace(
            "observation 0", "observation 1")  # a good item first: it must not be stored
        detail = detail.replace("observation 1", "observation 2").replace(
            "observation 0", "observation 1")
    response = client.post("/api/metrics", data=data,
                           headers={**INGEST, "Content-Type": "application/json"})
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    assert detail in response.get_json()["detail"]
    assert client.get("/api/metrics/latest").get_json() == []


def test_anonymous_users_see_public_data_only_everywhere(client):
    client.post("/api/metrics", headers=INGEST, json=[
        {"datastream": "aq-1:pm25", "value": 40, "time": _iso(3)},
        {"datastream": "en-1:power_kw", "value": 900, "time": _iso(2)}])
    assert [o["datastream"] for o in client.get("/api/metrics/latest").get_json()] == ["aq-1:pm25"]
    assert len(client.get("/api/metrics/latest", headers=ADMIN).get_json()) == 2
    assert client.get("/api/metrics/history?datastream=en-1:power_kw").status_code == 404
    assert client.get("/api/metrics/history?sensor=en-1&metric=power_kw").status_code == 404
    assert client.get("/api/metrics/export.csv?datastream=en-1:power_kw").status_code == 404
    assert [f["id"] for f in client.get("/api/sensors").get_json()["features"]] == ["aq-1"]
    assert client.get("/api/sensors/en-1").status_code == 404
    assert client.get("/api/alarms").get_json() == {"alarms": []}
    [alarm] = client.get("/api/alarms", headers=ADMIN).get_json()["alarms"]
    assert client.get(f"/api/alarms/{alarm['id']}").status_code == 404
    assert client.get("/api/alarms/log").get_json() == {"events": []}
    assert client.get("/api/alarms/rules").get_json() == {"rules": []}
    assert client.post(f"/api/alarms/{alarm['id']}/ack", json={"note": "x"},
                       headers=INGEST).status_code == 403
    admin_sensors = client.get("/api/sensors", headers=ADMIN).get_json()["features"]
    energy = next(f for f in admin_sensors if f["id"] == "en-1")["properties"]
    assert energy["latest"]["power_kw"]["value"] == 900
    assert energy["feature"] == {"type": "building", "id": "B-7", "layer": "demo-buildings"}


def test_history_buckets_and_csv_export(client):
    client.post("/api/metrics", headers=INGEST, json=[
        {"datastream": "aq-1:pm25", "value": v, "time": _iso(m), "quality": q}
        for m, v, q in [(50, 20, "good"), (40, 30, "suspect"), (30, 160, "good")]])
    body = client.get(_q(f"/api/metrics/history?sensor=aq-1&metric=pm25&bucket=86400"
                         f"&from={_iso(120)}")).get_json()
    assert [(p["count"], p["min"], p["max"]) for p in body["observations"]] in (
        [(3, 20, 160)], [(1, 20, 20), (2, 30, 160)], [(2, 20, 30), (1, 160, 160)])
    assert body["unit"] == "µg/m³" and body["thresholds"]["alarm"] == 150
    csv_text = client.get("/api/metrics/export.csv?sensor=aq-1").get_data(as_text=True)
    lines = csv_text.strip().splitlines()
    assert lines[0] == "datastream,sensor_id,metric,unit,time,result_time,value,quality"
    assert [line.split(",")[6:] for line in lines[1:]] == [
        ["20.0", "good"], ["30.0", "suspect"], ["160.0", "good"]]
    assert client.get("/api/metrics/history?metric=pm25").status_code == 400


def test_alarm_rules_raise_acknowledge_once_and_log(client):
    rule = client.post("/api/alarms/rules", headers=ADMIN, json={
        "datastream": "aq-1:noise_db", "condition": "above", "threshold": 70,
        "hysteresis": 5, "for_s": 60}).get_json()
    assert rule["id"] and rule["for_s"] == 60
    client.post("/api/metrics", headers=INGEST, json=[
        {"datastream": "aq-1:noise_db", "value": v, "time": _iso(m)}
        for m, v in [(10, 80), (9.5, 81), (8.9, 82), (8, 67)]])
    [alarm] = client.get("/api/alarms").get_json()["alarms"]
    assert (alarm["active"], alarm["raised_value"], alarm["last_value"]) == (True, 82, 67)
    assert alarm["location"] == {"lon": 117.02, "lat": 36.66, "height": 0.0}
    ack = client.post(f"/api/alarms/{alarm['id']}/ack", headers=ADMIN,
                      json={"note": "已通知施工单位", "by": "值班员"})
    assert ack.status_code == 200 and ack.get_json()["ack"]["note"] == "已通知施工单位"
    again = client.post(f"/api/alarms/{alarm['id']}/ack", headers=ADMIN, json={"note": "2"})
    assert again.status_code == 409 and "值班员" in again.get_json()["detail"]
    assert client.get("/api/alarms").get_json()["alarms"][0]["acknowledged"] is True
    client.post("/api/metrics", headers=INGEST,
                json=[{"datastream": "aq-1:noise_db", "value": 60, "time": _iso(7)}])
    assert client.get("/api/alarms").get_json() == {"alarms": []}  # cleared and handled
    assert len(client.get("/api/alarms?state=all").get_json()["alarms"]) == 1
    events = client.get("/api/alarms/log").get_json()["events"]
    # by event time: the clearing reading was measured before the acknowledgement
    assert [(e["event"], e.get("by")) for e in events] == [
        ("raised", None), ("cleared", None), ("acknowledged", "值班员")]
    assert client.delete(f"/api/alarms/rules/{rule['id']}", headers=ADMIN).status_code == 204
    assert client.post("/api/alarms/rules", headers=ADMIN, json={
        "datastream": "en-1:power_kw", "condition": "over", "threshold": 1}).status_code == 400


def test_a_sensor_on_a_restricted_layers_feature_is_as_restricted_as_the_layer(app, tmp_path):
    """A sensor attached to a feature of a restricted layer inherits that level: left
    unclassified, or registered as public by mistake, it is still hidden from users
    who may not see the layer (its location would reveal the site)."""
    from server.layer_imports import import_layer_file
    site = tmp_path / "sites.geojson"
    site.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"name": "工地"},
        "geometry": {"type": "Point", "coordinates": [117.05, 36.68]}}]}))
    import_layer_file(app.extensions["cimtwin"], site, layer_id="sites",
                      classification="restricted")
    c = app.test_client()
    on_site = {"type": "facility", "id": "1", "layer": "sites"}
    assert c.post("/api/sensors", headers=ADMIN, json=[
        {"id": "dust-1", "location": {"lon": 117.05, "lat": 36.68}, "metrics": "dust",
         "feature": on_site},
        {"id": "dust-2", "classification": "public", "location": {"lon": 117.05, "lat": 36.68},
         "metrics": "dust", "feature": on_site}]).status_code == 201
    assert c.get("/api/sensors").get_json()["features"] == []
    assert c.get("/api/sensors/dust-2").status_code == 404
    levels = {f["id"]: f["properties"]["classification"]
              for f in c.get("/api/sensors", headers=ADMIN).get_json()["features"]}
    assert levels == {"dust-1": "restricted", "dust-2": "restricted"}
