"""The viewer's ES modules as one bundled file, so a first visit costs one request for
the viewer's code instead of one per module (about 35).

The bundle is made by esbuild (npm, installed by ``make``) from ``viewer/js/main.js`` and
kept under ``<data>/cache/static/viewer-bundle/<digest>.js``, where the digest covers the
path, size and mtime of every module: an edited module gives a new name, so the page
never runs a stale bundle and the bundle's URL may be cached for good (``immutable``).
It is built on the first request for the page after a change (about 0.1 s), written to
a temporary file and renamed, so concurrent workers never serve half a file.

Where esbuild is missing or fails, the page loads the modules themselves, as before, and
the reason is logged once per digest: the viewer works either way.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
from pathlib import Path

from server.config import PROJECT_ROOT

log = logging.getLogger(__name__)

#: The viewer's entry module, as index.html names it, and its folder.
ENTRY_URL = "/viewer/js/main.js"
SOURCE_DIR = PROJECT_ROOT / "viewer" / "js"
#: URL prefix the bundles are served under (server.web).
BUNDLE_URL = "/viewer/bundle/"
BUILD_TIMEOUT_S = 60
_failed: set[str] = set()


def sources_digest(source_dir: Path = SOURCE_DIR) -> str:
    """A short digest of every module's path, size and mtime (changes with any edit)."""
    h = hashlib.sha256()
    for path in sorted(source_dir.rglob("*.js")):
        st = path.stat()
        h.update(f"{path.relative_to(source_dir)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def esbuild_command() -> str | None:
    """The esbuild executable: the project's npm copy, else one on PATH, else None."""
    local = PROJECT_ROOT / "node_modules" / ".bin" / "esbuild"
    if os.access(local, os.X_OK):
        return str(local)
    return shutil.which("esbuild")


def build(out_dir: Path, digest: str, source_dir: Path = SOURCE_DIR) -> Path | None:
    """``out_dir/<digest>.js`` (with its source map), built now when missing; None when it
    cannot be built (no esbuild, a build error): the caller serves the modules instead."""
    target = out_dir / f"{digest}.js"
    if target.is_file():
        return target
    if digest in _failed:
        return None
    esbuild = esbuild_command()
    if esbuild is None:
        return _give_up(digest, "esbuild is not installed (run 'make'); serving the modules")
    out_dir.mkdir(parents=True, exist_ok=True)
    partial = out_dir / f"{digest}.{os.getpid()}.tmp.js"
    command = [esbuild, str(source_dir / "main.js"), "--bundle", "--format=esm", "--minify",
               "--target=es2020", "--sourcemap=linked", "--log-level=error",
               f"--outfile={partial}"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return _give_up(digest, f"esbuild did not run: {exc}")
    if done.returncode != 0 or not partial.is_file():
        return _give_up(digest, f"esbuild failed: {done.stderr.strip()[:500]}")
    _finish(partial, target)
    return target


def _finish(partial: Path, target: Path) -> None:
    """Rename the map first, then the bundle (whose name is what callers look for), with
    the map's name in the bundle rewritten to its final one."""
    partial_map = partial.with_name(partial.name + ".map")
    text = partial.read_text(encoding="utf-8")
    text = text.replace(f"sourceMappingURL={partial_map.name}",
                        f"sourceMappingURL={target.name}.map")
    if partial_map.is_file():
        os.replace(partial_map, target.with_name(target.name + ".map"))
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, target)


def _give_up(digest: str, why: str) -> None:
    if digest not in _failed:
        log.warning("viewer bundle not built: %s", why)
    _failed.add(digest)
    return None


def entry_url(cache_root: Path) -> str:
    """The URL index.html should load: the bundle when it exists or can be built, else
    the entry module."""
    digest = sources_digest()
    target = build(cache_root / "viewer-bundle", digest)
    return f"{BUNDLE_URL}{target.name}" if target is not None else ENTRY_URL
