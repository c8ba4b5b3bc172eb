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
    # The chart answers questions: the alarm threshold as a line, the alarm raised marked,
    # the unit; 1 h / 24 h / 7 d come bucketed by the server; any metric can be picked.
    chart = page.evaluate("cimtwin.chart")
    assert (chart["metric"], chart["range"], chart["bucket"]) == ("pm25", "24h", 900), chart
    assert chart["thresholds"]["alarm"] == 150 and chart["unit"] == "µg/m³", chart
    assert chart["alarmTimes"], chart
    page.click('#chartControls button[data-range="1h"]')
    page.wait_for_function("cimtwin.chart.range === '1h' && cimtwin.chart.bucket === 60")
    options = page.locator("#chartMetric option").all_inner_texts()
    assert len(options) == len(sensor["metrics"].split(",")) and "PM10 (µg/m³)" in options
    page.select_option("#chartMetric", "pm10")
    page.wait_for_function("cimtwin.chart.metric === 'pm10' && cimtwin.chart.range === '1h'")
    page.select_option("#chartMetric", "pm25")
    page.wait_for_function("cimtwin.chart.metric === 'pm25'")
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


#: JS: facility pins of a layer: [{category, glyph, image (PNG data URI), depthTest}].
FACILITY_PINS = """(id) => cimtwin.app.layers.get(id).source.entities.values.map((e) => {
    const image = e.billboard.image.getValue(); return { category: e.cimtwin.properties.category,
      glyph: image.dataset.glyph, image: image.toDataURL(),
      depthTest: e.billboard.disableDepthTestDistance.getValue() === 0 }; })"""

#: JS: how many cluster badges and single facility pins are drawn now.
DRAWN_POINTS = """(id) => { const c = cimtwin.app.layers.get(id).source.clustering;
    const badges = c._clusterBillboardCollection; let clusters = 0, single = 0;
    for (let i = 0; badges && i < badges.length; i++) if (badges.get(i).show) clusters++;
    const pins = c._billboardCollection;
    for (let i = 0; pins && i < pins.length; i++) { const b = pins.get(i);
      if (b.show && b.clusterShow !== false) single++; }
    return { clusters, single }; }"""


def settle_labels(page) -> None:
    """Wait until the view's tiles are in and the label declutter pass has finished."""
    wait_for_view(page)
    page.wait_for_function("cimtwin.declutterSettled", timeout=120_000, polling=250)


def test_map_is_legible_icons_by_category_labels_never_overlap_points_cluster(viewer, server_url):
    page, watch = viewer
    facilities = collections(server_url)["facilities"]["id"]
    page.locator(f'[data-testid="layer-{facilities}"]').check()
    if page.locator("#inspector").is_visible():
        page.click("#inspectorClose")  # an earlier pick: the picked pin is drawn on top
    wait_for_initial_tiles(page)
    # Each category has its own pin (park, police and bus station no longer share one);
    # pins are depth-tested: nothing shows through a building unless picked.
    pins = page.evaluate(FACILITY_PINS, facilities)
    by_category = {p["category"]: p for p in pins}
    assert {"park", "police", "bus_station"} <= set(by_category)
    assert len({by_category[c]["glyph"] for c in ("park", "police", "bus_station")}) == 3
    assert len({p["image"] for p in by_category.values()}) == len(by_category)
    assert all(p["depthTest"] for p in pins)
    # At the home view no drawn label overlaps another (rendered label rectangles).
    page.evaluate("cimtwin.flyHome(0)")
    settle_labels(page)
    drawn = page.evaluate("cimtwin.labelOverlaps()")
    assert drawn["labels"] > 5 and drawn["overlapping"] == 0, drawn
    # Zoomed out, the facilities fold into count badges.
    look_down(page, 117.1301, 36.6602, 9000)
    settle_labels(page)
    points = page.evaluate(DRAWN_POINTS, facilities)
    assert points["clusters"] > 0 and points["single"] < len(pins), points
    assert page.evaluate("cimtwin.labelOverlaps().overlapping") == 0
    page.evaluate("cimtwin.flyHome(0)")
    assert_clean(watch)


def slide(page, layer: str, percent: int) -> None:
    """Move a layer's opacity slider as a user's drag does (value, then `input`)."""
    page.evaluate("""([id, v]) => { const el = document.querySelector(`[data-testid="opacity-${id}"]`);
        el.value = String(v); el.dispatchEvent(new Event('input', { bubbles: true })); }""",
                  [layer, percent])


def test_layer_tree_opacity_legends_and_navigation_readout(viewer, server_url):
    import pyproj
    page, watch = viewer
    kinds = collections(server_url)
    facilities, projects = kinds["facilities"]["id"], kinds["projects"]["id"]
    # Each layer has its legend: facility categories with their icons, stages, sensor ramp.
    legend = page.locator(f'[data-testid="layer-{facilities}"] >> xpath=ancestor::li[1]')
    shown = {f["properties"]["category"] for f in items(server_url, facilities)}
    drawn = set(legend.locator(".layer-legend .item").evaluate_all(
        "(rows) => rows.map((r) => r.dataset.category)"))
    assert drawn == shown and legend.locator(".layer-legend img").count() == len(shown)
    stages = page.locator(f'[data-testid="layer-{projects}"] >> xpath=ancestor::li[1]')
    assert "在建" in stages.locator(".layer-legend").inner_text()
    assert page.locator(".layer-legend .ramp").count() == 1
    # The opacity slider fades the layer: pins and polygons.
    slide(page, facilities, 30)
    slide(page, projects, 50)
    alpha = page.evaluate("""([f, p]) => [
        cimtwin.app.layers.get(f).source.entities.values[0].billboard.color.getValue().alpha,
        cimtwin.app.layers.get(p).source.entities.values.find((e) => e.show)
          .polygon.material.color.getValue().alpha]""", [facilities, projects])
    assert alpha == pytest.approx([0.3, 0.55 * 0.5], abs=1e-6)
    slide(page, facilities, 100)
    slide(page, projects, 100)
    # Coordinate readout under the mouse: lon/lat, the configured GK zone, height.
    look_down(page, 117.1301, 36.6602, 1500)
    page.mouse.move(640, 400)
    page.wait_for_function("cimtwin.navigation.last !== null", timeout=30_000)
    last = page.evaluate("cimtwin.navigation.last")
    zone = requests.get(f"{server_url}/api/v1/config", timeout=10).json()["gauss_kruger"]
    north, east = pyproj.Transformer.from_crs("EPSG:4490", zone["crs"]).transform(
        last["lat"], last["lon"])
    assert [last["x"], last["y"]] == pytest.approx([north, east], abs=0.01)
    assert last["lon"] == pytest.approx(117.1301, abs=0.002) and 0 < last["height"] < 300
    text = page.locator('[data-testid="coords"]').inner_text()
    assert "经度" in text and zone["crs"] in text
    # Scale bar and zoom: zooming in shortens the bar's length; the compass faces north.
    before = page.evaluate("cimtwin.navigation.scaleMetres")
    page.click('[data-testid="zoom-in"]')
    wait_for_view(page)
    assert 0 < page.evaluate("cimtwin.navigation.scaleMetres") < before
    page.evaluate("""() => { const c = cimtwin.viewer.camera;
        c.setView({ orientation: { heading: 1.0, pitch: c.pitch, roll: 0 } }); }""")
    page.click('[data-testid="compass"]')
    assert page.evaluate("Math.sin(cimtwin.viewer.camera.heading)") == pytest.approx(0, abs=1e-6)
    page.evaluate("cimtwin.setLanguage('en')")
    assert "Compass" in page.get_attribute('[data-testid="compass"]', "title")
    page.evaluate("cimtwin.setLanguage('zh')")
def _under_construction_lot(server_url: str) -> tuple[dict, tuple[float, float]]:
    """A project under construction today and the centre of its (largest) lot."""
    from browser_views import centroid
    layer = collections(server_url)["projects"]["id"]
    sites = [f for f in items(server_url, layer) if f["properties"]["stage"] == "under_construction"
             and f["geometry"]["type"] == "Polygon"]
    def size(f):
        ring = f["geometry"]["coordinates"][0]
        return (max(p[0] for p in ring) - min(p[0] for p in ring)) * (max(p[1] for p in ring) - min(p[1] for p in ring))
    site = max(sites, key=size)
    return site, centroid(site["geometry"]["coordinates"][0])


def _rgb_at(page, tmp_path, points):
    """RGB under each window position {x, y}, from a screenshot."""
    from PIL import Image
    shot = tmp_path / "compare.png"
    page.screenshot(path=str(shot))
    with Image.open(shot) as image:
        rgb = image.convert("RGB")
        return [rgb.getpixel((round(p["x"]), round(p["y"]))) for p in points]


def test_planner_compares_two_dates_side_by_side(viewer, server_url, tmp_path):
    page, watch = viewer
    site, (lon, lat) = _under_construction_lot(server_url)
    ground = min(e["height"][0] for e in catalog(server_url) if e["kind"] in ("reality", "terrain", "mesh"))
    boxes = [b for b in page.locator('#gisList input[type="checkbox"]').all() if b.is_checked()]
    for box in boxes:
        box.uncheck()  # labels and points off the lot
    look_down(page, lon, lat, ground + 450)
    centre = page.evaluate("([lon, lat, h]) => cimtwin.windowPositionOf(lon, lat, h)", [lon, lat, ground])
    # Date A: before the lot was planned (nothing there); date B: empty, i.e. now.
    page.fill("#compareA", f"{int(site['properties']['planned_date'][:4]) - 1}-01-01")
    page.check("#compareOn")
    page.wait_for_function("cimtwin.compare.active && cimtwin.compare.copies.size > 0", timeout=60_000)
    # Drag the divider onto the lot: its left half shows date A, its right half date B.
    box = page.locator("#compareDivider").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(centre["x"], box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()
    split = page.evaluate("cimtwin.viewer.scene.splitPosition * cimtwin.viewer.scene.canvas.clientWidth")
    assert abs(split - centre["x"]) < 3, (split, centre)
    left, right = {"x": centre["x"] - 25, "y": centre["y"]}, {"x": centre["x"] + 25, "y": centre["y"]}
    for _ in range(30):  # until the right copy and both sides' imagery are drawn
        wait_for_view(page)
        a, b = _rgb_at(page, tmp_path, [left, right])
        if (b[0] - b[2]) > (a[0] - a[2]) + 40:
            break
    assert (b[0] - b[2]) > (a[0] - a[2]) + 40, (a, b)  # right: the stage colour #ff7a2f
    page.fill("#compareA", site["properties"]["start_date"][:10])  # A: building began
    page.dispatch_event("#compareA", "change")
    for _ in range(30):
        wait_for_view(page)
        a2, b2 = _rgb_at(page, tmp_path, [left, right])
        if (a2[0] - a2[2]) > (a[0] - a[2]) + 40:
            break
    assert (a2[0] - a2[2]) > (a[0] - a[2]) + 40, (a, a2)  # left is now under construction too
    page.uncheck("#compareOn")
    assert page.evaluate("cimtwin.compare.copies.size") == 0
    assert page.evaluate("[...cimtwin.tilesets.values()].every((t) => t.splitDirection === 0)")
    for box in boxes:
        box.check()
    assert_clean(watch)
