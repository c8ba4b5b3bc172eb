"""Tile stores (the :class:`tiles.model.TileStore` protocol): on disk and in memory.

Both refuse unsafe paths the same way (:func:`check_relative_path`), write into an
unpublished version and publish it in one atomic step; one contract test runs against
both (tests/tiles/test_store_contract.py).

:class:`FileTileStore` layout under ``root``::

    <tileset_id>            -> symlink to .versions/<tileset_id>.<token> (the live version)
    .versions/<id>.<token>/  published versions (the previous one is removed after a swap)
    .staging/<id>.<key>/     a build in progress; kept after a failure so a re-run with the
                             same key (a hash of the build inputs) resumes it

Publishing renames the staging folder into ``.versions`` and swaps the symlink with
``os.replace``, one atomic step: a reader sees the old tileset or the new one, never a
mix, and a failed build leaves the previous version serving.
"""
from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Iterable, Iterator, Mapping

from tiles.errors import StoreError, UnsafePathError
from tiles.model import TileStore

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_VERSIONS = ".versions"
_STAGING = ".staging"


def check_tileset_id(tileset_id: str) -> str:
    """Return ``tileset_id`` if it is a safe folder name, else raise UnsafePathError."""
    if not isinstance(tileset_id, str) or not _ID_RE.match(tileset_id) or ".." in tileset_id:
        raise UnsafePathError(
            f"invalid tileset id {tileset_id!r}: use letters, digits, '_', '-' and '.', "
            "starting with a letter or digit (at most 128 characters)")
    return tileset_id


def check_relative_path(path: str) -> str:
    """Return a normalised relative POSIX path, or raise UnsafePathError.

    Refuses absolute paths, '..' and '.' components, backslashes, NUL and any
    '%' (an encoded separator or dot that a later decode could turn into a traversal).
    """
    if not isinstance(path, str) or not path or "\x00" in path or "\\" in path or "%" in path:
        raise UnsafePathError(f"unsafe tile path {path!r}")
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        raise UnsafePathError(f"absolute tile path {path!r} is not allowed")
    parts = [p for p in path.split("/") if p != ""]
    if not parts or any(p in (".", "..") for p in parts):
        raise UnsafePathError(f"tile path {path!r} may not contain '.' or '..' parts")
    return "/".join(parts)


def write_atomic(target: Path, data: bytes) -> None:
    """Write bytes to ``target`` through a temporary sibling and an atomic rename."""
    if not target.parent.is_dir():
        target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.replace(tmp, target)


def write_tileset(store: TileStore, tileset_id: str,
                  files: Mapping[str, bytes] | Iterable[tuple[str, bytes]]) -> None:
    """Put ``files`` into a fresh version and publish it; on any failure nothing is
    published and the half-written version is removed."""
    version = uuid.uuid4().hex
    items = files.items() if isinstance(files, Mapping) else files
    try:
        for path, data in items:
            store.put(tileset_id, path, data, version=version)
        store.publish(tileset_id, version)
    except BaseException:
        store.delete(tileset_id, version=version)
        raise


class FileTileStore:
    """Tilesets as folders under ``root``; see the module docstring for the layout."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    # -- reading -----------------------------------------------------------------------
    def tileset_dir(self, tileset_id: str) -> Path:
        """The live folder of a tileset (resolved), or raise StoreError if not published."""
        link = self.root / check_tileset_id(tileset_id)
        if not link.exists():
            raise StoreError(f"tileset {tileset_id!r} does not exist in {self.root}")
        resolved = link.resolve()
        if not resolved.is_relative_to(self.root) or not resolved.is_dir():
            raise UnsafePathError(f"tileset {tileset_id!r} points outside the store")
        return resolved

    def path_for(self, tileset_id: str, path: str, *, version: str | None = None) -> Path:
        """The file for ``path`` in a tileset; refuses every escape from the tileset folder.

        The file need not exist; the caller checks. Symlinks inside the tileset are
        followed only if they stay inside it. (The server serves files by this path.)
        """
        if version is None:
            base = self.tileset_dir(tileset_id)
        else:
            base = self._staging_dir(tileset_id, version).resolve()
        candidate = (base / check_relative_path(path)).resolve()
        if not candidate.is_relative_to(base):
            raise UnsafePathError(f"tile path {path!r} leaves tileset {tileset_id!r}")
        return candidate

    def get(self, tileset_id: str, path: str, *, version: str | None = None) -> bytes:
        target = self.path_for(tileset_id, path, version=version)
        if not target.is_file():
            raise StoreError(f"{path!r} not found in tileset {tileset_id!r}")
        return target.read_bytes()

    def exists(self, tileset_id: str, path: str, *, version: str | None = None) -> bool:
        """False for a missing file and for a path the store refuses to serve."""
        try:
            return self.path_for(tileset_id, path, version=version).is_file()
        except StoreError:
            return False

    def list(self, tileset_id: str, *, version: str | None = None) -> Iterator[str]:
        """Relative POSIX paths of every file in the tileset (or version), sorted."""
        if version is None:
            base = self.tileset_dir(tileset_id)
        else:
            base = self._staging_dir(tileset_id, version)
            if not base.is_dir():
                raise StoreError(f"tileset {tileset_id!r} has no version {version!r}")
        for file in sorted(p for p in base.rglob("*") if p.is_file()
                           and not p.name.endswith(".tmp")):
            yield file.relative_to(base).as_posix()

    def tilesets(self) -> list[str]:
        """Ids of the published tilesets."""
        return sorted(p.name for p in self.root.iterdir()
                      if not p.name.startswith(".") and (p.is_symlink() or p.is_dir()))

    # -- writing -----------------------------------------------------------------------
    def _staging_dir(self, tileset_id: str, version: str) -> Path:
        return self.root / _STAGING / f"{check_tileset_id(tileset_id)}.{check_tileset_id(version)}"

    def put(self, tileset_id: str, path: str, data: bytes, *, version: str) -> None:
        """Write ``data`` into the unpublished ``version`` (tmp file + rename: a crash
        leaves no torn file)."""
        write_atomic(self._staging_dir(tileset_id, version) / check_relative_path(path), data)

    def publish(self, tileset_id: str, version: str) -> None:
        """Make ``version`` the live tileset (atomic symlink swap); the old one is removed."""
        directory = self._staging_dir(tileset_id, version)
        if not directory.is_dir():
            raise StoreError(f"tileset {tileset_id!r} has no version {version!r} to publish")
        versions = self.root / _VERSIONS
        versions.mkdir(exist_ok=True)
        target = versions / f"{tileset_id}.{uuid.uuid4().hex[:12]}"
        os.rename(directory, target)
        link = self.root / tileset_id
        previous = link.resolve() if link.is_symlink() else None
        if link.exists() and not link.is_symlink():  # a folder placed by hand
            legacy = versions / f"{tileset_id}.legacy-{uuid.uuid4().hex[:8]}"
            os.rename(link, legacy)
            previous = legacy
        tmp_link = self.root / f".{tileset_id}.{uuid.uuid4().hex[:8]}.link"
        os.symlink(os.path.relpath(target, self.root), tmp_link)
        os.replace(tmp_link, link)
        if previous is not None and previous != target and previous.is_relative_to(versions):
            shutil.rmtree(previous, ignore_errors=True)

    def delete(self, tileset_id: str, *, version: str | None = None) -> None:
        """Remove an unpublished version, or a published tileset and all its versions."""
        if version is not None:
            shutil.rmtree(self._staging_dir(tileset_id, version), ignore_errors=True)
            return
        link = self.root / check_tileset_id(tileset_id)
        target = link.resolve() if link.is_symlink() else None
        if link.is_symlink():
            link.unlink()
        elif link.is_dir():
            shutil.rmtree(link)
        else:
            raise StoreError(f"tileset {tileset_id!r} does not exist in {self.root}")
        if target is not None and target.is_relative_to(self.root / _VERSIONS):
            shutil.rmtree(target, ignore_errors=True)
        for stale in (self.root / _STAGING).glob(f"{tileset_id}.*"):
            shutil.rmtree(stale, ignore_errors=True)


class MemoryTileStore:
    """Tilesets in a dict of this process (tests, previews); not shared between
    processes, so a build into it runs with ``workers=1``."""

    def __init__(self) -> None:
        self._live: dict[str, dict[str, bytes]] = {}
        self._staged: dict[tuple[str, str], dict[str, bytes]] = {}

    def __reduce__(self):
        raise StoreError("a MemoryTileStore cannot be sent to worker processes: build "
                         "into it with workers=1, or use a FileTileStore")

    def _files(self, tileset_id: str, version: str | None) -> dict[str, bytes]:
        check_tileset_id(tileset_id)
        if version is None:
            files = self._live.get(tileset_id)
        else:
            files = self._staged.get((tileset_id, check_tileset_id(version)))
        if files is None:
            what = "does not exist" if version is None else f"has no version {version!r}"
            raise StoreError(f"tileset {tileset_id!r} {what}")
        return files

    def get(self, tileset_id: str, path: str, *, version: str | None = None) -> bytes:
        files, path = self._files(tileset_id, version), check_relative_path(path)
        if path not in files:
            raise StoreError(f"{path!r} not found in tileset {tileset_id!r}")
        return files[path]

    def exists(self, tileset_id: str, path: str, *, version: str | None = None) -> bool:
        """False for a missing file and for a path the store refuses to serve."""
        try:
            return check_relative_path(path) in self._files(tileset_id, version)
        except StoreError:
            return False

    def list(self, tileset_id: str, *, version: str | None = None) -> Iterator[str]:
        yield from sorted(self._files(tileset_id, version))

    def tilesets(self) -> list[str]:
        return sorted(self._live)

    def put(self, tileset_id: str, path: str, data: bytes, *, version: str) -> None:
        key = (check_tileset_id(tileset_id), check_tileset_id(version))
        self._staged.setdefault(key, {})[check_relative_path(path)] = bytes(data)

    def publish(self, tileset_id: str, version: str) -> None:
        self._live[tileset_id] = self._files(tileset_id, version)  # one assignment
        del self._staged[(tileset_id, version)]

    def delete(self, tileset_id: str, *, version: str | None = None) -> None:
        check_tileset_id(tileset_id)
        if version is not None:
            self._staged.pop((tileset_id, version), None)
            return
        if self._live.pop(tileset_id, None) is None:
            raise StoreError(f"tileset {tileset_id!r} does not exist")
        for key in [k for k in self._staged if k[0] == tileset_id]:
            del self._staged[key]
