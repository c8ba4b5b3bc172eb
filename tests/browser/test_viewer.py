"""The viewer in a real browser, as an anonymous user, over a real `cimtwin serve` of the
demo district: public tilesets only, GIS layers drawn and clickable, live metrics from
the SSE stream, and a UI in Chinese with an English switch."""
from __future__ import annotations

import pytest
import requests

from browser_harness import wait_for_initial_tiles
from browser_views import assert_clean, catalog, collections, items, look_down, pick

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_anonymous_user_gets_public_tilesets_only_without_failures(viewer, server_url, tokens):
    page, watch = viewer
    public = catalog(server_url)
    everything = catalog(server_url, tokens["admin"])
    assert len(everything) > len(public) > 0, "the demo has public and internal tilesets"
    wait_for_initial_tiles(page)
    assert sorted(page.evaluate("[...cimtwin.tilesets.keys()]")) == sorted(e["id"] for e in public)
    stats = page.evaluate("JSON.parse(JSON.stringify(cimtwin.stats))")
    assert stats["tileFailed"] == 0, stats["failures"]
    assert stats["tilesetsFailed"] == []
    assert stats["tilesLoaded"] > 0
    internal = {e["id"] for e in everything} - {e["id"] for e in public}
    assert not any(i in url for url in watch.requests for i in internal)
    assert_clean(watch)

def test_tileset_toggle_hides_and_shows_a_model(viewer, server_url):
    page, watch = viewer
    first = catalog(server_url)[0]["id"]
    box = page.locator(f'[data-testid="tileset-{first}"]')
    box.uncheck()
    assert page.evaluate("(id) => cimtwin.tilesets.get(id).show", first) is False
    box.check()
    assert page.evaluate("(id) => cimtwin.tilesets.get(id).show", first) is True
    assert_clean(watch)


def test_gis_layers_drawn_and_facility_click_shows_its_name(viewer, server_url):
    page, watch = viewer
    kinds = collections(server_url)
    for kind in ("facilities", "projects", "sensors"):
        assert kind in kinds, f"the demo has a {kind} collection"
        expected = len(items(server_url, kinds[kind]["id"]))
        drawn = page.evaluate("(id) => cimtwin.app.layers.get(id).source.entities.values.length",
                              kinds[kind]["id"])
        assert drawn >= expected > 0, (kind, drawn, expected)
    # The legend names the four lifecycle stages in Chinese.
    legend = page.locator("#legend").inner_text()
    for stage in ("规划", "审批", "在建", "竣工"):
        assert stage in legend
    facility = items(server_url, kinds["facilities"]["id"])[0]
    lon, lat = facility["geometry"]["coordinates"][:2]
    look_down(page, lon, lat, 600)
    picked = pick(page, lon, lat, 0)
    assert picked is not None and picked["type"] == "gis", picked
    assert picked["properties"]["name"] == facility["properties"]["name"]
    assert facility["properties"]["name"] in page.locator("#inspector").inner_text()
    assert_clean(watch)


def post_observation(server_url: str, token: str, observation: dict) -> None:
    response = requests.post(f"{server_url}/api/metrics", json=observation, timeout=10,
                             headers={"Authorization": f"Bearer {token}"})
    assert response.status_code in (200, 201, 202), response.text


#: JS: the sensor point's current colour as [r, g, b] (0..1).
POINT_RGB = "(id) => { const c = cimtwin.app.sensors.entities.get(id).point.color.getValue(); return [c.red, c.green, c.blue]; }"


def is_red(rgb: list[float]) -> bool:
    return rgb[0] > 0.8 and rgb[1] < 0.4 and rgb[2] < 0.4


def test_posted_metric_arrives_over_sse_and_alarm_turns_sensor_red(viewer, server_url, tokens):
    page, watch = viewer
    page.wait_for_function("cimtwin.metricsConnected", timeout=60_000)
    feature = items(server_url, collections(server_url)["sensors"]["id"])[0]
    sensor = feature["properties"]
    assert "pm25" in sensor["metrics"].split(",")
    assert not is_red(page.evaluate(POINT_RGB, sensor["sensor_id"]))
    value = 987.25  # PM2.5 far above the alarm level (GB 3095 heavy pollution band)
    post_observation(server_url, tokens["ingest"], {
        "sensor_id": sensor["sensor_id"], "metric": "pm25", "value": value})
    page.wait_for_function(
        "([id, v]) => cimtwin.lastMetric && cimtwin.lastMetric.sensor_id === id && cimtwin.lastMetric.value === v",
        arg=[sensor["sensor_id"], value], timeout=60_000)
    assert page.evaluate("cimtwin.lastMetric.alarm") is True
    assert is_red(page.evaluate(POINT_RGB, sensor["sensor_id"]))
    label = page.evaluate("(id) => cimtwin.app.sensors.entities.get(id).label.text.getValue()",
                          sensor["sensor_id"])
    assert "987.25" in label
    # The operator's alarm list names it; clicking the entry opens the sensor.
    entry = page.locator(f'#alarmList li[data-sensor="{sensor["sensor_id"]}"]')
    assert "987.25" in entry.inner_text() and sensor["name"] in entry.inner_text()
    entry.click()
    page.wait_for_function("(name) => document.querySelector('#inspector').innerText.includes(name)",
                           arg=sensor["name"], timeout=60_000)
    # Clicking the sensor shows its latest value and a history chart with the reading.
    lon, lat = feature["geometry"]["coordinates"][:2]
    look_down(page, lon, lat, 500)
    picked = pick(page, lon, lat, 0)
    assert picked is not None and picked["type"] == "sensor", picked
    assert picked["sensorId"] == sensor["sensor_id"]
    assert "987.25" in page.locator("#inspector").inner_text()
    assert picked["historyPoints"] >= 1
    assert page.locator("#historyChart").is_visible()
    assert_clean(watch)


def test_language_switch_translates_the_ui_both_ways(viewer):
    page, watch = viewer
    assert page.locator("#topbar .brand").inner_text() == "历下区城市信息模型"
    page.click("#langButton")
    assert page.locator("#topbar .brand").inner_text() == "Lixia District CIM"
    assert "Under construction" in page.locator("#legend").inner_text()
    page.click("#langButton")
    assert page.locator("#topbar .brand").inner_text() == "历下区城市信息模型"
    assert "在建" in page.locator("#legend").inner_text()
    assert_clean(watch)


def test_every_ui_string_has_both_languages(viewer):
    page, _ = viewer
    keys = page.evaluate("""() => [...document.querySelectorAll('[data-i18n], [data-i18n-title]')]
        .map((el) => el.dataset.i18n || el.dataset.i18nTitle)""")
    missing = page.evaluate("""async (keys) => {
        const { dictionaries } = await import('/viewer/js/i18n.js');
        return keys.filter((k) => !(k in dictionaries.zh) || !(k in dictionaries.en)); }""", keys)
    assert keys and missing == []


#: JS: {project_id: stage shown or null if hidden} of the project layer.
SHOWN_STAGES = """(id) => Object.fromEntries(cimtwin.app.layers.get(id).source.entities.values
    .map((e) => [e.cimtwin.properties.project_id, e.show ? e.cimtwin.stage : null]))"""


def test_planner_sees_the_projects_as_of_a_date(viewer, server_url):
    page, watch = viewer
    layer = collections(server_url)["projects"]["id"]
    projects = [f["properties"] for f in items(server_url, layer)]
    # As of today (no date): every project shows its recorded stage.
    assert page.evaluate(SHOWN_STAGES, layer) == {p["project_id"]: p["stage"] for p in projects}
    # The day before the first project was planned: nothing to show yet.
    first = min(p["planned_date"] for p in projects)
    day_before = f"{int(first[:4]) - 1}{first[4:10]}"
    page.fill("#asOfDate", day_before)
    page.dispatch_event("#asOfDate", "change")
    assert set(page.evaluate(SHOWN_STAGES, layer).values()) == {None}
    # On a completed project's start date it was under construction, and approved the day
    # it was approved (when building began later).
    done = next(p for p in projects if p["stage"] == "completed")
    page.fill("#asOfDate", done["start_date"][:10])
    page.dispatch_event("#asOfDate", "change")
    assert page.evaluate(SHOWN_STAGES, layer)[done["project_id"]] == "under_construction"
    if done["approved_date"][:10] < done["start_date"][:10]:
        page.fill("#asOfDate", done["approved_date"][:10])
        page.dispatch_event("#asOfDate", "change")
        assert page.evaluate(SHOWN_STAGES, layer)[done["project_id"]] == "approved"
    # Clearing the date goes back to the recorded stages.
    page.fill("#asOfDate", "")
    page.dispatch_event("#asOfDate", "change")
    assert page.evaluate(SHOWN_STAGES, layer) == {p["project_id"]: p["stage"] for p in projects}
    assert_clean(watch)
