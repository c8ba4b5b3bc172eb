"""The viewer's sign-in dialog in a real browser: a wrong password is explained, the right
one reloads the viewer with the user's levels (internal models appear), sign-out ends it.
Runs under the server's Content-Security-Policy: any violation is a console error."""
from __future__ import annotations

import pytest

from browser_harness import open_viewer, wait_for_initial_tiles
from browser_views import assert_clean, catalog

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PASSWORD = "planner password 1"


def click(page, selector: str) -> None:
    """The element's click(), as a user's click runs it. With software WebGL drawing the
    district, frames come seconds apart, and Playwright's actions and waits that poll
    on animation frames time out; these poll on a timer instead."""
    page.evaluate("(s) => document.querySelector(s).click()", selector)


def type_into(page, selector: str, text: str) -> None:
    page.evaluate("([s, v]) => { const el = document.querySelector(s); el.value = v; "
                  "el.dispatchEvent(new Event('input', { bubbles: true })); }", [selector, text])


def wait_ready(page) -> None:
    page.wait_for_function("window.cimtwin && window.cimtwin.ready", timeout=180_000,
                           polling=250)


@pytest.fixture(scope="module")
def planner(demo_data_dir):
    from server.config import load_config
    from server.services import open_services
    services = open_services(load_config({"data": {"dir": str(demo_data_dir[0])}}))
    if services.security.users.get("planner1") is None:
        services.security.users.add("planner1", "planner", PASSWORD)
    services.close()
    return "planner1"


def test_sign_in_shows_internal_models_and_sign_out_hides_them(browser, server_url, planner,
                                                                tokens):
    page, watch = open_viewer(browser, server_url)
    public = {e["id"] for e in catalog(server_url)}
    internal = {e["id"] for e in catalog(server_url, tokens["admin"])
                if e["classification"] == "internal"}
    assert internal, "the demo has internal tilesets"
    assert set(page.evaluate("[...cimtwin.tilesets.keys()]")) == public

    box = page.evaluate("JSON.parse(JSON.stringify("
                        "document.querySelector('#loginButton').getBoundingClientRect()))")
    assert box["width"] > 0 and 0 <= box["right"] <= 1280  # in the top bar, on screen
    click(page, "#loginButton")
    assert page.evaluate("document.querySelector('#loginDialog').open")
    type_into(page, "#loginUser", planner)
    type_into(page, "#loginPassword", "not the password")
    click(page, "#loginSubmit")
    page.wait_for_function("!document.querySelector('#loginError').hidden", polling=250)
    assert "密码错误" in page.inner_text("#loginError")
    # the refused sign-in is the one expected 401 in the console
    watch.console_errors = [e for e in watch.console_errors if "401" not in e]

    type_into(page, "#loginPassword", PASSWORD)
    with page.expect_navigation():
        click(page, "#loginSubmit")
    wait_ready(page)
    wait_for_initial_tiles(page)
    assert set(page.evaluate("[...cimtwin.tilesets.keys()]")) == public | internal
    assert planner in page.inner_text("#loginButton")
    session = {c["name"]: c for c in page.context.cookies()}["cimtwin_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert page.evaluate("document.cookie").find("cimtwin_session") == -1

    with page.expect_navigation():
        click(page, "#loginButton")
    wait_ready(page)
    assert set(page.evaluate("[...cimtwin.tilesets.keys()]")) == public
    # each reload ends the open live-metrics stream, and cancels reads of the page's own
    # blob: objects (Cesium's decoded images) still under way: those aborts are expected,
    # nothing else (blob: URLs never reach the server)
    watch.failed_requests = [r for r in watch.failed_requests
                             if not r.endswith("/api/v1/metrics/stream net::ERR_ABORTED")
                             and not (r.startswith("blob:") and r.endswith("net::ERR_ABORTED"))]
    assert_clean(watch)
    page.close()
