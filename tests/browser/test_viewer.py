"""The viewer in a real browser, as an anonymous user, over a real `cimtwin serve` of the
demo district: public tilesets only, GIS layers drawn and clickable, live metrics from
the SSE stream, and a UI in Chinese with an English switch."""
from __future__ import annotations

import pytest
import requests

from browser_harness import wait_for_initial_tiles, wait_for_view
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

#: JS: frames Cesium renders in `ms` of wall-clock time with no input (postRender count).
IDLE_FRAMES = """(ms) => new Promise((resolve) => {
  const scene = cimtwin.viewer.scene; let frames = 0;
  const remove = scene.postRender.addEventListener(() => { frames += 1; });
  setTimeout(() => { remove(); resolve(frames); }, ms); })"""


#: JS: window.__quiet turns true once `ms` pass without a rendered frame.
QUIET_FOR = """(ms) => { window.__quiet = false; const scene = cimtwin.viewer.scene; let timer = null;
  const arm = () => { clearTimeout(timer); timer = setTimeout(() => { off(); window.__quiet = true; }, ms); };
  const off = scene.postRender.addEventListener(arm); arm(); }"""


def test_idle_view_renders_no_frames_and_hidden_layers_are_not_fetched(viewer, server_url):
    page, watch = viewer
    wait_for_initial_tiles(page)
    wait_for_view(page)
    footprints = collections(server_url)["buildings"]["id"]
    items_url = f"/ogc/collections/{footprints}/items"
    assert not any(items_url in url for url in watch.requests), "hidden at start: not fetched"
    # Cesium finishes its background work first (a worker task that ends asks for a frame:
    # the terrain picker is built in steps after the first picks); a scene that kept
    # rendering would never get there. Then, with nothing changing, nothing is drawn.
    page.evaluate(QUIET_FOR, 2000)
    page.wait_for_function("window.__quiet === true", timeout=180_000)
    assert page.evaluate(IDLE_FRAMES, 5000) == 0
    box = page.locator(f'[data-testid="layer-{footprints}"]')
    box.check()
    page.wait_for_function("(id) => cimtwin.app.layers.get(id).source.entities.values.length > 0",
                           arg=footprints, timeout=60_000)
    assert any(items_url in url for url in watch.requests)
    box.uncheck()
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
    # Search finds it by a part of its Chinese name; the result flies there.
    name = facility["properties"]["name"]
    page.fill("#searchInput", name[1:])
    hit = page.locator("#searchResults li", has_text=f"{name} · ")
    hit.first.wait_for(timeout=60_000)
    page.evaluate(ARM_MOVE_END)
    hit.first.click()
    page.wait_for_function("window.__flown === true", timeout=60_000)
    xy = page.evaluate("([lon, lat]) => cimtwin.windowPositionOf(lon, lat, 0)", [lon, lat])
    assert xy is not None and abs(xy["x"] - 640) < 80 and abs(xy["y"] - 400) < 80, xy
    look_down(page, lon, lat, 600)
    picked = pick(page, lon, lat, 0)
    assert picked is not None and picked["type"] == "gis", picked
    assert picked["properties"]["name"] == facility["properties"]["name"]
    assert facility["properties"]["name"] in page.locator("#inspector").inner_text()
    assert_clean(watch)


#: JS: window.__flown turns true when the camera next stops moving (a flight's end).
ARM_MOVE_END = """() => { window.__flown = false; const camera = cimtwin.viewer.camera;
    const off = camera.moveEnd.addEventListener(() => { off(); window.__flown = true; }); }"""


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
    panel_before = page.locator("#gisList").bounding_box()
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
    # The operator's alarm panel names it, with the threshold, start time and count; the
    # panel is fixed, so the layer panel does not move.
    active = f'#alarmList li.alarm.active[data-sensor="{sensor["sensor_id"]}"]'
    page.wait_for_selector(active, timeout=60_000)
    entry = page.locator(active)
    text = entry.inner_text()
    assert "987.25" in text and sensor["name"] in text and "150" in text, text
    assert "始于" in text and "24 小时内第" in text, text
    assert page.locator("#alarmList button.ack").count() == 0  # anonymous: no acknowledge
    assert page.locator("#gisList").bounding_box() == panel_before
    assert "触发" in page.locator("#alarmLogList").text_content()
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
    # The alarm persists while other readings come and go, until a clearing reading.
    other = items(server_url, collections(server_url)["sensors"]["id"])[1]["properties"]
    post_observation(server_url, tokens["ingest"], {
        "sensor_id": other["sensor_id"], "metric": other["metrics"].split(",")[0], "value": 1.5})
    page.wait_for_function("(id) => cimtwin.lastMetric && cimtwin.lastMetric.sensor_id === id",
                           arg=other["sensor_id"], timeout=60_000)
    assert page.locator(active).count() == 1
    post_observation(server_url, tokens["ingest"], {
        "sensor_id": sensor["sensor_id"], "metric": "pm25", "value": 10.0})
    page.wait_for_function("(sel) => !document.querySelector(sel)", arg=active, timeout=60_000)
    cleared = page.locator(f'#alarmList li.alarm.cleared[data-sensor="{sensor["sensor_id"]}"]')
    assert "已恢复" in cleared.inner_text()  # cleared, listed until acknowledged
    assert "恢复" in page.locator("#alarmLogList").text_content()
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
    missing = page.evaluate("""(keys) => {
        const dictionaries = cimtwin.dictionaries;
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


def test_the_view_is_kept_in_the_url_and_in_bookmarks(viewer, server_url):
    page, watch = viewer
    facilities = collections(server_url)["facilities"]["id"]
    page.evaluate("cimtwin.lookDownAt(117.1301, 36.6602, 1234)")
    page.locator(f'[data-testid="layer-{facilities}"]').uncheck()
    page.wait_for_function("""(id) => { const p = new URLSearchParams(location.hash.slice(1));
        return (p.get('cam') || '').startsWith('117.1301') && p.has('layers')
          && !p.get('layers').split(',').includes(id); }""", arg=facilities, timeout=30_000)
    # Saved as a bookmark, the view comes back after moving away.
    page.fill("#bookmarkName", "泉城路口")
    page.click("#bookmarkAdd")
    page.evaluate("cimtwin.flyHome(0)")
    page.locator(f'[data-testid="layer-{facilities}"]').check()
    page.locator("#bookmarkList a", has_text="泉城路口").click()
    camera = page.evaluate("""() => { const c = cimtwin.viewer.camera.positionCartographic;
        return [c.longitude * 180 / Math.PI, c.latitude * 180 / Math.PI, c.height]; }""")
    assert camera == pytest.approx([117.1301, 36.6602, 1234], abs=1e-3), camera
    assert page.evaluate("(id) => cimtwin.app.layers.get(id).source.show", facilities) is False
    page.locator(f'[data-testid="layer-{facilities}"]').check()
    assert_clean(watch)
