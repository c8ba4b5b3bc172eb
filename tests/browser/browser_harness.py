"""Real-browser harness: a populated data dir, a real `cimtwin serve` process on a free
loopback port, and headless Chromium with software WebGL (SwiftShader).

Used by the browser tests (conftest.py) and by take_screenshot.py, so the README's
screenshot is taken exactly the way the tests see the viewer.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import requests

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
#: Cesium needs WebGL; headless Chromium here has no GPU, so ANGLE on SwiftShader.
CHROMIUM_ARGS = [
    "--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run",
]
INGEST_TOKEN = "browser-test-ingest-token"
ADMIN_TOKEN = "browser-test-admin-token"


def build_demo_data(data_dir: Path) -> dict:
    """Build the demo district (`cimtwin demo`) into data_dir through the library."""
    from server.config import load_config
    from server.demo.build import build_demo
    from server.services import open_services
    services = open_services(load_config({"data": {"dir": str(data_dir)}}))
    try:
        return build_demo(services)
    finally:
        services.close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(url: str, process: subprocess.Popen, log: Path, timeout_s: float) -> None:
    """Poll /api/health until it answers; fail with the server log if it dies or stalls."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"cimtwin serve exited ({process.returncode}):\n{log.read_text()}")
        try:
            if requests.get(f"{url}/api/health", timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)  # polling a start-up, not synchronising with the page
    raise RuntimeError(f"cimtwin serve did not answer within {timeout_s}s:\n{log.read_text()}")


@contextmanager
def running_server(data_dir: Path, log_dir: Path) -> Iterator[str]:
    """Run `cimtwin serve` on a free loopback port over data_dir; yields its base URL."""
    port = free_port()
    env = dict(os.environ, CIMTWIN_DATA_DIR=str(data_dir), CIMTWIN_INGEST_TOKEN=INGEST_TOKEN,
               CIMTWIN_ADMIN_TOKEN=ADMIN_TOKEN, PYTHONUNBUFFERED="1")
    env.pop("CIMTWIN_CONFIG", None)
    log = log_dir / "cimtwin-serve.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process, log, timeout_s=60)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def launch_chromium(playwright):
    """Headless Debian Chromium with software WebGL (never `playwright install`)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


class PageWatch:
    """Collects what a page did wrong (page errors, console errors, failed requests)
    and which requests it made (to check offline use and count tile bytes)."""

    def __init__(self, page, base_url: str):
        self.base_url = base_url
        self.page_errors: list[str] = []
        self.console_errors: list[str] = []
        self.failed_requests: list[str] = []
        self.requests: list[str] = []
        self.deprecated: list[str] = []  # answers of deprecated aliases (server/versioning.py)
        self.tile_bytes = 0
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.on("console", self._console)
        page.on("requestfailed", lambda r: self.failed_requests.append(f"{r.url} {r.failure}"))
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("response", self._response)

    def _console(self, message) -> None:
        if message.type == "error":
            self.console_errors.append(f"{message.text} @ {message.location.get('url', '')}")

    def _response(self, response) -> None:
        if response.headers.get("deprecation"):
            self.deprecated.append(response.url)
        # Tile content and tileset.json bytes as sent (Content-Length of the body).
        if "/tiles/" in response.url and response.ok:
            length = response.headers.get("content-length")
            if length is not None:
                self.tile_bytes += int(length)
            else:
                try:
                    self.tile_bytes += len(response.body())
                except Exception:  # body gone (navigation); counted as unknown
                    pass

    def foreign_requests(self) -> list[str]:
        """Requests to anywhere but the cimtwin server (must be none: offline use)."""
        allowed = (self.base_url + "/", "data:", "blob:")
        return [u for u in self.requests if not u.startswith(allowed)]


#: Playwright's own default (30 s) for every wait and action without a timeout of its
#: own. Software WebGL on a busy 2-core machine starves the page's main thread for
#: longer than that (a sign-in's navigation, a dialog's update): waits that would pass
#: a few seconds later must not fail the suite. Real hangs still end at this limit.
SLOW_MACHINE_TIMEOUT_MS = 180_000


def slow_machine_timeouts(page) -> None:
    page.set_default_timeout(SLOW_MACHINE_TIMEOUT_MS)
    page.set_default_navigation_timeout(SLOW_MACHINE_TIMEOUT_MS)


def open_viewer(browser, base_url: str, *, width: int = 1280, height: int = 800, fragment: str = ""):
    """A new page on the viewer with a PageWatch attached; waits until the viewer is ready."""
    page = browser.new_page(viewport={"width": width, "height": height})
    slow_machine_timeouts(page)
    watch = PageWatch(page, base_url)
    page.goto(f"{base_url}/{fragment}")
    page.wait_for_function("window.cimtwin && (window.cimtwin.ready || window.cimtwin.errors.length > 0)",
                           timeout=180_000)
    return page, watch


def wait_for_initial_tiles(page, timeout_ms: int = 300_000) -> None:
    """Wait on Cesium's events: every visible tileset fired allTilesLoaded (or none exist)."""
    page.wait_for_function("cimtwin.allTilesLoaded()", timeout=timeout_ms, polling=250)


def wait_for_view(page, timeout_ms: int = 300_000) -> None:
    """Wait until the tiles the current camera view needs are loaded (tilesLoaded, 3 frames)."""
    page.evaluate("() => { window.__viewSettled = false;"
                  " cimtwin.waitForTiles().then(() => { window.__viewSettled = true; }); }")
    page.wait_for_function("window.__viewSettled === true", timeout=timeout_ms, polling=250)


def pixel_spread(png_path: Path) -> float:
    """Standard deviation of the screenshot's grey levels (about 0 for a blank image)."""
    from PIL import Image, ImageStat
    with Image.open(png_path) as image:
        return ImageStat.Stat(image.convert("L")).stddev[0]
