"""The real OSGB production in the real viewer: every tile loads, the picture is not
blank, and a construction project's polygon cuts the reality mesh when toggled.

Own data dir: the shared production imported as a public reality tileset, plus a
projects layer with one polygon over the middle of it.
"""
from __future__ import annotations

import json

import pytest

from browser_harness import open_viewer, pixel_spread, running_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def photo_site(tmp_path_factory, shared_data_module):
    from server.config import load_config
    from server.reality_imports import import_photo
    from server.services import open_services
    from layers.importer import import_layer
    data_dir = tmp_path_factory.mktemp("photo-data")
    services = open_services(load_config({"data": {"dir": str(data_dir)}}))
    try:
        summary = import_photo(services, shared_data_module(
            "photogrammetry", "cc_osgb_production5"), classification="public",
            tileset_id="zhongshan")
        west, south, east, north = summary["bounds"]
        lon, lat = (west + east) / 2, (south + north) / 2
        d = 0.00025  # about 25 m: a building plot in the middle of the mesh
        ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d],
                [lon - d, lat + d], [lon - d, lat - d]]
        layer = tmp_path_factory.mktemp("layer") / "projects.geojson"
        layer.write_text(json.dumps({"type": "FeatureCollection", "features": [{
            "type": "Feature", "id": "plot-1",
            "properties": {"name": "新建项目", "stage": "under_construction"},
            "geometry": {"type": "Polygon", "coordinates": [ring]}}]}))
        import_layer(services.layers, layer, layer_id="projects", title="建设项目",
                     kind="projects", classification="public")
    finally:
        services.close()
    return data_dir, (lon, lat)


@pytest.fixture(scope="module")
def shared_data_module():
    from tests.conftest import require_shared_data
    return require_shared_data


@pytest.fixture(scope="module")
def photo_page(browser, photo_site, tmp_path_factory):
    data_dir, centre = photo_site
    with running_server(data_dir, tmp_path_factory.mktemp("photo-log")) as url:
        page, watch = open_viewer(browser, url)
        bad = []
        page.on("response", lambda r: r.status >= 400 and bad.append(f"{r.status} {r.url}"))
        yield page, watch, bad, centre
        page.close()


def _settle(page, timeout_ms: int = 300_000) -> None:
    """Wait on Cesium: the reality tileset has every tile the view needs, 3 frames running
    (the globe is not waited for: its imagery is not what is tested here)."""
    page.evaluate("""() => { window.__photoSettled = false; let calm = 0;
        const v = cimtwin.viewer, ts = cimtwin.tilesets.get("zhongshan");
        const remove = v.scene.postRender.addEventListener(() => {
            calm = ts.tilesLoaded ? calm + 1 : 0;
            // the viewer renders on demand: ask for each frame that is counted
            if (calm >= 3) { remove(); window.__photoSettled = true; } else v.scene.requestRender(); });
        v.scene.requestRender(); }""")
    page.wait_for_function("window.__photoSettled === true", timeout=timeout_ms, polling=250)


def _reality_hit(page, centre) -> bool:
    """Whether the reality tileset is under the project's centre on screen."""
    return page.evaluate("""([lon, lat]) => {
        const v = cimtwin.viewer, ts = cimtwin.tilesets.get("zhongshan");
        const xy = cimtwin.windowPositionOf(lon, lat, 20);
        return v.scene.drillPick(xy, 20).some((hit) => hit.primitive === ts ||
            (hit.tileset && hit.tileset === ts) || (hit.content && hit.content.tileset === ts));
    }""", list(centre))


def test_textured_production_loads_without_failures_and_clips(photo_page, tmp_path):
    page, watch, bad, centre = photo_page
    assert page.evaluate("cimtwin.errors") == [], (bad, watch.console_errors, watch.failed_requests)
    page.evaluate("([lon, lat]) => cimtwin.lookDownAt(lon, lat, 350)", list(centre))
    _settle(page)
    stats = page.evaluate("cimtwin.stats")
    assert stats["tileFailed"] == 0 and not stats["tilesetsFailed"], stats
    assert stats["tilesLoaded"] > 1
    assert not watch.page_errors and not bad and not watch.foreign_requests()
    shot = tmp_path / "photo.png"
    page.screenshot(path=str(shot), timeout=180_000)
    assert pixel_spread(shot) > 10  # a photographed scene, not a blank canvas
    assert _reality_hit(page, centre)
    assert page.evaluate("document.getElementById('clipPanel').hidden") is False
    projects = page.evaluate("cimtwin.app.clipProjects.map((p) => [p.id, p.name])")
    assert [name for _, name in projects] == ["新建项目"]
    toggle = page.locator(f"[data-test='clip-{projects[0][0]}']")
    assert toggle.is_visible()
    # a user's click; dispatched, as the panel's other sections keep re-laying out
    toggle.dispatch_event("click")
    _settle(page)
    assert page.evaluate("cimtwin.app.clipping.clippedIds()") == [projects[0][0]]
    assert not _reality_hit(page, centre)  # the mesh is cut where the project is
    page.screenshot(path=str(tmp_path / "clipped.png"), timeout=180_000)
    toggle.dispatch_event("click")
    _settle(page)
    assert _reality_hit(page, centre)  # and back when the toggle is off
    assert not watch.page_errors and not bad
