"""Officials and planners with construction projects in a real browser: the project card,
a stage edit through OGC API Part 4 that recolours the project for the editor and, once
it asks the server, for another user; the stage filter."""
from __future__ import annotations

import pytest
import requests

from browser_views import assert_clean, centroid, collections, items, look_down, pick

pytestmark = [pytest.mark.browser, pytest.mark.slow]

UNDER_CONSTRUCTION = "#ff7a2f"  # layers.js STAGE_COLOURS.under_construction
COLOUR_OF = """([layer, fid]) => {
  const entities = cimtwin.app.layers.get(layer).source.entities.values;
  const e = entities.find((x) => x.cimtwin.featureId === fid);
  return { colour: e.polygon.material.color.getValue().toCssHexString().slice(0, 7), show: e.show };
}"""


def _approved_project(server_url: str) -> tuple[str, dict]:
    layer = collections(server_url)["projects"]["id"]
    feature = next(f for f in items(server_url, layer) if f["properties"]["stage"] == "approved")
    return layer, feature


def _patch_stage(server_url, layer, fid, stage, token):
    response = requests.patch(f"{server_url}/ogc/collections/{layer}/items/{fid}",
                              json={"properties": {"stage": stage}}, timeout=10,
                              headers={"Authorization": f"Bearer {token}"})
    response.raise_for_status()


def test_official_edits_a_stage_in_the_card_and_everyone_sees_it(admin_viewer, viewer,
                                                                  server_url, tokens):
    page, watch = admin_viewer
    other, other_watch = viewer
    other.evaluate("cimtwin.setProjectPolling(false)")  # it asks when the test says so
    layer, feature = _approved_project(server_url)
    fid = feature["id"]
    lon, lat = centroid(feature["geometry"]["coordinates"][0] if feature["geometry"]["type"] ==
                        "Polygon" else feature["geometry"]["coordinates"][0][0])
    look_down(page, lon, lat, 500)
    picked = pick(page, lon, lat, 0)
    assert picked["kind"] == "projects" and picked["featureId"] == fid
    card = page.locator("#projectCard")
    assert card.is_visible() and feature["properties"]["name"] in card.inner_text()
    assert "审批" in card.inner_text() and "计划" in card.inner_text()  # milestones, in Chinese
    try:
        page.select_option("#projectStage", "under_construction")
        page.wait_for_function("!document.getElementById('projectMessage').textContent"
                               ".startsWith('正在保存')", timeout=120_000)
        assert page.locator("#projectMessage").inner_text().startswith("已保存")
        assert page.evaluate(COLOUR_OF, [layer, fid])["colour"] == UNDER_CONSTRUCTION
        served = requests.get(f"{server_url}/ogc/collections/{layer}/items/{fid}", timeout=10)
        assert served.json()["properties"]["stage"] == "under_construction"
        # Another user's viewer, loaded before the edit, picks it up from the server.
        assert other.evaluate(COLOUR_OF, [layer, fid])["colour"] != UNDER_CONSTRUCTION
        assert other.evaluate("cimtwin.refreshProjects()") >= 1
        assert other.evaluate(COLOUR_OF, [layer, fid])["colour"] == UNDER_CONSTRUCTION
        # The stage filter hides projects of an unticked stage.
        other.locator('[data-testid="stage-under_construction"]').uncheck()
        assert other.evaluate(COLOUR_OF, [layer, fid])["show"] is False
        other.locator('[data-testid="stage-under_construction"]').check()
        assert other.evaluate(COLOUR_OF, [layer, fid])["show"] is True
        assert_clean(other_watch)
    finally:
        _patch_stage(server_url, layer, fid, "approved", tokens["admin"])
    assert_clean(watch)


def test_a_viewer_without_write_rights_is_refused_and_keeps_the_stage(viewer, server_url):
    page, watch = viewer
    layer, feature = _approved_project(server_url)
    result = page.evaluate("""async ([layer, fid]) => {
      const { patchItem } = await import('/viewer/js/api.js');
      return patchItem(layer, fid, { stage: 'completed' });
    }""", [layer, feature["id"]])
    assert result["ok"] is False
    served = requests.get(f"{server_url}/ogc/collections/{layer}/items/{feature['id']}", timeout=10)
    assert served.json()["properties"]["stage"] == "approved"
