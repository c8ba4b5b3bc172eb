"""Take the README's screenshot (docs/screenshot.png) the way the browser tests see the
viewer: the demo district built into a temp dir, a real `cimtwin serve`, headless
Chromium with software WebGL, a few live readings posted, one building inspected.

    .venv/bin/python tests/browser/take_screenshot.py [--out docs/screenshot.png]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser_harness import (ADMIN_TOKEN, INGEST_TOKEN, ROOT, build_demo_data,  # noqa: E402
                             launch_chromium, open_viewer, running_server, wait_for_initial_tiles,
                             wait_for_view)

#: Readings that make the picture tell the story: one site over its dust/noise limits.
READINGS = [("S-air-01", "pm25", 48.0), ("S-air-02", "pm25", 96.0),
            ("S-construction-01", "noise_db", 88.5), ("S-traffic-01", "traffic_flow", 1260.0)]


def post_readings(url: str) -> None:
    """Post the demo readings with the ingest token."""
    observations = [{"sensor_id": s, "metric": m, "value": v} for s, m, v in READINGS]
    response = requests.post(f"{url}/api/metrics", json=observations, timeout=10,
                             headers={"Authorization": f"Bearer {INGEST_TOKEN}"})
    response.raise_for_status()


def frame_district(page, url: str) -> None:
    """Camera south of the district centre, 45 degrees down, the whole district in view."""
    tilesets = requests.get(f"{url}/api/tilesets", timeout=10,
                            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json()
    w = min(t["bounds"][0] for t in tilesets)
    s = min(t["bounds"][1] for t in tilesets)
    e = max(t["bounds"][2] for t in tilesets)
    page.evaluate("""([lon, lat, h]) => cimtwin.viewer.camera.setView({
        destination: Cesium.Cartesian3.fromDegrees(lon, lat, h),
        orientation: {heading: Cesium.Math.toRadians(15), pitch: Cesium.Math.toRadians(-38), roll: 0}})""",
                  [(w + e) / 2 - 0.004, s - 0.012, 1350.0])
    wait_for_view(page)


def inspect_tallest_building(page, url: str) -> None:
    """Click the tallest building so the inspector shows its properties."""
    body = requests.get(f"{url}/ogc/collections/demo-buildings/items?limit=1000", timeout=10).json()
    tallest = max(body["features"], key=lambda f: f["properties"]["height_m"])
    ring = tallest["geometry"]["coordinates"][0]
    lon = sum(c[0] for c in ring[:-1]) / (len(ring) - 1)
    lat = sum(c[1] for c in ring[:-1]) / (len(ring) - 1)
    top = tallest["properties"]["ground_m"] + tallest["properties"]["height_m"] * 0.6
    xy = page.evaluate("([lon, lat, h]) => cimtwin.windowPositionOf(lon, lat, h)", [lon, lat, top])
    if xy:
        page.evaluate("([x, y]) => cimtwin.pickAt(x, y)", [xy["x"], xy["y"]])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshot.png"))
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright
    with tempfile.TemporaryDirectory(prefix="cimtwin-shot-") as tmp:
        data_dir, log_dir = Path(tmp) / "data", Path(tmp)
        build_demo_data(data_dir)
        with running_server(data_dir, log_dir) as url, sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            page, watch = open_viewer(browser, url, width=1440, height=900,
                                      fragment=f"#token={ADMIN_TOKEN}")
            wait_for_initial_tiles(page)
            page.wait_for_function("cimtwin.metricsConnected", timeout=60_000)
            post_readings(url)
            page.wait_for_function("cimtwin.metricsReceived >= 4", timeout=60_000)
            frame_district(page, url)
            inspect_tallest_building(page, url)
            page.screenshot(path=args.out)
            browser.close()
            problems = watch.page_errors + watch.console_errors
    print(f"wrote {args.out}" + (f" (page reported: {problems})" if problems else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
