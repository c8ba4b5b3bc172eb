"""The embeddable district view (viewer/embed.js) in a CIM+ page on another origin:
examples/dust-monitor/ served from its own loopback port, registered as an app's CORS
origin, lists the construction sites' live dust and noise and flies to the one that alarms."""
from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

import pytest
import requests
from browser_harness import ROOT, PageWatch
from playwright.sync_api import TimeoutError as PlaywrightTimeout

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EXAMPLE = ROOT / "examples" / "dust-monitor"
#: JS: true once the camera is where view.flyTo(lon, lat, 500) puts it: 500 m (plus the
#: ground's height) above and south of the site, looking north at it.
LOOKS_AT = """([lon, lat]) => { const v = window.dustMonitor.view, c = v && v.camera();
  return Boolean(c && Math.abs(c.lon - lon) < 0.0005 && Math.abs(c.lat - (lat - 500 / 111320)) < 0.0015
                 && c.height > 450 && c.height < 700 && Math.abs(c.pitch + 45) < 1); }"""

#: JS: the embed API on the page's view: default layers, hide/show, projects by date.
LAYERS_AND_DATES = """async () => {
  const v = window.dustMonitor.view, out = {};
  const shown = () => Object.fromEntries(v.layers().map((l) => [l.ref, l.shown]));
  const projects = () => v.viewer.dataSources.getByName('demo-projects')[0].entities.values
    .filter((e) => e.show).length;
  out.start = shown();
  await v.hideLayer('tiles:demo-buildings');
  out.hidden = shown()['tiles:demo-buildings'];
  await v.showLayer('demo-buildings');  // a plain id names the tileset first
  out.again = shown()['tiles:demo-buildings'];
  out.projects = projects();
  v.setDate('1990-01-01'); out.before = projects();
  v.setDate(null); out.recorded = projects();
  return out; }"""
EXPECTED_LAYERS_AND_DATES = {
    "start": {"tiles:demo-buildings": True, "tiles:demo-terrain": True,
              "ogc:demo-buildings": False, "ogc:demo-facilities": False,
              "ogc:demo-projects": True, "ogc:demo-sensors": True},
    "hidden": False, "again": True, "projects": 10, "before": 0, "recorded": 10}


class QuietHandler(SimpleHTTPRequestHandler):
    """Static files of the example, without a log line per request."""

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass


@contextmanager
def static_origin(directory):
    """Serve `directory` on a free loopback port (another origin than cimtwin's)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler,
                                                                    directory=str(directory)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def register_app(data_dir, name: str, origin: str) -> dict:
    """`cimtwin apps add` over the running server's data dir, as a data-admin does."""
    env = dict(os.environ, CIMTWIN_DATA_DIR=str(data_dir), PYTHONPATH=str(ROOT))
    env.pop("CIMTWIN_CONFIG", None)
    out = subprocess.run(
        [sys.executable, "-m", "server.cli", "apps", "add", name, "--json",
         "--scopes", "read:tiles,read:layers,read:metrics", "--origin", origin],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout)


def wait_for_cors(server_url: str, origin: str, timeout_s: float = 60) -> None:
    """Poll until the server allows `origin` (it re-reads the apps' origins every 10 s)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        answer = requests.get(f"{server_url}/api/v1/health", headers={"Origin": origin}, timeout=10)
        if answer.headers.get("Access-Control-Allow-Origin") == origin:
            return
        time.sleep(0.5)  # polling the server's origin cache, not synchronising with the page
    raise AssertionError(f"{server_url} never allowed CORS for {origin}")


def post(server_url: str, token: str, readings: list[dict]) -> None:
    answer = requests.post(f"{server_url}/api/v1/metrics", json=readings, timeout=10,
                           headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 202, answer.text


def dust_sites(server_url: str) -> list[dict]:
    """The sensors measuring dust, as the server lists them (the page's oracle)."""
    sensors = requests.get(f"{server_url}/api/v1/sensors", timeout=10).json()["features"]
    return [s for s in sensors if "dust" in str(s["properties"]["metrics"]).split(",")]


def close_alarms(server_url: str, tokens: dict, sensor_id: str, when: datetime) -> None:
    """Clear and acknowledge the test's alarm so later tests see the district as before."""
    post(server_url, tokens["ingest"], [{"sensor_id": sensor_id, "metric": "dust",
                                         "value": 100.0, "time": when.isoformat()}])
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    for alarm in requests.get(f"{server_url}/api/v1/alarms", timeout=10).json()["alarms"]:
        if alarm["sensor_id"] == sensor_id and not alarm["acknowledged"]:
            requests.post(f"{server_url}/api/v1/alarms/{alarm['id']}/ack", headers=admin,
                          json={"note": "test_embed", "by": "test"}, timeout=10)


def test_dust_monitor_from_another_origin_shows_live_values_and_flies_to_the_alarm(
        browser, server_url, demo_data_dir, tokens):
    data_dir, _ = demo_data_dir
    sites = dust_sites(server_url)
    assert len(sites) >= 2
    open_alarms = {a["sensor_id"] for a in
                   requests.get(f"{server_url}/api/v1/alarms", timeout=10).json()["alarms"]}
    target = next(s for s in sites if s["id"] not in open_alarms)
    lon, lat = target["geometry"]["coordinates"][:2]
    with static_origin(EXAMPLE) as origin:
        app = register_app(data_dir, f"dust-test-{origin.rsplit(':', 1)[1]}", origin)
        wait_for_cors(server_url, origin)
        page = browser.new_page(viewport={"width": 1100, "height": 700})
        watch = PageWatch(page, server_url)
        errors: list[str] = []
        now = datetime.now(timezone.utc)
        page.on("response", lambda r: r.status >= 400 and errors.append(f"{r.status} {r.url}"))
        query = urlencode({"server": server_url, "client_id": app["client_id"],
                           "client_secret": app["client_secret"]})
        try:
            page.goto(f"{origin}/index.html?{query}")
            page.wait_for_function("window.dustMonitor.ready", timeout=180_000, polling=250)
            # Live: readings posted now reach the page over the stream, one row per site.
            post(server_url, tokens["ingest"],
                 [{"sensor_id": s["id"], "metric": m, "value": v, "time": now.isoformat()}
                  for s in sites for m, v in (("dust", 123.0), ("noise_db", 61.5))])
            row = page.locator(f'tr[data-sensor="{target["id"]}"]')
            page.wait_for_function(
                """(id) => [...document.querySelectorAll(`tr[data-sensor="${id}"] td`)]
                   .map((td) => td.textContent).join("|").endsWith("|123|61.5")""",
                arg=target["id"], timeout=60_000)
            assert page.locator("tr[data-sensor]").count() == len(sites)
            assert target["properties"]["name"] in row.inner_text()
            assert not page.evaluate(LOOKS_AT, [lon, lat])
            # An alarm (dust above 800 µg/m³) flies the view to that site.
            post(server_url, tokens["ingest"], [{"sensor_id": target["id"], "metric": "dust",
                                                 "value": 950.0,
                                                 "time": (now + timedelta(seconds=1)).isoformat()}])
            try:
                page.wait_for_function(LOOKS_AT, arg=[lon, lat], timeout=180_000, polling=250)
            except PlaywrightTimeout:
                raise AssertionError(("no flight", page.evaluate(
                    "[dustMonitor.view.camera(), document.getElementById('status').textContent]"),
                    row.get_attribute("class"), watch.console_errors)) from None
            assert "alarm" in (row.get_attribute("class") or "")
            # A click on the site (its project area at the view's centre) marks its row (pick).
            box = page.locator("#view canvas").bounding_box()
            page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.wait_for_function("(id) => document.querySelector(`tr[data-sensor='${id}']`)"
                                   ".classList.contains('picked')", arg=target["id"],
                                   timeout=30_000)
            assert page.evaluate(LAYERS_AND_DATES) == EXPECTED_LAYERS_AND_DATES
            assert watch.page_errors == [] and watch.console_errors == [], \
                (watch.page_errors, watch.console_errors)
            assert errors == [] and watch.failed_requests == [], (errors, watch.failed_requests)
            foreign = [u for u in watch.foreign_requests() if not u.startswith(origin + "/")]
            assert foreign == [], foreign  # nothing but cimtwin and the app's own origin
        finally:
            page.close()
            close_alarms(server_url, tokens, target["id"], now + timedelta(seconds=2))
