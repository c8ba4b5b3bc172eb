"""How a tile file that the request may read is answered (docs/deploy.md).

Embedded: werkzeug's send_file hands the file to the WSGI server (``wsgi.file_wrapper``,
sendfile under waitress and gunicorn). Behind nginx (``server.accel_redirect_prefix``): an
empty answer whose ``X-Accel-Redirect`` names the file under nginx's internal location, so
nginx sends the bytes. Either way one ``stat`` gives the ETag, and ``tileset.json`` has a gzip copy
(written once, beside nothing in the store: under ``<data>/cache/gzip``).
"""
from __future__ import annotations

import gzip
import os
import stat as stat_mod
from pathlib import Path
from urllib.parse import quote

from flask import Response, g, request, send_file

#: Under the accel prefix, gzip copies live here (nginx: a second internal location).
GZIP_SUBPATH = ".gzip/"
#: Files worth a gzip copy: JSON compresses ~5-10x; glb and images hardly at all.
GZIP_SUFFIXES = {".json", ".subtree", ".gltf"}
MIN_GZIP_BYTES = 1024


def file_etag(st: os.stat_result, variant: str = "") -> str:
    """A strong ETag from size and modification time: a re-publish is a new file."""
    return f'"{st.st_mtime_ns:x}-{st.st_size:x}{variant}"'


def regular_stat(path: Path) -> os.stat_result | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st if stat_mod.S_ISREG(st.st_mode) else None


def gzip_copy(file_path: Path, st: os.stat_result, store_root: Path, cache: Path) -> Path | None:
    """The gzip copy of a JSON tile file (written now if missing or older), or None."""
    if file_path.suffix.lower() not in GZIP_SUFFIXES or st.st_size < MIN_GZIP_BYTES:
        return None
    target = cache / (str(file_path.relative_to(store_root)) + ".gz")
    if (copy := regular_stat(target)) is not None and copy.st_mtime_ns >= st.st_mtime_ns:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    partial.write_bytes(gzip.compress(file_path.read_bytes(), compresslevel=9, mtime=0))
    os.replace(partial, target)  # readers see the whole copy or none
    return target


def accepts_gzip() -> bool:
    return "gzip" in (request.headers.get("Accept-Encoding") or "").lower()


def tile_response(file_path: Path, st: os.stat_result, mimetype: str, cache_control: str,
                  store_root: Path, cache: Path, accel_prefix: str) -> Response:
    """The 200 (or 304) answer for a file the request may read."""
    gz = gzip_copy(file_path, st, store_root, cache) if accepts_gzip() else None
    served = gz if gz is not None else file_path
    g.cimtwin_tile_bytes = st.st_size if gz is None else regular_stat(gz).st_size  # /metrics
    etag = file_etag(st, "-gz" if gz is not None else "")
    headers = {"ETag": etag, "Cache-Control": cache_control, "Content-Type": mimetype}
    if file_path.suffix.lower() in GZIP_SUFFIXES:
        headers["Vary"] = "Accept-Encoding"
    if gz is not None:
        headers["Content-Encoding"] = "gzip"
    if request.if_none_match.contains(etag.strip('"')) or request.if_none_match.star_tag:
        return Response(status=304, headers=headers)
    if accel_prefix:
        relative = served.relative_to(cache if gz is not None else store_root)
        headers["X-Accel-Redirect"] = accel_prefix + (GZIP_SUBPATH if gz is not None else "") \
            + quote(relative.as_posix())
        return Response(status=200, headers=headers)
    # send_file: wsgi.file_wrapper (sendfile under waitress and gunicorn), Range requests.
    response = send_file(served, mimetype=mimetype, etag=etag.strip('"'), conditional=True,
                         max_age=None)
    response.headers.update({k: v for k, v in headers.items() if k != "ETag"})
    return response
