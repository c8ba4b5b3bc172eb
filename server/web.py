"""The viewer's static files, CesiumJS (served by us: no CDN), and its settings.

Text assets (JS, CSS, JSON, wasm, ...) go out gzip-compressed to clients that accept it,
from copies written once under ``<data>/cache/static`` (a copy older than its source is
rewritten; a temporary file and a rename, so readers never see half a copy). CesiumJS is
addressed under its version (``/cesium/<version>/Cesium.js``): those answers may be cached
for a year (``immutable``); the viewer's own files and unversioned Cesium URLs are
revalidated by ETag on every use.
"""
from __future__ import annotations

import gzip
import json
import mimetypes
import os
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Response, jsonify, request, send_file
from werkzeug.exceptions import NotFound
from werkzeug.security import safe_join

from server import viewer_bundle
from server.analysis import gauss_kruger_zone
from server.config import PROJECT_ROOT
from server.services import current_services
from server.api_schemas import OBJECT
from server.openapi import describe
from server.tile_files import file_etag, regular_stat

bp = Blueprint("web", __name__)
VIEWER_DIR = PROJECT_ROOT / "viewer"
#: Worth compressing: text and wasm shrink 3-5x; images and glb hardly at all.
COMPRESSIBLE = {".js", ".mjs", ".css", ".json", ".html", ".svg", ".wasm", ".txt", ".xml",
                ".glsl", ".map"}
MIN_COMPRESS_BYTES = 1024
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


@lru_cache(maxsize=8)
def cesium_version(cesium_dir: Path) -> str:
    """The installed CesiumJS version (its npm package.json), else a stamp of Cesium.js."""
    try:
        return json.loads((cesium_dir.parents[1] / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError, IndexError):
        st = regular_stat(cesium_dir / "Cesium.js")
        return f"build-{st.st_mtime_ns:x}" if st else "none"


def _cache_root() -> Path:
    return current_services().config.data_dir / "cache" / "static"


def compressed_copy(source: Path, st: os.stat_result, name: str) -> Path | None:
    """The gzip copy of a compressible file (written now when missing or older), or None
    when the file is not worth it or the cache cannot be written (the original is sent)."""
    if source.suffix.lower() not in COMPRESSIBLE or st.st_size < MIN_COMPRESS_BYTES:
        return None
    target = _cache_root() / f"{name}.gz"
    if (copy := regular_stat(target)) is not None and copy.st_mtime_ns >= st.st_mtime_ns:
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        partial.write_bytes(gzip.compress(source.read_bytes(), compresslevel=9, mtime=0))
        os.replace(partial, target)
    except OSError:
        return None
    return target


def _accepts_gzip() -> bool:
    return "gzip" in (request.headers.get("Accept-Encoding") or "").lower()


def static_response(root: Path, path: str, cache_name: str, cache_control: str) -> Response:
    """A file under ``root`` (404 outside it or missing), compressed when the client takes
    gzip, with a strong ETag per encoding and ``Vary: Accept-Encoding``."""
    joined = safe_join(str(root), path)
    st = regular_stat(Path(joined)) if joined else None
    if st is None:
        raise NotFound(f"no file {path!r}")
    source = Path(joined)
    gz = compressed_copy(source, st, cache_name) if _accepts_gzip() else None
    etag = file_etag(st, "-gz" if gz is not None else "")
    mimetype = mimetypes.guess_type(source.name)[0] or "application/octet-stream"
    if source.suffix.lower() == ".js":
        mimetype = "text/javascript"
    response = send_file(gz or source, mimetype=mimetype, etag=etag.strip('"'),
                         conditional=True, max_age=None)
    response.headers["Cache-Control"] = cache_control
    if source.suffix.lower() in COMPRESSIBLE:
        response.headers["Vary"] = "Accept-Encoding"
    if gz is not None:
        response.headers["Content-Encoding"] = "gzip"
    return response


def _index_html() -> str:
    """index.html with the Cesium URLs under the installed version and the viewer's
    modules as one bundle (server.viewer_bundle), both cached for good."""
    version = cesium_version(current_services().config.cesium_dir)
    text = (VIEWER_DIR / "index.html").read_text(encoding="utf-8")
    entry = viewer_bundle.entry_url(_cache_root())
    text = text.replace(f'src="{viewer_bundle.ENTRY_URL}"', f'src="{entry}"')
    return text.replace('"/cesium/', f'"/cesium/{version}/')


@bp.get("/")
def index():
    response = Response(_index_html(), mimetype="text/html")
    response.headers["Cache-Control"] = REVALIDATE
    return response


@bp.get("/viewer/bundle/<name>")
def viewer_bundle_file(name: str):
    """A built viewer bundle (or its source map): named by its sources' digest, immutable."""
    root = _cache_root() / "viewer-bundle"
    return static_response(root, name, f"viewer-bundle/{name}", IMMUTABLE)


@bp.get("/viewer/<path:path>")
def viewer_file(path: str):
    return static_response(VIEWER_DIR, path, f"viewer/{path}", REVALIDATE)


@bp.get("/cesium/<path:path>")
def cesium_file(path: str):
    """CesiumJS files: /cesium/<version>/... (cached for good) or /cesium/... (revalidated)."""
    cesium_dir: Path = current_services().config.cesium_dir
    if not (cesium_dir / "Cesium.js").is_file():
        raise NotFound(f"CesiumJS is not installed at {cesium_dir}; run 'make' (npm install)")
    version = cesium_version(cesium_dir)
    first, _, rest = path.partition("/")
    if first == version and rest:
        return static_response(cesium_dir, rest, f"cesium/{version}/{rest}", IMMUTABLE)
    return static_response(cesium_dir, path, f"cesium/{version}/{path}", REVALIDATE)


@bp.get("/api/config")
@describe("The viewer's settings: imagery, home view, language, GK zone", tag="viewer",
          response=OBJECT)
def viewer_config():
    viewer = current_services().config["viewer"]
    body = {k: viewer[k] for k in ("imagery", "imagery_url", "home", "language")}
    body["gauss_kruger"] = gauss_kruger_zone(  # the measuring tool's GK zone (tools)
        current_services().config["analysis"]["gauss_kruger_crs"])
    return jsonify(body)


@bp.get("/api/health")
@describe("Liveness for load balancers (no paths, no counts)", tag="health", response=OBJECT)
def health():
    """Liveness for load balancers: no paths, no counts (they would tell what is hidden)."""
    cesium = (current_services().config.cesium_dir / "Cesium.js").is_file()
    return jsonify({"status": "ok", "cesium": cesium})
