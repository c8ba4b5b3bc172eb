"""Backups of a data dir: an online, consistent snapshot; restore; verify.

``backup(services, dest)`` writes ``dest/snapshots/<UTC time>/`` with
- ``db/``: every SQLite file (catalog, layers GeoPackage, metrics, users, audit, jobs,
  BIM element indexes) copied with the SQLite online backup API, so each is a consistent
  copy while the server keeps writing;
- ``files/``: other small files of the data dir (the share signing key);
- ``manifest.json``: SHA-256 and size of every file, and per tileset its files;
while tile files go to ``dest/objects/<sha256>`` once: a second backup into the same
DEST copies only content it has not seen (incremental by content hash). Published tileset
versions never change, so a file whose version, path, size and mtime match the previous
manifest keeps its hash without being read again. A PostgreSQL layer or metrics store
(``postgresql://`` in config) is dumped with ``pg_dump -Fc`` into ``db/``.

The snapshot folder is written under a temporary name and renamed when complete: a backup
that stops half-way leaves no snapshot that looks whole.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

SKIP_DIRS = {"tiles", "uploads", "bench", "work"}
SQLITE_MAGIC = b"SQLite format 3\x00"
CHUNK = 1 << 20


class BackupError(Exception):
    """A backup or restore that cannot be done (the message says why)."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _is_sqlite(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(16) == SQLITE_MAGIC


def _data_files(data_dir: Path):
    """Files of the data dir outside the tile store (no SQLite -wal/-shm/-journal)."""
    for path in sorted(data_dir.rglob("*")):
        rel = path.relative_to(data_dir)
        if rel.parts[0] in SKIP_DIRS or not path.is_file() or path.is_symlink():
            continue
        if path.name.endswith(("-wal", "-shm", "-journal")) or ".tmp" in path.name:
            continue
        yield rel, path


def _copy_sqlite(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _pg_dumps(services, db_dir: Path) -> dict[str, str]:
    """pg_dump -Fc of each configured PostgreSQL store -> {file name: url (no password)}."""
    urls = {"layers": services.config["layers"]["url"],
            "metrics": services.config["metrics"]["store_url"]}
    dumped = {}
    for name, url in urls.items():
        if not url.startswith("postgresql://"):
            continue
        target = db_dir / f"{name}.pgdump"
        subprocess.run(["pg_dump", "-Fc", "-f", str(target), url], check=True,
                       capture_output=True)
        dumped[target.name] = url.split("@")[-1]
    return dumped


@dataclass
class _Objects:
    """The content-addressed tile objects of one backup destination."""
    root: Path
    copied_files: int = 0
    copied_bytes: int = 0

    def path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest

    def add(self, source: Path, digest: str | None) -> str:
        """Store ``source`` (hashing it unless its digest is known); returns the digest."""
        if digest is not None and self.path(digest).is_file():
            return digest
        tmp = self.root / f".{uuid.uuid4().hex}.tmp"
        tmp.parent.mkdir(parents=True, exist_ok=True)
        hasher = hashlib.sha256()
        with open(source, "rb") as src, open(tmp, "wb") as out:
            for chunk in iter(lambda: src.read(CHUNK), b""):
                hasher.update(chunk)
                out.write(chunk)
        digest = hasher.hexdigest()
        target = self.path(digest)
        if target.is_file():
            tmp.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)
            self.copied_files += 1
            self.copied_bytes += target.stat().st_size
        return digest


def _previous_manifest(dest: Path) -> dict:
    snapshots = list_snapshots(dest)
    if not snapshots:
        return {}
    return json.loads((dest / "snapshots" / snapshots[-1] / "manifest.json").read_text())


def _backup_tileset(store, tileset_id: str, objects: _Objects, previous: dict) -> dict:
    """One tileset's live version into the objects; retried if it is re-published meanwhile."""
    for _attempt in range(5):
        try:
            base = store.tileset_dir(tileset_id)
            known = previous.get(tileset_id, {})
            known_files = known.get("files", {}) if known.get("version") == base.name else {}
            files = {}
            for path in sorted(p for p in base.rglob("*") if p.is_file()):
                rel, stat = path.relative_to(base).as_posix(), path.stat()
                seen = known_files.get(rel)
                digest = seen["sha256"] if seen and seen["size"] == stat.st_size \
                    and seen["mtime_ns"] == stat.st_mtime_ns else None
                files[rel] = {"sha256": objects.add(path, digest), "size": stat.st_size,
                              "mtime_ns": stat.st_mtime_ns}
            return {"version": base.name, "files": files}
        except FileNotFoundError:  # a new version was published while we read: take it
            continue
    raise BackupError(f"tileset {tileset_id!r} kept changing during the backup; try again")


def backup(services, dest: Path) -> dict:
    """An online snapshot of the services' data dir into ``dest`` (see module docstring)."""
    started = time.perf_counter()
    dest = Path(dest).resolve()
    data_dir = services.data_dir.resolve()
    if dest == data_dir or dest.is_relative_to(data_dir):
        raise BackupError(f"the backup destination {dest} is inside the data dir; "
                          "give a folder on another disk")
    name = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    work = dest / "snapshots" / f".{name}.partial"
    (work / "db").mkdir(parents=True)
    previous = _previous_manifest(dest).get("tilesets", {})
    objects = _Objects(dest / "objects")
    tilesets = {tid: _backup_tileset(services.store, tid, objects, previous)
                for tid in services.store.tilesets()}
    manifest = {"format": 1, "created": name, "source": data_dir.name,
                "databases": {}, "files": {}, "tilesets": tilesets,
                "postgresql": _pg_dumps(services, work / "db")}
    for rel, path in _data_files(data_dir):
        sqlite = _is_sqlite(path)
        target = work / ("db" if sqlite else "files") / rel
        if sqlite:
            _copy_sqlite(path, target)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        manifest["databases" if sqlite else "files"][rel.as_posix()] = {
            "sha256": sha256_file(target), "size": target.stat().st_size}
    (work / "manifest.json").write_text(json.dumps(manifest, indent=1))
    final = dest / "snapshots" / name
    os.rename(work, final)
    db_bytes = sum(v["size"] for v in manifest["databases"].values())
    return {"snapshot": name, "path": str(final), "tilesets": len(tilesets),
            "tile_files": sum(len(t["files"]) for t in tilesets.values()),
            "copied_files": objects.copied_files, "copied_bytes": objects.copied_bytes,
            "database_bytes": db_bytes, "seconds": round(time.perf_counter() - started, 3)}


def list_snapshots(src: Path) -> list[str]:
    folder = Path(src) / "snapshots"
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and (p / "manifest.json").is_file())


def _snapshot(src: Path, snapshot: str | None) -> tuple[Path, dict]:
    names = list_snapshots(src)
    if not names:
        raise BackupError(f"{src} holds no complete backup snapshot")
    name = snapshot or names[-1]
    if name not in names:
        raise BackupError(f"no snapshot {name!r} in {src}; there are: {', '.join(names)}")
    folder = Path(src) / "snapshots" / name
    return folder, json.loads((folder / "manifest.json").read_text())


@dataclass
class BackupReport:
    snapshots: int = 0
    checked_files: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_text(self) -> str:
        head = (f"backup OK: {self.snapshots} snapshot(s), {self.checked_files} files match "
                "their checksums" if self.ok else f"backup DAMAGED ({len(self.problems)} "
                "problem(s)):")
        return "\n".join([head] + [f"  {p}" for p in self.problems])


def verify_backup(src: Path) -> BackupReport:
    """Check every snapshot's files and every tile object against the manifests."""
    src, report = Path(src), BackupReport()
    names = list_snapshots(src)
    if not names:
        report.problems.append(f"{src} holds no complete backup snapshot")
    checked_objects: dict[str, bool] = {}
    for name in names:
        folder, manifest = _snapshot(src, name)
        report.snapshots += 1
        for section, sub in (("databases", "db"), ("files", "files")):
            for rel, info in manifest[section].items():
                _check_file(folder / sub / rel, info["sha256"], f"{name}/{sub}/{rel}", report)
        for tid, tileset in manifest["tilesets"].items():
            for rel, info in tileset["files"].items():
                digest = info["sha256"]
                if digest not in checked_objects:
                    checked_objects[digest] = _check_file(
                        src / "objects" / digest[:2] / digest, digest,
                        f"object {digest[:12]} ({tid}/{rel})", report)
    return report


def _check_file(path: Path, digest: str, label: str, report: BackupReport) -> bool:
    report.checked_files += 1
    if not path.is_file():
        report.problems.append(f"{label}: missing")
        return False
    if sha256_file(path) != digest:
        report.problems.append(f"{label}: checksum differs (damaged)")
        return False
    return True


def restore(src: Path, into: Path, snapshot: str | None = None) -> dict:
    """Restore a snapshot into an empty (or new) data dir; checks every byte it copies."""
    started = time.perf_counter()
    folder, manifest = _snapshot(Path(src), snapshot)
    into = Path(into)
    if into.exists() and any(into.iterdir()):
        raise BackupError(f"{into} is not empty: restore into an empty or new folder")
    tiles = into / "tiles"
    (tiles / ".versions").mkdir(parents=True)
    for section, sub in (("databases", "db"), ("files", "files")):
        for rel, info in manifest[section].items():
            _restore_file(folder / sub / rel, into / rel, info["sha256"])
    for tid, tileset in manifest["tilesets"].items():
        version = tiles / ".versions" / f"{tid}.restored-{uuid.uuid4().hex[:8]}"
        for rel, info in tileset["files"].items():
            digest = info["sha256"]
            _restore_file(Path(src) / "objects" / digest[:2] / digest, version / rel, digest)
        os.symlink(os.path.relpath(version, tiles), tiles / tid)
    for dump in manifest.get("postgresql", {}):
        _restore_file(folder / "db" / dump, into / "postgresql" / dump, None)
    return {"snapshot": manifest["created"], "into": str(into),
            "tilesets": len(manifest["tilesets"]), "databases": len(manifest["databases"]),
            "postgresql_dumps": sorted(manifest.get("postgresql", {})),
            "seconds": round(time.perf_counter() - started, 3)}


def _restore_file(source: Path, target: Path, digest: str | None) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    hasher = hashlib.sha256()
    with open(source, "rb") as src, open(target, "wb") as out:
        for chunk in iter(lambda: src.read(CHUNK), b""):
            hasher.update(chunk)
            out.write(chunk)
    if digest is not None and hasher.hexdigest() != digest:
        raise BackupError(f"{source} does not match its checksum: the backup is damaged "
                          "(run 'cimtwin backup verify')")


def summary_text(result: dict) -> str:
    return "\n".join(f"  {k:16} {v}" for k, v in result.items())
