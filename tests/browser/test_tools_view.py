"""Sight lines, viewshed, screenshot and skyline in the real viewer, against answers
computed here: rays against the demo's buildings as prisms, the camera's own geometry
for the scale bar and north arrow, the model's projected top for the skyline."""
from __future__ import annotations

import io
import math

import numpy as np
import pytest
import tools_oracle as oracle
from browser_harness import wait_for_view
from browser_views import look_down
from PIL import Image
from shapely.geometry import Polygon
from test_tools import (
    GEOD,
    assert_strict,
    bim_entry,
    centroid_top,
    load_buildings,
    open_tools_page,
    rectangles,
    tool,
)

# Software WebGL on a shared 2-core machine: a test (and the session's demo build before
# the first) can take longer than the suite's default 900 s hang guard.
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(2400)]


@pytest.fixture(scope="module")
def tools_page(browser, server_url):
    yield from open_tools_page(browser, server_url)


@pytest.fixture(scope="module")
def buildings(server_url):
    return load_buildings(server_url)


def grid_point(lon, lat, h):
    x, y = oracle.to_grid(lon, lat)
    return np.array([x, y, h])


def clearance_to(all_prisms, eye, lon, lat, h):
    """Clearance of the segment from the eye to a surface point over every building but
    the one the point lies on (whose roof the segment ends on)."""
    end = grid_point(lon, lat, h)
    from shapely.geometry import Point
    others = [p for p in all_prisms if not p.footprint.buffer(0.5).contains(Point(end[:2]))]
    return oracle.blocked(others, eye, end)


#: The observer's eye above the roof it stands on (a viewpoint on a mast: from 1.6 m
#: the roof's own edge hides everything lower nearby).
EYE_M = 30.0


def sight_setup(features, all_prisms):
    """An observer roof, a target roof hidden from it (behind walls or its own roof edge,
    by 5 m or more) and a lower roof in the open (3 m clear of every building)."""
    rects = rectangles(features)
    for low in sorted(rects, key=lambda f: -f["properties"]["height_m"])[10:]:
        lon, lat, top = centroid_top(low)
        eye = grid_point(lon, lat, top + EYE_M)
        hidden = open_ = None
        for other in rects:
            olon, olat, otop = centroid_top(other)
            dist = GEOD.inv(lon, lat, olon, olat)[2]
            if other is low or not 60 < dist < 250:
                continue
            clearance = clearance_to(all_prisms, eye, olon, olat, otop + 0.05)
            if clearance < -5 and hidden is None:
                hidden = (olon, olat, otop)
            if clearance > 3 and otop < top and open_ is None:
                open_ = (olon, olat, otop)
        if hidden and open_:
            return (lon, lat, top), hidden, open_
    raise AssertionError("no observer with a hidden and an open target in the demo")


def test_sight_lines_and_viewshed_against_the_buildings(tools_page, buildings):
    page, watch = tools_page
    features, all_prisms = buildings
    (lon, lat, top), hidden, open_ = sight_setup(features, all_prisms)
    look_down(page, lon, lat, top + 700)
    page.evaluate("cimtwin.tools.activate('sightline')")
    tool(page, "sightline", "setEyeHeight", EYE_M)
    xy = page.evaluate("([lon, lat, h]) => cimtwin.windowPositionOf(lon, lat, h)", [lon, lat, top])
    tool(page, "sightline", "clickAt", xy["x"], xy["y"])
    tool(page, "sightline", "mode", "target")
    for target in (hidden, open_):
        txy = page.evaluate("([lon, lat, h]) => cimtwin.windowPositionOf(lon, lat, h)",
                            list(target))
        tool(page, "sightline", "clickAt", txy["x"], txy["y"])
    targets = tool(page, "sightline", "targets")
    assert [t["visible"] for t in targets] == [False, True], targets
    assert "被遮挡" in page.locator("#toolPanel .targets").inner_text()
    # Viewshed: each sample's verdict against the prisms (from the eye above the roof).
    eye = page.evaluate("cimtwin.tools.get('sightline').observer()")
    e = grid_point(eye["lon"], eye["lat"], eye["height"])
    result = tool(page, "sightline", "viewshed", 180, 90, 250)
    assert result["samples"] > 50 and 0 < result["share"] < 1, result["samples"]
    agree = total = 0
    for verdict, points in ((True, result["visible"]), (False, result["blocked"])):
        for p in points:
            clearance = clearance_to(all_prisms, e, p["lon"], p["lat"], p["height"])
            if abs(clearance) < 2 or math.isinf(clearance) and not verdict:
                continue  # grazing rays and terrain hills: not decidable from prisms alone
            total += 1
            agree += (clearance > 0) == verdict
    print(f"\nviewshed: {result['samples']} samples, {result['share']:.0%} visible; "
          f"{agree}/{total} decidable samples agree with the prisms")
    assert total > 20 and agree / total >= 0.9
    page.evaluate("cimtwin.tools.activate(null)")
    assert_strict(watch)


def png(download) -> Image.Image:
    with open(download.path(), "rb") as fh:
        return Image.open(io.BytesIO(fh.read())).convert("RGB")


def test_screenshot_scale_bar_north_arrow_and_date(tools_page, buildings):
    page, watch = tools_page
    features, _ = buildings
    # The widest roof: both scale points (50 px either side of the centre) land on it.
    b = max(rectangles(features), key=lambda f: Polygon(f["geometry"]["coordinates"][0])
            .minimum_rotated_rectangle.exterior.length)
    lon, lat, top = centroid_top(b)
    distance = 300.0
    look_down(page, lon, lat, top + distance)
    page.evaluate("cimtwin.tools.activate('screenshot')")
    with page.expect_download(timeout=300_000) as info:
        facts = tool(page, "screenshot", "run")
    image = png(info.value)
    assert image.size == (facts["width"], facts["height"])
    fovy = page.evaluate("cimtwin.viewer.camera.frustum.fovy")
    height_px = page.evaluate("cimtwin.viewer.scene.canvas.clientHeight")
    expected = 2 * distance * math.tan(fovy / 2) / height_px  # metres per pixel, looking down
    assert facts["metresPerPixel"] == pytest.approx(expected, rel=0.02)
    assert facts["bar"]["pixels"] * facts["metresPerPixel"] == pytest.approx(facts["bar"]["metres"])
    assert abs(facts["northAngleDeg"]) < 1.0  # heading 0: north is up
    red = np.array(image)[20:110, facts["width"] - 100:]
    assert ((red[..., 0] > 200) & (red[..., 1] < 90)).sum() > 100  # the arrow is drawn
    assert len(facts["date"]) == 16 and info.value.suggested_filename.endswith(".png")
    page.evaluate("""([lon, lat, h]) => cimtwin.viewer.camera.setView({destination:
        cimtwin.Cesium.Cartesian3.fromDegrees(lon, lat, h), orientation: {heading:
        cimtwin.Cesium.Math.toRadians(90), pitch: -cimtwin.Cesium.Math.PI_OVER_TWO, roll: 0}})""",
                  [lon, lat, top + distance])
    with page.expect_download(timeout=300_000):
        turned = tool(page, "screenshot", "run")
    assert turned["northAngleDeg"] == pytest.approx(-90, abs=2)  # facing east: north is left
    page.evaluate("cimtwin.tools.activate(null)")
    assert_strict(watch)


def open_view_south_of(all_prisms, lon, lat, base, top):
    """A camera spot south of the model, 10 m above its base, with a clear line to it."""
    for metres in (80, 100, 120, 150, 180):
        cam = (lon, lat - metres / 111_320)
        eye = grid_point(*cam, base + 10)
        for corner in ((-20, 0), (0, 0), (20, 0)):
            aim = grid_point(lon, lat, top) + np.array([*corner, 0.0])
            if oracle.blocked(all_prisms, eye, aim) < 2:
                break
        else:
            return cam
    raise AssertionError("no clear view of the model from the south")


def test_skyline_with_and_without_the_model(tools_page, server_url, buildings):
    page, watch = tools_page
    entry = bim_entry(server_url)
    w, s, e, n = entry["bounds"]
    lon, lat = (w + e) / 2, (s + n) / 2
    base, top = entry["height"]
    cam = open_view_south_of(buildings[1], lon, lat, base, top)
    page.evaluate("""([lon, lat, h]) => cimtwin.viewer.camera.setView({destination:
        cimtwin.Cesium.Cartesian3.fromDegrees(lon, lat, h), orientation: {heading: 0,
        pitch: cimtwin.Cesium.Math.toRadians(3), roll: 0}})""", [*cam, base + 10])
    wait_for_view(page, timeout_ms=1_200_000)  # a horizontal view loads many far tiles
    page.evaluate("cimtwin.tools.activate('skyline')")
    with page.expect_download(timeout=300_000) as info:
        result = tool(page, "skyline", "run", entry["id"], 4)
    assert png(info.value).size[0] >= 1280
    corners = [page.evaluate("([lon, lat, h]) => cimtwin.windowPositionOf(lon, lat, h)",
                             [x, y, top]) for x in (w, e) for y in (s, n)]
    left, right = (int(min(c["x"] for c in corners)) // 4, int(max(c["x"] for c in corners)) // 4)
    rise = np.array(result["without"]) - np.array(result["with"])
    print(f"\nskyline: model spans columns {left * 4}-{right * 4} px, "
          f"max rise {result['maxRisePx']} px")
    assert 0 < left < right < len(rise) - 1  # the whole model is in view
    lowest_top = max(c["y"] for c in corners)  # rows grow downwards
    quarter = (right - left) // 4  # the box is wider than the rotated model at its ends
    inner = result["with"][left + quarter:right - quarter]
    assert max(inner) <= lowest_top + 4  # over the model the skyline is at or above its top
    assert rise[left:right + 1].max() > 10  # the model raises the skyline over its span
    assert (rise[:max(0, left - 2)] == 0).all() and (rise[right + 3:] == 0).all()  # only there
    page.evaluate("cimtwin.tools.activate(null)")
    assert_strict(watch)
