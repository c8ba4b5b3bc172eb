"""The viewer's own rules, run in the real browser on an empty data dir: it starts
cleanly with nothing to show, groups BIM properties by property set, builds X-ray /
isolation styles Cesium accepts (even for names with quotes), and reads the metric
shapes the server sends."""
from __future__ import annotations

import pytest

from browser_harness import open_viewer, running_server
from browser_views import assert_clean

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def empty_viewer(browser, tmp_path_factory):
    """(page, watch) of the viewer over a fresh, empty data dir."""
    data_dir = tmp_path_factory.mktemp("empty-data")
    with running_server(data_dir, tmp_path_factory.mktemp("empty-log")) as url:
        page, watch = open_viewer(browser, url)
        yield page, watch
        page.close()


def test_empty_server_shows_a_message_and_no_error(empty_viewer):
    page, watch = empty_viewer
    assert page.evaluate("cimtwin.errors") == []
    assert page.locator("#status").inner_text() == "暂无三维模型"
    assert page.locator("#tilesetList").inner_text().strip() == "无"
    assert page.locator("#bimPanel").is_hidden()
    assert_clean(watch)


def test_inspector_groups_properties_by_property_set(empty_viewer):
    page, _ = empty_viewer
    groups = page.evaluate("""async () => {
        const { groupProperties } = await import('/viewer/js/inspector.js');
        return groupProperties({"Qto_WallBaseQuantities.Length": 5.2, "GlobalId": "2O2Fr$t4X7Zf8NOew3FLOH",
                                "Pset_WallCommon.IsExternal": true, "IfcClass": "IfcWall"}); }""")
    assert [g[0] for g in groups] == ["", "Pset_WallCommon", "Qto_WallBaseQuantities"]
    assert dict(groups[0][1]) == {"GlobalId": "2O2Fr$t4X7Zf8NOew3FLOH", "IfcClass": "IfcWall"}
    assert groups[1][1] == [["IsExternal", True]]


#: JS: evaluate the BIM style for a state on fake features; returns [show, alpha] each.
STYLE_ON = """async ([state, features]) => {
    const bim = await import('/viewer/js/bim.js');
    const s = Object.assign(bim.createBimState(), state, {hiddenClasses: new Set(state.hiddenClasses || [])});
    const json = bim.styleJsonFor(s);
    if (!json) return null;
    const style = new Cesium.Cesium3DTileStyle(json);
    return features.map((props) => {
        const f = {getProperty: (n) => props[n], getPropertyInherited: (n) => props[n], hasProperty: (n) => n in props};
        return [style.show.evaluate(f), style.color ? style.color.evaluateColor(f).alpha : 1];
    });
}"""

FEATURES = [
    {"Storey": "1F O'Neil \\\\ lobby", "IfcClass": "IfcWall", "GlobalId": "a"},
    {"Storey": "2F", "IfcClass": "IfcWall", "GlobalId": "b"},
    {"Storey": "2F", "IfcClass": "IfcSlab", "GlobalId": "c"},
]


def test_bim_styles_isolate_hide_and_xray(empty_viewer):
    page, _ = empty_viewer
    assert page.evaluate(STYLE_ON, [{}, FEATURES]) is None  # untouched model: no style
    isolate = page.evaluate(STYLE_ON, [{"storey": FEATURES[0]["Storey"]}, FEATURES])
    assert [show for show, _ in isolate] == [True, False, False]
    hide = page.evaluate(STYLE_ON, [{"hiddenClasses": ["IfcSlab"]}, FEATURES])
    assert [show for show, _ in hide] == [True, True, False]
    xray = page.evaluate(STYLE_ON, [{"storey": "2F", "xray": True, "focusGlobalId": "a"}, FEATURES])
    assert [show for show, _ in xray] == [True, True, True]
    assert [alpha for _, alpha in xray] == [1.0, 1.0, 1.0]  # storey 2F and element a in focus
    xray_element = page.evaluate(STYLE_ON, [{"xray": True, "focusGlobalId": "b"}, FEATURES])
    assert xray_element[1][1] == 1.0 and xray_element[0][1] < 0.5 and xray_element[2][1] < 0.5


def test_metric_shapes_from_server_are_understood(empty_viewer):
    page, _ = empty_viewer
    result = page.evaluate("""async () => {
        const m = await import('/viewer/js/metrics.js');
        return {
          list: m.observationsFrom([{sensor_id: "S1", metric: "pm25", value: 80, unit: "µg/m³",
                                     time: "2025-06-01T08:00:00Z", alarm: false, level: "warning"}]),
          wrapped: m.observationsFrom({observations: [{sensor_id: "S2", metric: "noise_db", value: 90, level: "alarm"}]}),
          history: m.historyFrom({sensor: "S1", metric: "pm25", observations: [{time: "2025-06-01T08:00:00Z", value: 12}]}, "S1", "pm25"),
          junk: m.observationsFrom([{value: 1}, null, "x"]),
        }; }""")
    assert result["list"][0]["level"] == "warning" and result["list"][0]["alarm"] is False
    assert result["wrapped"][0]["alarm"] is True and result["wrapped"][0]["sensor_id"] == "S2"
    # docs/metrics.md: a datastream's id defaults to "<sensor id>:<metric>"; history rows
    # carry no quality flag, so they read as good.
    assert result["history"] == [{"sensor_id": "S1", "metric": "pm25", "datastream": "S1:pm25",
                                  "value": 12, "unit": "", "time": "2025-06-01T08:00:00Z",
                                  "quality": "good", "alarm": False, "level": "normal"}]
    assert result["junk"] == []


def test_bilingual_titles_follow_the_language(empty_viewer):
    page, _ = empty_viewer
    titles = ["历下CBD建筑白模（演示） Lixia CBD buildings", "CBD智慧城市运营中心 BIM", "demo"]
    picked = page.evaluate("""async (titles) => {
        const i18n = await import('/viewer/js/i18n.js');
        const zh = titles.map(i18n.pickLanguage);
        i18n.setLanguage('en'); const en = titles.map(i18n.pickLanguage); i18n.setLanguage('zh');
        return {zh, en}; }""", titles)
    assert picked["zh"] == ["历下CBD建筑白模（演示）", "CBD智慧城市运营中心 BIM", "demo"]
    assert picked["en"] == ["Lixia CBD buildings", "CBD智慧城市运营中心 BIM", "demo"]


def test_a_linked_view_is_restored_on_load(empty_viewer, browser):
    base = empty_viewer[0].url.split("#")[0].rstrip("/")
    page, watch = open_viewer(browser, base, fragment="#cam=117.05,36.61,4321,30,-60,0&date=2021-06-01")
    try:
        camera = page.evaluate("""() => { const c = cimtwin.viewer.camera; const p = c.positionCartographic;
            const d = 180 / Math.PI;
            return [p.longitude * d, p.latitude * d, p.height, c.heading * d, c.pitch * d]; }""")
        assert camera == pytest.approx([117.05, 36.61, 4321, 30, -60], abs=1e-2), camera
        assert page.locator("#asOfDate").input_value() == "2021-06-01"
        assert "cam=117.05" in page.evaluate("location.hash")
        assert_clean(watch)
    finally:
        page.close()
