"""The analysis tools driven in the real viewer (admin token: the demo's BIM model too),
each result checked against an answer computed here without the viewer: distances with
pyproj's geodesic, Gauss-Kruger with pyproj, sunlit hours with NOAA's sun position and
the buildings as prisms, sight lines against the prisms, the height check against
ifcopenshell's meshing of the demo IFC. Any page error, console error or warning, failed
request or HTTP response >= 400 fails the test."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import tools_oracle as oracle
from browser_harness import ADMIN_TOKEN, PageWatch, slow_machine_timeouts, wait_for_view
from browser_views import (
    assert_clean,
    catalog,
    collections,
    items,
    look_down,
)
from pyproj import Geod
from shapely.geometry import Polygon

# Software WebGL on a shared 2-core machine: a test (and the session's demo build before
# the first) can take longer than the suite's default 900 s hang guard. Buttons are
# clicked with force=True: Playwright's "stable" check needs animation frames, which the
# page draws only every few seconds there (the click is still a real mouse click).
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(2400)]
GEOD = Geod(ellps="WGS84")


class StrictWatch(PageWatch):
    """PageWatch that also records HTTP errors and the warnings the viewer turns API
    failures into ("cimtwin: <url> answered 404", api.js and tools/requests.js)."""

    def __init__(self, page, base_url):
        super().__init__(page, base_url)
        self.http_errors: list[str] = []
        self.warnings: list[str] = []
        page.on("response", lambda r: r.status >= 400
                and self.http_errors.append(f"{r.status} {r.url}"))
        page.on("console", lambda m: m.type == "warning" and m.text.startswith("cimtwin")
                and self.warnings.append(m.text))


def assert_strict(watch: StrictWatch) -> None:
    assert_clean(watch)
    assert watch.http_errors == [], watch.http_errors
    assert watch.warnings == [], watch.warnings


def open_tools_page(browser, server_url):
    """A viewer page with the admin token and a StrictWatch, ready (generator: closes)."""
    page = browser.new_page(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    slow_machine_timeouts(page)
    watch = StrictWatch(page, server_url)
    page.goto(f"{server_url}/#token={ADMIN_TOKEN}")
    page.wait_for_function("window.cimtwin && (cimtwin.ready || cimtwin.errors.length > 0)",
                           timeout=180_000)
    assert page.evaluate("cimtwin.errors") == []
    yield page, watch
    page.close()


def load_buildings(server_url):
    """The buildings layer's features and the same buildings as prisms."""
    features = items(server_url, collections(server_url)["buildings"]["id"])
    return features, oracle.prisms(features)


@pytest.fixture(scope="module")
def tools_page(browser, server_url):
    yield from open_tools_page(browser, server_url)


@pytest.fixture(scope="module")
def buildings(server_url):
    return load_buildings(server_url)


def centroid_top(feature) -> tuple[float, float, float]:
    """The footprint's centroid (lon/lat) and roof height of a demo building."""
    c = Polygon(feature["geometry"]["coordinates"][0]).centroid
    p = feature["properties"]
    return c.x, c.y, p["ground_m"] + p["height_m"]


def rectangles(features):
    return [f for f in features if f["geometry"]["type"] == "Polygon"
            and len(f["geometry"]["coordinates"][0]) == 5]


def click(page, lon, lat, h):
    """A real mouse click where lon/lat/h appears on screen."""
    xy = page.evaluate("([lon, lat, h]) => cimtwin.windowPositionOf(lon, lat, h)", [lon, lat, h])
    assert xy is not None and 0 <= xy["x"] < 1280 and 0 <= xy["y"] < 800, xy
    page.mouse.click(xy["x"], xy["y"])


def tool(page, name: str, call: str, *args):
    return page.evaluate(f"(args) => cimtwin.tools.get('{name}').{call}(...args)", list(args))


def test_measure_distance_point_polyline_and_area(tools_page, buildings):
    page, watch = tools_page
    features, _ = buildings
    rects = sorted(rectangles(features), key=lambda f: -f["properties"]["height_m"])
    a = rects[0]
    ax, ay, at = centroid_top(a)
    b = min(rects[1:], key=lambda f: abs(GEOD.inv(ax, ay, *centroid_top(f)[:2])[2] - 150))
    bx, by, bt = centroid_top(b)
    look_down(page, (ax + bx) / 2, (ay + by) / 2, max(at, bt) + 450)
    page.evaluate("cimtwin.tools.activate('measure')")
    click(page, ax, ay, at)
    click(page, bx, by, bt)
    result = tool(page, "measure", "result")
    horizontal = GEOD.inv(ax, ay, bx, by)[2]
    assert result["horizontal_m"] == pytest.approx(horizontal, rel=0.01)
    assert result["slant_m"] == pytest.approx(math.hypot(horizontal, bt - at), rel=0.01)
    assert result["dh_m"] == pytest.approx(bt - at, abs=0.5)
    # The panel shows it (Chinese first).
    assert "水平距离" in page.locator("#toolPanel").inner_text()

    tool(page, "measure", "setMode", "point")
    click(page, ax, ay, at)
    point = tool(page, "measure", "result")
    assert point["lon"] == pytest.approx(ax, abs=2e-5)
    assert point["lat"] == pytest.approx(ay, abs=2e-5)
    assert point["height_m"] == pytest.approx(at, abs=0.5)
    east, north = oracle.to_grid(point["lon"], point["lat"])
    assert point["gk"]["y"] == pytest.approx(east, abs=0.01)  # Y = easting (CGCS2000 GK)
    assert point["gk"]["x"] == pytest.approx(north, abs=0.01)

    tool(page, "measure", "setMode", "polyline")
    ring = a["geometry"]["coordinates"][0][:-1]
    inner = [(x + (ax - x) * 0.1, y + (ay - y) * 0.1) for x, y in ring]
    for x, y in inner[:3]:
        click(page, x, y, at)
    line = tool(page, "measure", "finish")
    legs = sum(GEOD.inv(*inner[i], *inner[i + 1])[2] for i in range(2))
    assert line["length_horizontal_m"] == pytest.approx(legs, rel=0.01)

    tool(page, "measure", "setMode", "area")
    for x, y in inner:
        click(page, x, y, at)
    area = tool(page, "measure", "finish")
    expected = Polygon([oracle.to_grid(x, y) for x, y in inner]).area
    assert area["planar_m2"] == pytest.approx(expected, rel=0.01)
    assert area["surface_m2"] == pytest.approx(expected, rel=0.02)  # a flat roof
    page.locator("#toolPanel .clear").click(force=True, timeout=180_000)
    assert tool(page, "measure", "result")["points"] == []
    page.evaluate("cimtwin.tools.activate(null)")
    assert_strict(watch)


def bim_entry(server_url):
    return next(e for e in catalog(server_url, ADMIN_TOKEN) if e["kind"] == "bim")


def demo_ifc_shapes(demo_data_dir):
    """ifcopenshell's own meshing of the demo IFC (world coordinates, OpenCASCADE)."""
    import ifcopenshell
    import ifcopenshell.geom
    data_dir, _ = demo_data_dir
    path = next((data_dir / "demo").glob("source-*/bim/*.ifc"))
    model = ifcopenshell.open(str(path))
    settings = ifcopenshell.geom.settings()
    settings.set("use-world-coords", True)
    skipped = [e for c in ("IfcSpace", "IfcOpeningElement") for e in model.by_type(c)]
    iterator = ifcopenshell.geom.iterator(settings, model, 1, exclude=skipped,
                                          geometry_library="opencascade")
    tops, low = {}, math.inf
    assert iterator.initialize()
    while True:
        shape = iterator.get()
        verts = np.array(shape.geometry.verts).reshape(-1, 3)
        if len(verts):
            tops[model.by_id(shape.id).GlobalId] = float(verts[:, 2].max())
            low = min(low, float(verts[:, 2].min()))
        if not iterator.next():
            return tops, low


def test_height_check_colours_the_elements_above_the_limit(tools_page, server_url, demo_data_dir):
    page, watch = tools_page
    tops, low = demo_ifc_shapes(demo_data_dir)
    heights = sorted({round(t - low, 3) for t in tops.values()})
    gaps = [(b - a, (a + b) / 2) for a, b in itertools.pairwise(heights)]
    limit = max(gaps[len(gaps) // 2:])[1]  # a gap in the upper half: some elements exceed
    expected = sorted(g for g, t in tops.items() if t - low > limit)
    entry = bim_entry(server_url)
    w, s, e, n = entry["bounds"]
    look_down(page, (w + e) / 2, (s + n) / 2, entry["height"][1] + 120)
    page.evaluate("cimtwin.tools.activate('heightcheck')")
    page.locator("#toolPanel .limit").fill(f"{limit:.3f}")
    page.locator("#toolPanel .run").click(force=True, timeout=180_000)
    page.wait_for_function("cimtwin.tools.get('heightcheck').result() !== null")
    result = tool(page, "heightcheck", "result")
    assert result["pass"] is False
    assert result["height_m"] == pytest.approx(max(tops.values()) - low, abs=0.02)
    assert sorted(x["GlobalId"] for x in result["exceeding"]) == expected
    wait_for_view(page)
    assert tool(page, "heightcheck", "redFeatures") == expected
    assert "超限" in page.locator("#toolPanel .verdict").inner_text()
    page.locator("#toolPanel .clear").click(force=True, timeout=180_000)  # the page renders slowly
    assert tool(page, "heightcheck", "redFeatures") == []
    page.evaluate("cimtwin.tools.activate(null)")
    assert_strict(watch)


def picked_storey(page, lon, lat, h):
    xy = page.evaluate("([lon, lat, h]) => cimtwin.windowPositionOf(lon, lat, h)", [lon, lat, h])
    picked = page.evaluate("([x, y]) => cimtwin.pickAt(x, y)", [xy["x"], xy["y"]])
    return picked and picked["properties"].get("Storey"), xy


def test_storey_cut_and_dragged_section(tools_page, server_url):
    page, watch = tools_page
    entry = bim_entry(server_url)
    w, s, e, n = entry["bounds"]
    lon, lat = (w + e) / 2, (s + n) / 2
    for box in page.locator('#gisList input[type="checkbox"]').all():
        # The site's sensor and project area lie over the building. force: the page
        # renders a frame every few seconds in software GL, too slow for "stable".
        box.set_checked(False, force=True, timeout=180_000)
    look_down(page, lon, lat, entry["height"][1] + 120)
    page.evaluate("cimtwin.tools.activate('section')")
    page.wait_for_function("cimtwin.tools.get('section').storeys().length > 1")
    storeys = tool(page, "section", "storeys")
    names = [x["name"] for x in storeys]
    top_storey, _ = picked_storey(page, lon, lat, entry["height"][1])
    assert top_storey == names[-1], (top_storey, names)  # the roof seen from above
    cut = tool(page, "section", "storeyCut", names[1])
    assert cut == pytest.approx(storeys[2]["bottom_local_m"] - 0.005)
    wait_for_view(page)
    seen, xy = picked_storey(page, lon, lat, entry["height"][1])
    assert seen in names[:2], (seen, names)  # storey 2 and below only
    # Drag the plane up by 60 px: the cut moves up.
    before = tool(page, "section", "offset")
    page.mouse.move(xy["x"], xy["y"])
    page.mouse.down()
    page.mouse.move(xy["x"], xy["y"] - 60, steps=6)
    page.mouse.up()
    after = tool(page, "section", "offset")
    assert after > before + 1.0
    page.evaluate("cimtwin.tools.activate(null)")
    top_again, _ = picked_storey(page, lon, lat, entry["height"][1])
    assert top_again == names[-1]  # closing the tool removes the cut
    assert_strict(watch)


def shaded_roof(features, all_prisms, day, window):
    """A low building's roof just north of a tall one, partly in its shadow that day."""
    rects = rectangles(features)
    for low in sorted(rects, key=lambda f: f["properties"]["height_m"]):
        lon, lat, top = centroid_top(low)
        for tall in rects:
            tlon, tlat, ttop = centroid_top(tall)
            az, _, dist = GEOD.inv(lon, lat, tlon, tlat)
            if 40 < dist < 160 and (az % 360) > 140 and (az % 360) < 220 and ttop > top + 30:
                hours, _, _ = oracle.sunlit_hours(all_prisms, lon, lat, top, day, window)
                if 1.0 < hours < window[1] - window[0] - 1.0:
                    return low, (lon, lat, top), hours
    raise AssertionError("no partly shaded roof in the demo district")


def test_sunlit_hours_against_the_sun_position(tools_page, buildings, server_url):
    page, watch = tools_page
    features, all_prisms = buildings
    page.evaluate("cimtwin.tools.activate('sun')")
    day = tool(page, "sun", "preset", "dahan")
    assert day[5:7] == "01" and 19 <= int(day[8:]) <= 21  # 大寒: 20 or 21 January
    window = (8, 16)
    building, (lon, lat, top), _ = shaded_roof(features, all_prisms, day, window)
    bim = bim_entry(server_url)["id"]
    page.evaluate(f"cimtwin.tilesets.get('{bim}').show = false")  # only the prisms shade
    look_down(page, lon, lat, top + 400)
    xy = page.evaluate("([lon, lat, h]) => cimtwin.windowPositionOf(lon, lat, h)", [lon, lat, top])
    result = tool(page, "sun", "analyseAt", xy["x"], xy["y"], 5)
    p = result["point"]
    assert p["height"] == pytest.approx(top, abs=0.5)
    expected, samples, start = oracle.sunlit_hours(all_prisms, p["lon"], p["lat"], p["height"],
                                                   day, window)
    print(f"\nsunlit hours on {day} at {building['properties']['name']}: viewer "
          f"{result['hours']:.2f} h, direct computation {expected:.2f} h")
    assert abs(np.datetime64(result["start_utc"][:19]) - np.datetime64(start.replace(tzinfo=None)))\
        <= np.timedelta64(60, "s")
    assert len(result["samples"]) == len(samples)
    for mine, theirs in zip(result["samples"], samples):
        assert mine["elevation"] == pytest.approx(theirs[1], abs=0.1)
    assert result["hours"] == pytest.approx(expected, abs=2 * 5 / 60)  # two 5-min samples
    assert "小时" in page.locator("#toolPanel .hours").inner_text()
    page.locator("#toolPanel .play").click(force=True, timeout=180_000)
    page.wait_for_function("cimtwin.tools.get('sun').clock().animating === true")
    clock = tool(page, "sun", "clock")
    assert clock["shadows"] is True and clock["start"].startswith(day)
    page.evaluate(f"cimtwin.tilesets.get('{bim}').show = true")
    page.evaluate("cimtwin.tools.activate(null)")
    assert_strict(watch)
