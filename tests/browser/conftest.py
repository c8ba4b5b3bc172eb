"""Fixtures for the real-browser tests: the demo district built once per session into a
temp dir, one `cimtwin serve` process over it, and one headless Chromium."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The tests run with --import-mode=importlib: make this folder's helpers importable.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser_harness import ADMIN_TOKEN, INGEST_TOKEN, build_demo_data, launch_chromium, open_viewer, running_server


@pytest.fixture(scope="session")
def demo_data_dir(tmp_path_factory):
    """The demo district (about 200 buildings, terrain, an IFC building, layers, sensors)."""
    data_dir = tmp_path_factory.mktemp("cimtwin-data")
    summary = build_demo_data(data_dir)
    return data_dir, summary


@pytest.fixture(scope="session")
def server_url(demo_data_dir, tmp_path_factory):
    """Base URL of a real `cimtwin serve` over the demo data dir."""
    data_dir, _ = demo_data_dir
    with running_server(data_dir, tmp_path_factory.mktemp("server-log")) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium (software WebGL) for the whole session."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def viewer(browser, server_url):
    """(page, watch): the viewer opened anonymously (public data only), ready.
    One page per test module: software WebGL needs a minute or more per full load."""
    page, watch = open_viewer(browser, server_url)
    yield page, watch
    page.close()


@pytest.fixture(scope="module")
def admin_viewer(browser, server_url):
    """(page, watch): the viewer opened with the admin token (#token=...): all data,
    including the demo's internal BIM model."""
    page, watch = open_viewer(browser, server_url, fragment=f"#token={ADMIN_TOKEN}")
    yield page, watch
    page.close()


@pytest.fixture
def tokens():
    """The ingest and admin tokens the test server was started with."""
    return {"ingest": INGEST_TOKEN, "admin": ADMIN_TOKEN}
