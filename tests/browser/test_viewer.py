"""The viewer in a real browser over a real `cimtwin serve` of the demo district:
it loads every tileset offline without a failed tile, draws the GIS layers, picks
buildings and reads their properties, and shows live metrics from the SSE stream."""
from __future__ import annotations

import re

import requests

from harness import pixel_spread, wait_for_initial_tiles, wait_for_view

#: The engine issue's budget for the demo district's initial view.
INITIAL_VIEW_BUDGET_BYTES = 10 * 1024 * 1024


def catalog(server_url: str) -> list[dict]:
    """The tilesets an anonymous user may see, as the server lists them."""
    response = requests.get(f"{server_url}/api/tilesets", timeout=10)
    response.raise_for_status()
    return response.json()


def collections(server_url: str) -> dict[str, dict]:
    """OGC collections by kind."""
    body = requests.get(f"{server_url}/ogc/collections", timeout=10).json()
    return {c.get("kind"): c for c in body["collections"]}


def items(server_url: str, collection_id: str) -> list[dict]:
    """All features of a collection (GeoJSON)."""
    url = f"{server_url}/ogc/collections/{collection_id}/items?limit=1000"
    return requests.get(url, timeout=10).json()["features"]


def assert_clean(watch) -> None:
    """No script error, no console error, no failed request, nothing fetched off-server."""
    assert watch.page_errors == [], watch.page_errors
    assert watch.console_errors == [], watch.console_errors
    assert watch.failed_requests == [], watch.failed_requests
    assert watch.foreign_requests() == [], watch.foreign_requests()


def test_initial_view_loads_every_tileset_offline(viewer, server_url, tmp_path):
    page, watch = viewer
    entries = catalog(server_url)
    assert entries, "the demo district has tilesets"
    wait_for_initial_tiles(page)
    stats = page.evaluate("JSON.parse(JSON.stringify(cimtwin.stats))")
    loaded_ids = page.evaluate("[...cimtwin.tilesets.keys()]")
    assert sorted(loaded_ids) == sorted(e["id"] for e in entries)
    assert stats["tileFailed"] == 0, stats["failures"]
    assert stats["tilesetsFailed"] == []
    assert stats["tilesLoaded"] > 0
    print(f"\ninitial view: {watch.tile_bytes} bytes of tileset.json + tile content requested, "
          f"{stats['tilesLoaded']} tiles loaded")
    assert watch.tile_bytes <= INITIAL_VIEW_BUDGET_BYTES
    shot = tmp_path / "initial-view.png"
    page.screenshot(path=str(shot))
    assert pixel_spread(shot) > 8.0, "the screenshot is (almost) one flat colour"
    assert_clean(watch)


def test_tileset_toggle_hides_and_shows_a_model(viewer, server_url):
    page, watch = viewer
    first = catalog(server_url)[0]["id"]
    box = page.locator(f'[data-testid="toggle-{first}"]')
    box.uncheck()
    assert page.evaluate("(id) => cimtwin.tilesets.get(id).show", first) is False
    box.check()
    assert page.evaluate("(id) => cimtwin.tilesets.get(id).show", first) is True
    assert_clean(watch)


def look_down_and_pick(page, lon: float, lat: float, ground: float, top: float) -> dict | None:
    """Camera straight above lon/lat, wait for the tiles there, click-pick at the point."""
    page.evaluate("([lon, lat, h]) => cimtwin.lookDownAt(lon, lat, h)", [lon, lat, top + 150.0])
    wait_for_view(page)
    xy = page.evaluate("([lon, lat, h]) => cimtwin.windowPositionOf(lon, lat, h)", [lon, lat, top])
    assert xy is not None, "the point is on screen"
    return page.evaluate("([x, y]) => cimtwin.pickAt(x, y)", [xy["x"], xy["y"]])


def bim_entry(server_url: str) -> dict:
    """The demo's IFC building in the catalog."""
    bims = [e for e in catalog(server_url) if e["kind"] == "bim"]
    assert bims, "the demo district has a BIM model"
    return bims[0]


def centre_of(entry: dict) -> tuple[float, float]:
    w, s, e, n = entry["bounds"]
    return (w + e) / 2, (s + n) / 2


def test_pick_bim_element_shows_globalid_and_property_sets(viewer, server_url):
    page, watch = viewer
    entry = bim_entry(server_url)
    lon, lat = centre_of(entry)
    picked = look_down_and_pick(page, lon, lat, entry["height"][0], entry["height"][1])
    assert picked is not None and picked["type"] == "feature"
    assert picked["tilesetId"] == entry["id"]
    global_id = picked["properties"]["GlobalId"]
    assert re.fullmatch(r"[0-9A-Za-z_$]{22}", global_id), global_id
    # The inspector shows the element, its GlobalId and at least one property-set group.
    inspector = page.locator("#inspector")
    assert inspector.is_visible()
    assert global_id in inspector.inner_text()
    headers = page.locator("#inspectorBody th").all_inner_texts()
    assert any(h.startswith(("Pset_", "Qto_", "CIM")) for h in headers), headers
    assert_clean(watch)


def test_storey_isolation_and_class_hiding_change_what_is_picked(viewer, server_url):
    page, watch = viewer
    entry = bim_entry(server_url)
    lon, lat = centre_of(entry)
    top = look_down_and_pick(page, lon, lat, entry["height"][0], entry["height"][1])
    storeys = page.locator("#bimStorey option").evaluate_all("(os) => os.map((o) => o.value)")
    others = [s for s in storeys if s and s != top["properties"]["Storey"]]
    assert others, f"the model has several storeys: {storeys}"
    # Isolate a lower storey: what is under the same pixel now belongs to that storey.
    page.select_option("#bimStorey", others[0])
    lower = look_down_and_pick(page, lon, lat, entry["height"][0], entry["height"][1])
    assert lower is not None and lower["properties"]["Storey"] == others[0]
    # Hide that element's class: the same pixel no longer picks that class.
    hidden_class = lower["properties"]["IfcClass"]
    page.locator(f'[data-testid="class-{hidden_class}"]').uncheck()
    again = look_down_and_pick(page, lon, lat, entry["height"][0], entry["height"][1])
    assert again is None or again["properties"]["IfcClass"] != hidden_class
    # X-ray: the rest of the building comes back translucent, the isolated storey stays solid.
    page.check("#bimXray")
    looks = page.evaluate(FEATURE_LOOKS, entry["id"])
    focus = [x for x in looks if x["storey"] == others[0] and x["cls"] != hidden_class]
    rest = [x for x in looks if x["storey"] != others[0] and x["cls"] != hidden_class]
    assert focus and rest
    assert all(x["show"] and x["alpha"] == 1.0 for x in focus)
    assert all(x["show"] and x["alpha"] < 0.5 for x in rest)
    assert all(not x["show"] for x in looks if x["cls"] == hidden_class)
    assert_clean(watch)


#: JS: storey, class, shown? and alpha of every feature in the loaded tiles of a tileset.
FEATURE_LOOKS = """(id) => {
  const ts = cimtwin.tilesets.get(id); const out = [];
  const visit = (tile) => {
    const c = tile.contentReady ? tile.content : null;
    for (let i = 0; c && i < c.featuresLength; i++) {
      const f = c.getFeature(i);
      out.push({storey: f.getProperty("Storey"), cls: f.getProperty("IfcClass"),
                show: ts.style.show.evaluate(f),
                alpha: ts.style.color ? ts.style.color.evaluateColor(f).alpha : 1});
    }
    tile.children.forEach(visit);
  };
  visit(ts.root);
  return out;
}"""


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
    page.evaluate("([lon, lat]) => cimtwin.lookDownAt(lon, lat, 600)", [lon, lat])
    wait_for_view(page)
    xy = page.evaluate("([lon, lat]) => cimtwin.windowPositionOf(lon, lat, 0)", [lon, lat])
    picked = page.evaluate("([x, y]) => cimtwin.pickAt(x, y)", [xy["x"], xy["y"]])
    assert picked is not None and picked["type"] == "gis", picked
    assert picked["properties"]["name"] == facility["properties"]["name"]
    assert facility["properties"]["name"] in page.locator("#inspector").inner_text()
    assert_clean(watch)


def post_observation(server_url: str, token: str, observation: dict) -> None:
    response = requests.post(f"{server_url}/api/metrics", json=observation, timeout=10,
                             headers={"Authorization": f"Bearer {token}"})
    assert response.status_code in (200, 201, 202), response.text


def test_posted_metric_arrives_over_sse_and_alarm_turns_sensor_red(viewer, server_url, tokens):
    page, watch = viewer
    page.wait_for_function("cimtwin.metricsConnected", timeout=60_000)
    sensor = items(server_url, collections(server_url)["sensors"]["id"])[0]["properties"]
    metric = sensor["metrics"].split(",")[0]
    value = 987.25  # far above any alarm threshold of the demo sensors
    post_observation(server_url, tokens["ingest"], {
        "sensor_id": sensor["sensor_id"], "metric": metric, "value": value})
    page.wait_for_function(
        "([id, v]) => cimtwin.lastMetric && cimtwin.lastMetric.sensor_id === id && cimtwin.lastMetric.value === v",
        arg=[sensor["sensor_id"], value], timeout=60_000)
    label = page.evaluate("(id) => cimtwin.app.sensors.entities.get(id).label.text.getValue()",
                          sensor["sensor_id"])
    assert "987.25" in label
    # Clicking the sensor shows its latest value and a history chart with the reading.
    lon, lat = items(server_url, collections(server_url)["sensors"]["id"])[0]["geometry"]["coordinates"][:2]
    page.evaluate("([lon, lat]) => cimtwin.lookDownAt(lon, lat, 500)", [lon, lat])
    wait_for_view(page)
    xy = page.evaluate("([lon, lat]) => cimtwin.windowPositionOf(lon, lat, 0)", [lon, lat])
    picked = page.evaluate("([x, y]) => cimtwin.pickAt(x, y)", [xy["x"], xy["y"]])
    assert picked is not None and picked["type"] == "sensor" and picked["sensorId"] == sensor["sensor_id"]
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
