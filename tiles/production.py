"""A whole OSGB production -> one 3D Tiles 1.1 tileset, the producer's pyramid kept.

1. every tile folder is converted on the process pool (or Dask) by
   :func:`tiles.build.pyramid.convert_folder`, which writes its glbs into the staging folder
   and, last, a marker with its subtree;
2. the folders are grouped into a quadtree over their ``Tile_+xxx_+yyy`` grid
   positions (:mod:`tiles.build.quadtree`), so no tile holds thousands of children; each
   parent's content is made from its children's coarsest levels, simplified and packed
   into one texture atlas;
3. tileset.json is written, :func:`tiles.check.check_directory` runs, and the staging
   folder is published atomically.

The staging and work folders are named by a hash of the inputs (file names, sizes and
times) and options, so an import that was killed resumes: finished folders (those with
a marker) and finished parents are not converted again.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tiles import georef
from tiles.build.pyramid import FolderJob, convert_folder
from tiles.build.quadtree import build_parents
from tiles.build.tileset import tileset_json
from tiles.build.workers import open_executor
from tiles.errors import InputError
from tiles.progress import Progress, ProgressTracker
from tiles.readers.contextcapture import PhotoSource, grid_position
from tiles.readers.osgb import read_osgb
from tiles.model import BoundingBox, TileNode, TileStore
from tiles.validate_early import EarlyValidator, check_version

FORMAT_VERSION = "photo-2"  # 2: parents re-baked (tiles.build.parent_bake)
#: Productions with fewer tile folders convert in-process (see _workers).
INLINE_FOLDERS = 4


@dataclass
class PhotoOptions:
    """How to build a production; see docs/tiling.md."""

    name: str = ""
    workers: int = 0
    dask_scheduler: str = ""
    compression: str = "none"
    texture_format: str = "jpeg"
    max_texture_px: int = 1024  # parents' atlases
    max_triangles_per_tile: int = 30_000  # parents
    work_dir: str | None = None
    keep_work: bool = False
    validate_glb: bool = True  # every glb, through one early-started validator


def enu_origin(source: PhotoSource) -> np.ndarray:
    """ECEF centre of the first tile's root node: the build's ENU frame origin."""
    first = read_osgb(source.roots[source.folders[0].name][0])
    for node in first.nodes:
        if node.center is not None:
            local = np.asarray([node.center], dtype=np.float64)
            return georef.to_ecef(local, source.frame)[0]
        for geometry in node.geometries:
            return georef.to_ecef(geometry.positions.mean(axis=0, keepdims=True),
                                  source.frame)[0]
    raise InputError(f"{first.path} holds no geometry: check the production's root files")


def input_key(source: PhotoSource, options: PhotoOptions, origin: np.ndarray) -> str:
    """Hash of every input file's name, size and time, the frame and the options."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(repr((FORMAT_VERSION, source.frame.describe(), origin.round(4).tolist(),
                        options.compression, options.texture_format,
                        options.max_texture_px, options.max_triangles_per_tile)).encode())
    for folder in source.folders:
        digest.update(folder.name.encode())
        for path in sorted(folder.glob("*.osgb")):
            stat = path.stat()
            digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def _convert_folders(source, target: tuple, work: Path, origin, options, executor,
                     tracker) -> list[dict]:
    """Step 1: every folder once; folders with a marker from a killed run are reused."""
    results: dict[str, dict] = {}
    futures = []
    for folder in source.folders:
        job = FolderJob(folder=str(folder),
                        roots=tuple(str(p) for p in source.roots[folder.name]),
                        frame=source.frame, enu_origin=tuple(float(v) for v in origin),
                        target=target, work_dir=str(work),
                        texture_format=options.texture_format,
                        compression=options.compression)
        if job.marker.is_file():
            results[folder.name] = json.loads(job.marker.read_text())
            continue
        futures.append(executor.submit(convert_folder, job))
    tracker.update(phase="tiling", tiles=len(results), tiles_total=len(source.folders))
    import concurrent.futures as cf
    for future in cf.as_completed(futures):
        result = future.result()
        results[result["name"]] = result
        tracker.update(tiles=len(results),
                       triangles=sum(r["triangles"] for r in results.values()))
    return [results[f.name] for f in source.folders]


def _grid(folders: list[dict]) -> list[tuple[int, int]]:
    """Grid cell of each converted folder: from its name, else from its position."""
    cells = [grid_position(Path(f["name"])) for f in folders]
    if all(c is not None for c in cells):
        return cells
    lo = np.array([np.min([t["lo"] for t in f["tiles"]], axis=0) for f in folders])
    hi = np.array([np.max([t["hi"] for t in f["tiles"]], axis=0) for f in folders])
    size = max(float(np.median((hi - lo)[:, :2].max(axis=1))), 1e-3)
    centres = (lo + hi)[:, :2] / 2.0
    return [tuple(int(v) for v in np.floor((c - centres.min(axis=0)) / size)) for c in centres]


def tile_node(tile: dict, parent_error: float | None = None) -> TileNode:
    """A converted subtree (plain dicts from the workers) as TileNodes; errors are
    clamped so that none exceeds its parent's (3D Tiles requires it)."""
    error = float(tile["error"])
    if parent_error is not None:
        error = min(error, parent_error)
    content = tile.get("content")
    return TileNode(
        key=tile.get("key", ""), refine="REPLACE",
        bounds=BoundingBox.of(tile["lo"], tile["hi"]),
        geometric_error=error if tile["children"] else 0.0, content=content,
        content_bounds=BoundingBox.of(tile["content_lo"], tile["content_hi"])
        if content else None, triangles=int(tile.get("triangles", 0)),
        children=[tile_node(child, error) for child in tile["children"]])


def tileset_document(root: dict, origin: np.ndarray, extras: dict) -> bytes:
    """tileset.json bytes for the assembled tree (root carries ENU->ECEF)."""
    return tileset_json(tile_node(root), georef.enu_to_ecef_matrix(origin), extras=extras)


def _summary(tileset_id: str, options: PhotoOptions, source: PhotoSource, root: dict,
             folders: list[dict], origin: np.ndarray, warnings: list[str], started: float):
    from tiles.pipeline import BuildSummary
    lo, hi = np.asarray(root["lo"]), np.asarray(root["hi"])
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1])
                        for z in (lo[2], hi[2])])
    llh = georef.ecef_to_lonlatheight(georef.enu_to_ecef_points(corners, origin))
    count = _count_tiles(root)
    return BuildSummary(
        tileset_id=tileset_id, name=options.name or tileset_id, kind="reality",
        triangles=sum(f["triangles"] for f in folders), tiles=count, features=0,
        bounds=[float(llh[:, 0].min()), float(llh[:, 1].min()),
                float(llh[:, 0].max()), float(llh[:, 1].max())],
        height=[float(llh[:, 2].min()), float(llh[:, 2].max())],
        root_transform=georef.column_major(georef.enu_to_ecef_matrix(origin)),
        frame=source.frame.describe(), warnings=warnings,
        seconds=round(time.monotonic() - started, 3), refine="REPLACE")


def _count_tiles(tile: dict) -> int:
    return int(bool(tile.get("content"))) + sum(_count_tiles(c) for c in tile["children"])


def _warnings(folders: list[dict]) -> list[str]:
    out = [w for f in folders for w in f["warnings"]]
    missing = sum(f["missing_children"] for f in folders)
    if missing:
        out.insert(0, f"{missing} child files referenced by PagedLODs do not exist; "
                      "their parents are leaves (the finest level delivered)")
    return out


def build_production(source: PhotoSource, store: TileStore, tileset_id: str,
                     options: PhotoOptions | None = None,
                     progress: Progress | None = None):
    """Convert ``source`` into ``store`` as ``tileset_id``; publish only a checked set.

    Returns a :class:`tiles.pipeline.BuildSummary` whose ``levels`` extra (in
    ``frame['levels']``) lists triangles per pyramid level.
    """
    from tiles.store import check_tileset_id
    options = options or PhotoOptions()
    check_tileset_id(tileset_id)
    started = time.monotonic()
    tracker = ProgressTracker(progress)
    origin = enu_origin(source)
    key = input_key(source, options, origin)
    work_root = Path(options.work_dir) if options.work_dir else \
        Path(getattr(store, "root", ".")) / ".work"
    work = work_root / f"{tileset_id}.{key}"
    validator = EarlyValidator() if options.validate_glb else None
    target = (store, tileset_id, key)  # where workers put their glbs (picklable)
    with open_executor(_workers(options, source), options.dask_scheduler) as executor, \
            _closing(validator):
        folders = _convert_folders(source, target, work, origin, options, executor, tracker)
        readable = [f for f in folders if f["tiles"]]
        if not readable:
            raise InputError("no tile folder could be read (" + "; ".join(
                _warnings(folders)[:3]) + "): check the .osgb files")
        folders = readable
        root = build_parents(folders, _grid(folders), target, work, options, executor)
        warnings = _warnings(folders)
        extras = {"cimtwin": {"kind": "reality", "frame": source.frame.describe(),
                              "levels": _levels(folders)}}
        store.put(tileset_id, "tileset.json", tileset_document(root, origin, extras),
                  version=key)
        tracker.update(phase="checking")
        check_version(store, tileset_id, key, validator, options.validate_glb)
        tracker.update(phase="publishing")
        store.publish(tileset_id, key)
    if not options.keep_work:
        shutil.rmtree(work, ignore_errors=True)
    summary = _summary(tileset_id, options, source, root, folders, origin, warnings, started)
    summary.frame["levels"] = _levels(folders)
    tracker.update(phase="done", force=True)
    return summary


@contextlib.contextmanager
def _closing(validator: EarlyValidator | None):
    try:
        yield validator
    finally:
        if validator is not None:
            validator.close()


def _workers(options: PhotoOptions, source: PhotoSource) -> int:
    """Worker processes: as configured, but a production of fewer than
    ``INLINE_FOLDERS`` folders converts in this process when ``workers`` is 0 (auto):
    starting a pool costs about a second, as long as converting two folders."""
    if options.workers == 0 and not options.dask_scheduler and \
            len(source.folders) < INLINE_FOLDERS:
        return 1
    return options.workers


def _levels(folders: list[dict]) -> dict[str, int]:
    """Triangles per pyramid level (0 = the folders' root files) over all folders."""
    out: dict[str, int] = {}
    for folder in folders:
        for level, count in folder["levels"].items():
            out[level] = out.get(level, 0) + int(count)
    return dict(sorted(out.items(), key=lambda kv: int(kv[0])))
