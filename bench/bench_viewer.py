"""Viewer initial view: bytes of tileset.json + tile content the browser requests, and the
wall time from opening the page until every tileset fired allTilesLoaded, for the demo
district. Side by side in one invocation: anonymous (public tilesets) and admin (all,
including the internal BIM model). Whole page loads, median of --repeat runs each.
Also the label overlaps at the home view, from the rendered label rectangles
(`cimtwin.labelOverlaps()`), with the declutter on and, for comparison, switched off.

    .venv/bin/python bench/bench_viewer.py --repeat 3

Uses the browser tests' harness (real `cimtwin serve`, headless Chromium, SwiftShader
software WebGL), so times are CPU-rendering times on a shared machine, not GPU figures.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from browser_harness import (ADMIN_TOKEN, build_demo_data, launch_chromium,  # noqa: E402
                             open_viewer, running_server, wait_for_initial_tiles,
                             wait_for_view)

#: JS: switch the declutter off (every label, no clusters), for the "before" figure.
DECLUTTER_OFF = """() => { const d = cimtwin.app.declutter; d.enabled = false; d.reset();
    for (let i = 0; i < cimtwin.viewer.dataSources.length; i++)
      cimtwin.viewer.dataSources.get(i).clustering.enabled = false; }"""


def home_label_overlaps(page) -> tuple[dict, dict]:
    """Labels drawn / overlapping at the home view: declutter on, then off."""
    page.evaluate("cimtwin.flyHome(0)")
    wait_for_view(page)
    page.wait_for_function("cimtwin.declutterSettled", timeout=120_000, polling=250)
    on = page.evaluate("cimtwin.labelOverlaps()")
    page.evaluate(DECLUTTER_OFF)
    wait_for_view(page)
    return on, page.evaluate("cimtwin.labelOverlaps()")

CASES = {"anonymous": "", "admin": f"#token={ADMIN_TOKEN}"}


def one_load(browser, url: str, fragment: str) -> tuple:
    """Open the viewer once; (seconds to initial tiles, tile bytes, tiles loaded, label
    overlaps at home with and without the declutter)."""
    start = time.perf_counter()
    page, watch = open_viewer(browser, url, fragment=fragment)
    wait_for_initial_tiles(page)
    seconds = time.perf_counter() - start
    tiles = page.evaluate("cimtwin.stats.tilesLoaded")
    failed = page.evaluate("cimtwin.stats.tileFailed")
    overlaps = home_label_overlaps(page)
    page.close()
    if failed or watch.page_errors:
        raise RuntimeError(f"tile failures {failed}, page errors {watch.page_errors}")
    return seconds, watch.tile_bytes, tiles, overlaps


def fraction(counts: dict) -> str:
    """'overlapping of labels', e.g. '0 of 24'."""
    return f"{counts['overlapping']} of {counts['labels']}"


def main() -> int:
    parser = argparse.ArgumentParser(description="viewer initial-view benchmark")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright
    results: dict[str, list[tuple]] = {case: [] for case in CASES}
    with tempfile.TemporaryDirectory(prefix="cimtwin-bench-viewer-") as tmp:
        build_demo_data(Path(tmp) / "data")
        with running_server(Path(tmp) / "data", Path(tmp)) as url, sync_playwright() as pw:
            browser = launch_chromium(pw)
            for _ in range(args.repeat):
                for case, fragment in CASES.items():  # interleaved: same load conditions
                    results[case].append(one_load(browser, url, fragment))
            browser.close()
    print("| case | median s to initial view | runs s | bytes requested | tiles "
          "| labels overlapping at home (declutter on) | (off) |")
    print("|---|---|---|---|---|---|---|")
    for case, runs in results.items():
        times = [r[0] for r in runs]
        print(f"| {case} | {statistics.median(times):.1f} | {', '.join(f'{t:.1f}' for t in times)} "
              f"| {runs[0][1]:,} | {runs[0][2]} | {fraction(runs[0][3][0])} "
              f"| {fraction(runs[0][3][1])} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
