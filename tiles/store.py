"""File-system tile store with atomic publish and safe path resolution.

Layout under ``root``::

    <tileset_id>            -> symlink to .versions/<tileset_id>.<token> (the live version)
    .versions/<id>.<token>/  published versions (the previous one is removed after a swap)
    .staging/<id>.<key>/     a build in progress; kept after a failure so a re-run with the
                             same key (a hash of the build inputs) resumes it

Publishing renames the staging folder into ``.versions`` and swaps the symlink with
``os.replace``, one atomic step: a reader sees the old tileset or the new one, never a
mix, and a failed build leaves the previous version serving.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Iterator

from tiles.errors import StoreError, UnsafePathError

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


class StagingWriter:
    """Writes one build's files into its staging folder (each file atomically)."""

    def __init__(self, directory: Path):
        self.directory = directory

    def _target(self, path: str) -> Path:
        return self.directory / check_relative_path(path)

    def put(self, path: str, data: bytes) -> None:
        """Write ``data`` at ``path`` (tmp file + rename, so a crash leaves no torn file)."""
        write_atomic(self._target(path), data)

    def has(self, path: str) -> bool:
        """True when ``path`` was already written (by this run or an interrupted one)."""
        return self._target(path).is_file()

    def get(self, path: str) -> bytes:
        return self._target(path).read_bytes()


def write_atomic(target: Path, data: bytes) -> None:
    """Write bytes to ``target`` through a temporary sibling and an atomic rename."""
    if not target.parent.is_dir():
        target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.replace(tmp, target)


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

    def path_for(self, tileset_id: str, path: str) -> Path:
        """The file for ``path`` in a tileset; refuses every escape from the tileset folder.

        The file need not exist; the caller checks. Symlinks inside the tileset are
        followed only if they stay inside it.
        """
        base = self.tileset_dir(tileset_id)
        candidate = (base / check_relative_path(path)).resolve()
        if not candidate.is_relative_to(base):
            raise UnsafePathError(f"tile path {path!r} leaves tileset {tileset_id!r}")
        return candidate

    def get(self, tileset_id: str, path: str) -> bytes:
        target = self.path_for(tileset_id, path)
        if not target.is_file():
            raise StoreError(f"{path!r} not found in tileset {tileset_id!r}")
        return target.read_bytes()

    def exists(self, tileset_id: str, path: str) -> bool:
        try:
            return self.path_for(tileset_id, path).is_file()
        except StoreError:
            return False

    def list(self, tileset_id: str) -> Iterator[str]:
        """Relative POSIX paths of every file in the tileset, sorted."""
        base = self.tileset_dir(tileset_id)
        for file in sorted(p for p in base.rglob("*") if p.is_file()):
            yield file.relative_to(base).as_posix()

    def tilesets(self) -> list[str]:
        """Ids of the published tilesets."""
        return sorted(p.name for p in self.root.iterdir()
                      if not p.name.startswith(".") and (p.is_symlink() or p.is_dir()))

    # -- writing -----------------------------------------------------------------------
    def staging_dir(self, tileset_id: str, key: str) -> Path:
        return self.root / _STAGING / f"{check_tileset_id(tileset_id)}.{check_tileset_id(key)}"

    @contextlib.contextmanager
    def staging(self, tileset_id: str, key: str | None = None) -> Iterator[StagingWriter]:
        """Yield a writer; publish atomically on clean exit.

        With ``key`` (a hash of the build inputs) the staging folder survives a failure
        and a later call with the same key finds the files already written. Without a
        key a failed staging folder is removed.
        """
        check_tileset_id(tileset_id)
        directory = self.staging_dir(tileset_id, key or uuid.uuid4().hex)
        directory.mkdir(parents=True, exist_ok=True)
        try:
            yield StagingWriter(directory)
        except BaseException:
            if key is None:
                shutil.rmtree(directory, ignore_errors=True)
            raise
        self.publish(tileset_id, directory)

    def publish(self, tileset_id: str, directory: Path) -> None:
        """Make ``directory`` the live version of ``tileset_id`` (atomic symlink swap)."""
        versions = self.root / _VERSIONS
        versions.mkdir(exist_ok=True)
        version = versions / f"{tileset_id}.{uuid.uuid4().hex[:12]}"
        os.rename(directory, version)
        link = self.root / tileset_id
        previous = link.resolve() if link.is_symlink() else None
        if link.exists() and not link.is_symlink():  # a folder placed by hand
            legacy = versions / f"{tileset_id}.legacy-{uuid.uuid4().hex[:8]}"
            os.rename(link, legacy)
            previous = legacy
        tmp_link = self.root / f".{tileset_id}.{uuid.uuid4().hex[:8]}.link"
        os.symlink(os.path.relpath(version, self.root), tmp_link)
        os.replace(tmp_link, link)
        if previous is not None and previous != version and previous.is_relative_to(versions):
            shutil.rmtree(previous, ignore_errors=True)

    def delete(self, tileset_id: str) -> None:
        """Remove a published tileset (and any of its staging folders)."""
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
