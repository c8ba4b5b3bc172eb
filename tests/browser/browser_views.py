"""Helpers the browser tests share: what the server says (the oracle), and camera/pick
steps on the viewer page through its window.cimtwin hook."""
from __future__ import annotations

import requests

from browser_harness import wait_for_view


def catalog(server_url: str, token: str | None = None) -> list[dict]:
    """The tilesets the caller may see, as the server lists them."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = requests.get(f"{server_url}/api/tilesets", headers=headers, timeout=10)
    response.raise_for_status()
    return response.json()


def collections(server_url: str) -> dict[str, dict]:
    """OGC collections by kind."""
    body = requests.get(f"{server_url}/ogc/collections", timeout=10).json()
    return {c.get("kind"): c for c in body["collections"]}


def items(server_url: str, collection_id: str) -> list[dict]:
    """All features of a collection (GeoJSON, lon/lat)."""
    url = f"{server_url}/ogc/collections/{collection_id}/items?limit=1000"
    return requests.get(url, timeout=10).json()["features"]


def assert_clean(watch) -> None:
    """No script error, no console error, no failed request, nothing fetched off-server,
    no deprecated /api/ alias used (the viewer speaks /api/v1/)."""
    assert watch.page_errors == [], watch.page_errors
    assert watch.console_errors == [], watch.console_errors
    assert watch.failed_requests == [], watch.failed_requests
    assert watch.foreign_requests() == [], watch.foreign_requests()
    assert watch.deprecated == [], watch.deprecated


def look_down(page, lon: float, lat: float, height: float) -> None:
    """Camera straight above lon/lat at `height` m; returns once that view has loaded."""
    page.evaluate("([lon, lat, h]) => cimtwin.lookDownAt(lon, lat, h)", [lon, lat, height])
    wait_for_view(page)


def pick(page, lon: float, lat: float, height: float) -> dict | None:
    """Click-pick (as the user's click does) at the screen position of lon/lat/height."""
    xy = page.evaluate("([lon, lat, h]) => cimtwin.windowPositionOf(lon, lat, h)", [lon, lat, height])
    assert xy is not None, "the point is on screen"
    return page.evaluate("([x, y]) => cimtwin.pickAt(x, y)", [xy["x"], xy["y"]])


def centroid(ring: list[list[float]]) -> tuple[float, float]:
    """Area centroid of a lon/lat ring (small enough to treat degrees as planar)."""
    a = cx = cy = 0.0
    for (x0, y0), (x1, y1) in zip(ring, ring[1:]):
        cross = x0 * y1 - x1 * y0
        a += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    return cx / (3 * a), cy / (3 * a)


def show_only_models(page) -> None:
    """Untick every GIS layer in the layer panel, as a user does to look at the models."""
    for box in page.locator('#gisList input[type="checkbox"]').all():
        box.uncheck()
