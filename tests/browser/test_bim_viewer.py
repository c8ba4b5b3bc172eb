"""The viewer in a real browser with the admin token: the whole demo district including
the internal BIM model. Initial-view size, picking buildings and BIM elements, and the
BIM tools (storey isolation, class hiding, X-ray) checked by what the user then picks."""
from __future__ import annotations

import re

import pytest
import requests

from browser_harness import pixel_spread, wait_for_initial_tiles
from browser_views import assert_clean, catalog, centroid, collections, items, look_down, pick, show_only_models

#: The engine issue's budget for the demo district's initial view.
INITIAL_VIEW_BUDGET_BYTES = 10 * 1024 * 1024

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def bim_entry(server_url: str, token: str) -> dict:
    """The demo's IFC building in the catalog."""
    bims = [e for e in catalog(server_url, token) if e["kind"] == "bim"]
    assert bims, "the demo district has a BIM model"
    return bims[0]


def centre_of(entry: dict) -> tuple[float, float]:
    w, s, e, n = entry["bounds"]
    return (w + e) / 2, (s + n) / 2


def test_initial_view_loads_whole_district_within_budget(admin_viewer, server_url, tokens, tmp_path):
    page, watch = admin_viewer
    entries = catalog(server_url, tokens["admin"])
    wait_for_initial_tiles(page)
    assert sorted(page.evaluate("[...cimtwin.tilesets.keys()]")) == sorted(e["id"] for e in entries)
    stats = page.evaluate("JSON.parse(JSON.stringify(cimtwin.stats))")
    assert stats["tileFailed"] == 0, stats["failures"]
    assert stats["tilesetsFailed"] == []
    print(f"\ninitial view of the demo district: {watch.tile_bytes} bytes of tilesets and tile "
          f"content requested, {stats['tilesLoaded']} tiles loaded")
    assert watch.tile_bytes <= INITIAL_VIEW_BUDGET_BYTES
    shot = tmp_path / "initial-view.png"
    page.screenshot(path=str(shot))
    assert pixel_spread(shot) > 8.0, "the screenshot is (almost) one flat colour"
    assert_clean(watch)


def test_pick_building_reads_the_footprint_properties(admin_viewer, server_url):
    page, watch = admin_viewer
    footprints = items(server_url, collections(server_url)["buildings"]["id"])
    # A tall rectangular building: its centroid is surely on its roof.
    rectangles = [f for f in footprints if f["geometry"]["type"] == "Polygon"
                  and len(f["geometry"]["coordinates"][0]) == 5]
    building = max(rectangles, key=lambda f: f["properties"]["height_m"])
    props = building["properties"]
    lon, lat = centroid(building["geometry"]["coordinates"][0])
    top = props["ground_m"] + props["height_m"]
    look_down(page, lon, lat, top + 200)
    picked = pick(page, lon, lat, top)
    assert picked is not None and picked["type"] == "feature", picked
    assert picked["properties"]["id"] == props["id"]
    assert picked["properties"]["name"] == props["name"]
    assert props["name"] in page.locator("#inspector").inner_text()
    assert_clean(watch)


def test_pick_bim_element_shows_globalid_and_property_sets(admin_viewer, server_url, tokens):
    page, watch = admin_viewer
    entry = bim_entry(server_url, tokens["admin"])
    lon, lat = centre_of(entry)
    show_only_models(page)  # the site's dust sensor and project area sit on the building
    look_down(page, lon, lat, entry["height"][1] + 150)
    picked = pick(page, lon, lat, entry["height"][1])
    assert picked is not None and picked["type"] == "feature", picked
    assert picked["tilesetId"] == entry["id"]
    global_id = picked["properties"]["GlobalId"]
    assert re.fullmatch(r"[0-9A-Za-z_$]{22}", global_id), global_id
    # The inspector shows the element with its property sets as groups: Chinese names,
    # the schema's names on hover, no internal feature id.
    assert global_id in page.locator("#inspector").inner_text()
    raw = page.locator("#inspectorBody th[title]").evaluate_all("(ths) => ths.map((t) => t.title)")
    assert any(h.startswith(("Pset_", "Qto_")) for h in raw), raw
    keys = page.locator("#inspectorBody td.key").all_inner_texts()
    assert "fid" not in keys and "全局唯一标识" in keys, keys
    # A wall shows its own property sets only: none of the doors', windows' or roofs'.
    wall = page.evaluate(INSPECT_WALL, entry["id"])
    assert wall["cls"].startswith("IfcWall"), wall
    assert "Pset_WallCommon" in wall["sets"], wall
    assert not [s for s in wall["sets"] if "Door" in s or "Window" in s or "Roof" in s], wall
    assert all(wall["sets"]), wall  # no empty set headers
    assert "墙通用属性" in page.locator("#inspectorBody").inner_text()
    # Values carry the units of the file's IfcUnitAssignment (the demo model is in metres).
    length = page.locator('#inspectorBody td.key[title="Qto_WallBaseQuantities.Length"] + td')
    assert re.fullmatch(r"[\d.]+ m", length.inner_text()), length.inner_text()
    assert wall["highlighted"]
    # Closing the inspector clears the highlight.
    page.click("#inspectorClose")
    assert page.evaluate(WALL_COLOUR) == wall["colourBefore"]
    # Zoom to the model: it fills the view.
    page.evaluate("() => { window.__flown = false; const camera = cimtwin.viewer.camera;"
                  " const off = camera.moveEnd.addEventListener(() => { off(); window.__flown = true; }); }")
    page.click(f'[data-testid="zoom-tileset-{entry["id"]}"]')
    page.wait_for_function("window.__flown === true", timeout=60_000)
    xy = page.evaluate("([lon, lat, h]) => cimtwin.windowPositionOf(lon, lat, h)",
                       [lon, lat, entry["height"][0]])
    assert xy is not None and 0 < xy["x"] < 1280 and 0 < xy["y"] < 800, xy
    assert_clean(watch)


def _inside(ring: list[list[float]], x: float, y: float) -> bool:
    """Point in polygon (even-odd rule) for a lon/lat ring."""
    hit = False
    for (x0, y0), (x1, y1) in zip(ring, ring[1:]):
        if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
            hit = not hit
    return hit


def _site(server_url: str, entry: dict) -> dict:
    """The project feature whose lot holds the BIM model."""
    layer = collections(server_url)["projects"]["id"]
    lon, lat = centre_of(entry)
    sites = [f for f in items(server_url, layer) if f["geometry"]["type"] == "Polygon"
             and _inside(f["geometry"]["coordinates"][0], lon, lat)]
    assert sites, "the BIM model stands in a project area"
    return sites[0]


#: JS: find a wall among the BIM model's loaded features, inspect it as a click would, and
#: report its class, the raw names of the property sets shown, and its highlight.
INSPECT_WALL = """async (id) => {
  const ts = cimtwin.tilesets.get(id); let wall = null;
  const visit = (tile) => {
    const c = tile.contentReady ? tile.content : null;
    for (let i = 0; c && !wall && i < c.featuresLength; i++) {
      const f = c.getFeature(i);
      if (String(f.getProperty("IfcClass")).startsWith("IfcWall")) wall = f;
    }
    tile.children.forEach(visit);
  };
  visit(ts.root);
  window.__wall = wall;
  const colourBefore = wall.color.toCssHexString();
  await cimtwin.inspectFeature(wall);
  const sets = [...document.querySelectorAll('#inspectorBody th')].slice(1).map((th) => th.title);
  return {cls: wall.getProperty("IfcClass"), sets, colourBefore,
          highlighted: wall.color.toCssHexString() !== colourBefore}; }"""
WALL_COLOUR = "() => window.__wall.color.toCssHexString()"


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


def test_storey_isolation_class_hiding_and_xray(admin_viewer, server_url, tokens):
    page, watch = admin_viewer
    entry = bim_entry(server_url, tokens["admin"])
    lon, lat = centre_of(entry)
    bottom, top = entry["height"]
    show_only_models(page)
    look_down(page, lon, lat, top + 150)
    roof = pick(page, lon, lat, top)
    storeys = page.locator("#bimStorey option").evaluate_all("(os) => os.map((o) => o.value)")
    lower = [s for s in storeys if s and s != roof["properties"]["Storey"]]
    assert lower, f"the model has several storeys: {storeys}"
    # Isolate another storey: what is under the same pixel now belongs to that storey.
    page.select_option("#bimStorey", lower[0])
    look_down(page, lon, lat, top + 150)
    below = pick(page, lon, lat, top)
    assert below is not None and below["properties"]["Storey"] == lower[0], below
    # Hide that element's class: the same pixel no longer picks that class.
    hidden = below["properties"]["IfcClass"]
    page.locator(f'[data-testid="class-{hidden}"]').uncheck()
    look_down(page, lon, lat, top + 150)
    again = pick(page, lon, lat, top)
    assert again is None or again["properties"].get("IfcClass") != hidden, again
    # X-ray: the other storeys come back translucent; the isolated storey stays solid.
    page.check("#bimXray")
    looks = page.evaluate(FEATURE_LOOKS, entry["id"])
    focus = [x for x in looks if x["storey"] == lower[0] and x["cls"] != hidden]
    rest = [x for x in looks if x["storey"] != lower[0] and x["cls"] != hidden]
    assert focus and rest
    assert all(x["show"] and x["alpha"] == 1.0 for x in focus)
    assert all(x["show"] and x["alpha"] < 0.5 for x in rest)
    assert all(not x["show"] for x in looks if x["cls"] == hidden)
    # The element tree: storeys with their element counts as the server has them; a storey
    # click isolates it, a second click shows every storey again.
    tree = requests.get(f"{server_url}/api/bim/{entry['id']}/tree", timeout=10,
                        headers={"Authorization": f"Bearer {tokens['admin']}"}).json()["storeys"]
    rows = page.locator("#bimTree summary").all_inner_texts()
    assert [r.split("(")[-1] for r in rows] == [f"{s['elements']})" for s in tree], rows
    top_storey = roof["properties"]["Storey"]
    state = "(id) => cimtwin.bimState(id).storey"
    page.click(f'[data-testid="tree-storey-{top_storey}"]')
    assert page.evaluate(state, entry["id"]) == top_storey
    assert page.locator("#bimStorey").input_value() == top_storey
    page.click(f'[data-testid="tree-storey-{top_storey}"]')
    assert page.evaluate(state, entry["id"]) is None
    page.locator(f'[data-testid="class-{hidden}"]').check()
    page.uncheck("#bimXray")
    # Time: on the timeline, the model is not there before its project starts, translucent
    # while it is built, as built at the end ("now").
    site = _site(server_url, entry)["properties"]
    start = site["start_date"][:10]
    days = page.evaluate("cimtwin.timeline.milestones.map((m) => m.date)")
    page.locator("#timelineSlider").fill(str(days.index(start)))
    assert page.locator("#asOfDate").input_value() == start
    looks = page.evaluate(FEATURE_LOOKS, entry["id"])
    assert looks and all(x["show"] and x["alpha"] < 0.5 for x in looks)
    caption = page.locator("#timelineCaption").inner_text()
    assert start in caption and f"{site['name']} 在建" in caption, caption
    page.locator("#timelineSlider").fill(str(days.index(start) - 1))
    assert not any(x["show"] for x in page.evaluate(FEATURE_LOOKS, entry["id"]))
    page.click("#timelinePlay")  # playback walks the milestones, one step at a time
    page.wait_for_function("(d) => document.querySelector('#asOfDate').value > d", arg=start,
                           timeout=30_000)
    page.click("#timelinePlay")
    page.locator("#timelineSlider").fill(str(len(days)))
    assert page.locator("#asOfDate").input_value() == ""
    assert page.evaluate("(id) => cimtwin.bimState(id).phase", entry["id"]) is None
    assert_clean(watch)
