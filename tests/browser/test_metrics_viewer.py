"""The live-metrics view in the real browser: points coloured by value, stale values never
shown as live, buildings coloured by their energy sensor with a legend."""
from __future__ import annotations

import pytest
import requests
from browser_harness import INGEST_TOKEN, open_viewer, running_server
from browser_views import assert_clean

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: JS: a SensorLayer over one sensor with pm25 thresholds, fed a low then a high reading,
#: then the stream "lost", then a reading an hour old; the colours and label at each step.
SENSOR_STEPS = """async () => {
  const m = await import('/viewer/js/metrics.js');
  const layer = new m.SensorLayer(cimtwin.app.viewer, 'metrics-test');
  await layer.addSensors([{type: 'Feature', geometry: {type: 'Point', coordinates: [117.1, 36.6]},
                           properties: {sensor_id: 'S1', name: 'S1'}}]);
  layer.registry.set('S1:pm25', {sensor_id: 'S1', metric: 'pm25', sampling_s: 60,
                                 thresholds: {warning: 75, alarm: 150}});
  layer.connected = true;
  const at = (msAgo) => new Date(Date.now() - msAgo).toISOString();
  const reading = (value, msAgo) => ({sensor_id: 'S1', metric: 'pm25', datastream: 'S1:pm25',
                                      value, unit: 'µg/m³', time: at(msAgo), level: 'normal'});
  const out = {};
  layer.apply(reading(10, 2000)); out.low = layer.colourOf('S1');
  layer.apply(reading(145, 1000)); out.high = layer.colourOf('S1');
  layer.apply(reading(5, 60 * 60 * 1000)); out.lateIgnored = layer.latest.get('S1').pm25.value;
  layer.connected = false; layer.restyleAll();
  out.offline = layer.colourOf('S1');
  out.offlineLabel = layer.entities.get('S1').label.text.getValue();
  out.offlineAlarms = layer.alarms().length;
  layer.connected = true;
  layer.latest.clear(); layer.apply(reading(145, 60 * 60 * 1000)); out.old = layer.colourOf('S1');
  out.stale = m.STALE_COLOUR;
  cimtwin.app.viewer.dataSources.remove(layer.source);
  return out; }"""


@pytest.fixture(scope="module")
def empty_viewer(browser, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("metrics-empty")
    with running_server(data_dir, tmp_path_factory.mktemp("metrics-log")) as url:
        page, watch = open_viewer(browser, url)
        yield page, watch
        page.close()


def _hue(css: str) -> int:
    assert css.startswith("hsl("), css
    return int(css[4:].split(",")[0])


def test_points_follow_the_value_and_stale_values_are_never_live(empty_viewer):
    page, watch = empty_viewer
    out = page.evaluate(SENSOR_STEPS)
    assert _hue(out["low"]) > 100  # 10 of an alarm level of 150: green
    assert _hue(out["high"]) < 15  # 145: nearly at the alarm level: red
    assert out["lateIgnored"] == 145  # an older reading never replaces a newer one
    assert out["offline"] == out["stale"] and "非实时" in out["offlineLabel"]
    assert out["offlineAlarms"] == 0
    assert out["old"] == out["stale"]  # an hour old with a 60 s sampling interval
    assert_clean(watch)


def test_building_style_conditions_are_valid_cesium_expressions(empty_viewer):
    page, watch = empty_viewer
    colours = page.evaluate("""async () => {
      const m = await import('/viewer/js/metrics.js');
      const {style} = m.featureValueStyle({"B-1": {value: 100}, "B-'2": {value: 900},
                                           "B-3": {value: 50, stale: true}});
      const feature = (id) => ({getPropertyInherited: (name) => (name === 'id' ? id : undefined),
                                getProperty: (name) => (name === 'id' ? id : undefined)});
      return ["B-1", "B-'2", "B-3", "other"].map(
        (id) => style.color.evaluateColor(feature(id)).toCssHexString()); }""")
    low, high, stale, other = colours
    assert low != high and stale == "#8a8f98" and other == "#ffffff"
    assert_clean(watch)


def test_buildings_are_coloured_by_their_energy_sensor_with_a_legend(viewer, server_url):
    page, watch = viewer
    page.wait_for_function("cimtwin.metricsConnected", timeout=60_000)
    sensors = requests.get(f"{server_url}/api/sensors", timeout=10).json()["features"]
    energy = [f["properties"] for f in sensors
              if (f["properties"].get("feature") or {}).get("type") == "building"
              and "power_kw" in f["properties"]["metrics"]]
    assert len(energy) >= 2
    readings = [{"sensor_id": s["sensor_id"], "metric": "power_kw", "value": 200.0 + 600 * n}
                for n, s in enumerate(energy)]
    response = requests.post(f"{server_url}/api/metrics", json=readings, timeout=10,
                             headers={"Authorization": f"Bearer {INGEST_TOKEN}"})
    assert response.status_code == 202, response.text
    page.wait_for_function("cimtwin.buildingStyle && cimtwin.buildingStyle.count >= 2",
                           timeout=60_000)
    assert page.evaluate("cimtwin.buildingStyle.max") == 200.0 + 600 * (len(energy) - 1)
    legend = page.locator("#metricLegend")
    assert legend.is_visible() and "kW" in legend.inner_text()
    styled = page.evaluate("""() => { const e = cimtwin.app.entries.find((x) => x.kind === 'buildings');
        return Boolean(e && cimtwin.tilesets.get(e.id).style); }""")
    assert styled
    assert_clean(watch)
