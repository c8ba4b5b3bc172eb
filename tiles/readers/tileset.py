"""Delivered 3D Tiles (a folder with tileset.json): what it references, checked safely.

:func:`scan_tileset` walks the tile tree, following external tilesets (content that is
another .json), and lists every file the tileset needs. Nothing outside the tileset's
folder is ever opened: a content URI that is absolute, has a scheme (``http:``,
``file:``, ``data:``), contains ``..`` that climbs out, or resolves (through symlinks)
outside the folder is refused before anything is read. Problems that make the tileset
unusable (missing files, unreadable JSON, a root without a volume) are collected into
one report rather than stopping at the first.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from tiles.errors import InputError, UnsafePathError

LEGACY = (".b3dm", ".i3dm", ".pnts", ".cmpt")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


@dataclass
class TilesetScan:
    """The files a tileset needs, by kind, and what is wrong with it."""

    folder: Path
    entry: Path  # the root tileset.json
    jsons: list[Path] = field(default_factory=list)
    glbs: list[Path] = field(default_factory=list)
    legacy: list[Path] = field(default_factory=list)
    other: list[Path] = field(default_factory=list)  # gltf buffers/images, ...
    problems: list[str] = field(default_factory=list)
    tiles: int = 0

    @property
    def files(self) -> list[Path]:
        return sorted(set(self.jsons + self.glbs + self.legacy + self.other))


def safe_target(base: Path, folder: Path, uri: str) -> Path:
    """The file a URI names, relative to ``base``; UnsafePathError if it leaves ``folder``."""
    if not isinstance(uri, str) or not uri:
        raise UnsafePathError(f"empty content URI in {base}")
    if _SCHEME.match(uri) or uri.startswith(("/", "\\")) or "\\" in uri:
        raise UnsafePathError(f"content URI {uri!r} is absolute or has a scheme; a "
                              "delivered tileset may only reference files in its folder")
    path = unquote(uri.split("?", 1)[0].split("#", 1)[0])
    target = (base / path).resolve()
    if not target.is_relative_to(folder):
        raise UnsafePathError(f"content URI {uri!r} leaves the tileset folder {folder}")
    return target


def _read_json(path: Path, scan: TilesetScan) -> dict | None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        scan.problems.append(f"{path.relative_to(scan.folder)}: unreadable JSON ({exc})")
        return None
    if not isinstance(document, dict) or not isinstance(document.get("root"), dict):
        scan.problems.append(f"{path.relative_to(scan.folder)}: no root tile")
        return None
    return document


def _content(uri: str, base: Path, scan: TilesetScan, depth: int) -> None:
    target = safe_target(base, scan.folder, uri)
    where = target.relative_to(scan.folder)
    if not target.is_file():
        scan.problems.append(f"content {where} is missing")
        return
    suffix = target.suffix.lower()
    if suffix == ".json":
        _walk_document(target, scan, depth + 1)
    elif suffix == ".glb":
        scan.glbs.append(target)
    elif suffix in LEGACY:
        scan.legacy.append(target)
    elif suffix == ".gltf":
        scan.other.append(target)
        _gltf_resources(target, scan)
    else:
        scan.problems.append(f"content {where} has an unknown format ({suffix or 'none'})")


def _gltf_resources(path: Path, scan: TilesetScan) -> None:
    """A .gltf content's buffers and images (they must stay inside the folder too)."""
    try:
        gltf = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        scan.problems.append(f"{path.relative_to(scan.folder)}: unreadable glTF ({exc})")
        return
    for item in gltf.get("buffers", []) + gltf.get("images", []):
        uri = item.get("uri")
        if uri and not uri.startswith("data:"):
            scan.other.append(safe_target(path.parent, scan.folder, uri))


def _walk_tile(tile: dict, base: Path, scan: TilesetScan, depth: int) -> None:
    scan.tiles += 1
    contents = tile.get("contents") or ([tile["content"]] if "content" in tile else [])
    for content in contents:
        uri = content.get("uri", content.get("url")) if isinstance(content, dict) else None
        _content(uri, base, scan, depth)
    for child in tile.get("children") or []:
        if isinstance(child, dict):
            _walk_tile(child, base, scan, depth)


def _walk_document(path: Path, scan: TilesetScan, depth: int) -> None:
    if depth > 32 or path in scan.jsons:
        scan.problems.append(f"{path.relative_to(scan.folder)}: external tilesets nest "
                             "too deep or in a cycle")
        return
    scan.jsons.append(path)
    document = _read_json(path, scan)
    if document is not None:
        _walk_tile(document["root"], path.parent, scan, depth)


def scan_tileset(path: str | Path) -> TilesetScan:
    """Scan the tileset at ``path`` (its folder or its tileset.json); see the module doc."""
    path = Path(path)
    entry = path / "tileset.json" if path.is_dir() else path
    if not entry.is_file() or entry.name != "tileset.json":
        raise InputError(f"{path} is not a tileset: give the folder holding tileset.json "
                         "or the tileset.json itself")
    folder = entry.parent.resolve()
    scan = TilesetScan(folder=folder, entry=entry.resolve())
    _walk_document(scan.entry, scan, 0)
    return scan
