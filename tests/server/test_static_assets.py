"""The viewer's static assets are light: CesiumJS and the viewer's files go out gzip
compressed from a cached copy, versioned Cesium URLs are cached for good, and every
answer has an ETag a browser can revalidate with."""
from __future__ import annotations

import gzip
import re
import shutil

import pytest

from server.app import create_app
from server import viewer_bundle
from server.web import cesium_version


@pytest.fixture
def client(tmp_path):
    app = create_app({"data": {"dir": str(tmp_path / "data")}})
    if not (app.extensions["cimtwin"].config.cesium_dir / "Cesium.js").is_file():
        pytest.fail("CesiumJS is not installed (npm install)")
    return app.test_client()


def version(client) -> str:
    return cesium_version(client.application.extensions["cimtwin"].config.cesium_dir)


def test_index_names_cesium_under_its_version(client):
    html = client.get("/").get_data(as_text=True)
    v = version(client)
    assert f'src="/cesium/{v}/Cesium.js"' in html
    assert f'data-cesium-base="/cesium/{v}/"' in html
    assert f'href="/cesium/{v}/Widgets/widgets.css"' in html


def test_cesium_js_is_served_compressed_and_cached_for_good(client):
    url = f"/cesium/{version(client)}/Cesium.js"
    plain = client.get(url)
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    packed = client.get(url, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert packed.status_code == 200
    assert packed.headers["Content-Encoding"] == "gzip"
    assert packed.headers["Vary"] == "Accept-Encoding"
    assert packed.headers["Content-Type"].startswith("text/javascript")
    assert "immutable" in packed.headers["Cache-Control"]
    assert "max-age=31536000" in packed.headers["Cache-Control"]
    body = packed.get_data()
    assert len(body) * 3 < len(plain.get_data()), (len(body), len(plain.get_data()))
    assert gzip.decompress(body) == plain.get_data()
    assert packed.headers["ETag"] != plain.headers["ETag"]  # one ETag per encoding
    again = client.get(url, headers={"Accept-Encoding": "gzip",
                                     "If-None-Match": packed.headers["ETag"]})
    assert again.status_code == 304


def test_cesium_json_and_css_are_compressed_too(client):
    v = version(client)
    for path in ("Widgets/widgets.css", "Assets/approximateTerrainHeights.json"):
        response = client.get(f"/cesium/{v}/{path}", headers={"Accept-Encoding": "gzip"})
        assert response.status_code == 200, path
        assert response.headers.get("Content-Encoding") == "gzip", path


def test_viewer_files_are_compressed_and_revalidated(client):
    response = client.get("/viewer/js/main.js", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Cache-Control"] == "no-cache"
    assert client.get("/viewer/js/main.js", headers={
        "Accept-Encoding": "gzip", "If-None-Match": response.headers["ETag"]}).status_code == 304


def test_unversioned_cesium_urls_still_work_but_are_revalidated(client):
    response = client.get("/cesium/Cesium.js", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-cache"


def test_paths_outside_the_asset_folders_are_not_found(client):
    assert client.get("/viewer/../server/web.py").status_code == 404
    assert client.get(f"/cesium/{version(client)}/../../package.json").status_code == 404
    assert client.get("/viewer/js/nope.js").status_code == 404


def test_the_page_loads_the_viewer_as_one_bundle_cached_for_good(client):
    html = client.get("/").get_data(as_text=True)
    match = re.search(r'<script type="module" src="(/viewer/bundle/[0-9a-f]{16}\.js)"', html)
    assert match, "index.html should load the bundle (is esbuild installed? run make)"
    bundle = client.get(match.group(1), headers={"Accept-Encoding": "gzip"})
    assert bundle.status_code == 200
    assert bundle.headers["Content-Encoding"] == "gzip"
    assert "immutable" in bundle.headers["Cache-Control"]
    code = gzip.decompress(bundle.get_data()).decode()
    # the modules' own code is inside, so none of them is fetched on its own
    assert "allTilesLoaded" in code and 'from"./' not in code.replace(" ", "")
    assert f"sourceMappingURL={match.group(1).rsplit('/', 1)[1]}.map" in code
    assert client.get(match.group(1) + ".map").status_code == 200


def test_an_edited_module_gets_a_new_bundle_and_a_failed_build_falls_back(tmp_path):
    source = tmp_path / "js"
    shutil.copytree(viewer_bundle.SOURCE_DIR, source)
    first = viewer_bundle.sources_digest(source)
    built = viewer_bundle.build(tmp_path / "out", first, source)
    assert built is not None and built.name == f"{first}.js"
    search = source / "search.js"
    search.write_text(search.read_text() + "\nexport const EDITED_MARK = 'edited-4711';\n"
                      "console.debug(EDITED_MARK);\n")
    second = viewer_bundle.sources_digest(source)
    assert second != first
    assert "edited-4711" in viewer_bundle.build(tmp_path / "out", second, source).read_text()
    (source / "main.js").write_text("import { nothing } from './missing.js';\n")
    assert viewer_bundle.build(tmp_path / "out", viewer_bundle.sources_digest(source),
                               source) is None  # the page then loads the modules
    assert not list((tmp_path / "out").glob("*.tmp.js"))


def test_without_esbuild_the_page_loads_the_modules(client, monkeypatch):
    monkeypatch.setattr(viewer_bundle, "esbuild_command", lambda: None)
    monkeypatch.setattr(viewer_bundle, "sources_digest", lambda *a: "0" * 16)
    html = client.get("/").get_data(as_text=True)
    assert '<script type="module" src="/viewer/js/main.js"></script>' in html
