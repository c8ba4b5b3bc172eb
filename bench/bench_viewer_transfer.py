"""Viewer initial view, as the network sees it: every request the page makes until each
tileset fired allTilesLoaded (plus 2 s), with the bytes on the wire (Chromium's
encodedDataLength, so gzip counts as sent), browser cache off. Issue 12's budget:
<= 3 MB and <= 40 requests for an anonymous first visit.

    PYTHONPATH=. .venv/bin/python bench/bench_viewer_transfer.py [TREE]

TREE (default: this checkout) is the project tree whose demo and server are run, so an
older checkout (`git worktree add /tmp/old <commit>`) can be measured the same way.
"""
from __future__ import annotations

import collections
import sys
import tempfile
from pathlib import Path


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1])
    sys.path[:0] = [str(root / "tests" / "browser"), str(root)]
    from browser_harness import (build_demo_data, launch_chromium, running_server,
                                 slow_machine_timeouts, wait_for_initial_tiles)
    from playwright.sync_api import sync_playwright
    tmp = Path(tempfile.mkdtemp(prefix="cimtwin-bench-transfer-"))
    build_demo_data(tmp / "data")
    with running_server(tmp / "data", tmp) as url, sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        slow_machine_timeouts(page)
        cdp = page.context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        urls: dict[str, str] = {}
        sizes: collections.Counter = collections.Counter()
        cdp.on("Network.responseReceived",
               lambda e: urls.__setitem__(e["requestId"], e["response"]["url"]))
        cdp.on("Network.loadingFinished",
               lambda e: sizes.__setitem__(e["requestId"], e["encodedDataLength"]))
        page.goto(url + "/")
        page.wait_for_function("window.cimtwin && window.cimtwin.ready", timeout=180_000)
        wait_for_initial_tiles(page)
        page.wait_for_timeout(2000)
        wire = {rid: n for rid, n in sizes.items() if not urls.get(rid, "").startswith("data:")}
        print(f"requests {len(wire)}  bytes {sum(wire.values()):,}")
        for rid, n in sorted(wire.items(), key=lambda kv: -kv[1])[:12]:
            print(f"{n:>10,}  {urls.get(rid, rid)[len(url):]}")
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
