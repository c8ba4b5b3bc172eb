"""build_tileset: a stream of MeshBatch -> a checked, atomically published 3D Tiles 1.1 set.

Steps (memory stays bounded by one batch plus one tile's work at a time):

1. read: repair each batch, place it once in float64 in the ENU frame at the first
   batch's centre, spill it to the work folder, sample triangle centroids, hash it;
2. plan the tree from the sample (:mod:`tiles.build.tiling`) and bucket the spilled
   triangles into leaf files;
3. build tiles bottom-up (:mod:`tiles.build.hlod`) on a process pool or Dask;
4. write tileset.json, run :func:`tiles.check.check_tileset` on the unpublished version,
   publish it atomically (:class:`tiles.model.TileStore`).

The work folder and the store's unpublished version are named by a hash of the inputs
and options, so a re-run after an interruption (with the same ``work_dir``) skips the
partition and every finished tile.
"""
from __future__ import annotations

import contextlib
import hashlib
import pickle
import shutil
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from tiles import georef
from tiles.build.chunk import ChunkRef
from tiles.build.hlod import BuildContext
from tiles.build.reading import IngestState, read_batches
from tiles.build.schedule import PARTITION_INDEX, partition, schedule
from tiles.build.tileset import tileset_json
from tiles.build.workers import InlineExecutor, open_executor, worker_count
from tiles.check import check_tileset
from tiles.errors import CheckError, TilesError
from tiles.glb.metadata import infer_schema
from tiles.model import MeshBatch, TileNode, TileStore
from tiles.progress import Progress, ProgressTracker
from tiles.store import check_tileset_id

KINDS = ("bim", "reality", "buildings", "mesh", "terrain")
#: Bump when the output format changes, so old staging/work folders are not reused.
FORMAT_VERSION = "4"


@dataclass
class BuildOptions:
    """How to build a tileset; see docs/tiling.md for the defaults and why."""

    name: str = ""
    kind: str = "mesh"
    refine: str | None = None  # None = REPLACE for reality/terrain/mesh, ADD for bim/buildings
    max_triangles_per_tile: int = 30_000
    max_texture_px: int = 1024
    compression: str = "none"
    workers: int = 0
    dask_scheduler: str = ""
    geoid_offset_m: float = 0.0
    work_dir: str | None = None  # None: a temporary folder (no resume after a failure)
    enum_properties: tuple[str, ...] = ()
    keep_work: bool = False
    validate_glb: bool = True  # run gltf-validator over the glbs before publishing
    validate_sample: int = 64  # at most this many (spread over the tree); 0 = all

    def resolved_refine(self) -> str:
        if self.kind not in KINDS:
            raise TilesError(f"unknown kind {self.kind!r}: use one of {', '.join(KINDS)}")
        if self.refine is None:
            return "ADD" if self.kind in ("bim", "buildings") else "REPLACE"
        if self.refine not in ("ADD", "REPLACE"):
            raise TilesError(f"refine must be 'ADD', 'REPLACE' or None, not {self.refine!r}")
        return self.refine


@dataclass
class BuildSummary:
    """What was built; stored in the catalog and returned by the API."""

    tileset_id: str
    name: str
    kind: str
    triangles: int
    tiles: int
    features: int
    bounds: list[float]
    height: list[float]
    root_transform: list[float]
    frame: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    refine: str = "REPLACE"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _build_key(state: IngestState, options: BuildOptions, refine: str) -> str:
    """Hash of the placed input, materials, features and output-relevant options."""
    digest = state.digest.copy()
    for material in state.materials:
        # not Material.key(): it holds hash() of bytes, which differs per process, and
        # a re-run in a new process must find the same key to resume
        digest.update(repr((material.name, material.base_color, material.texture_mime,
                            material.metallic, material.roughness, material.double_sided,
                            material.unlit)).encode())
        if material.texture is not None:
            digest.update(hashlib.blake2b(material.texture, digest_size=16).digest())
    digest.update(repr(sorted(state.features.items(), key=lambda kv: kv[0])).encode())
    digest.update(repr((FORMAT_VERSION, refine, options.max_triangles_per_tile,
                        options.max_texture_px, options.compression,
                        tuple(options.enum_properties))).encode())
    return digest.hexdigest()


def _summary(tileset_id: str, options: BuildOptions, state: IngestState, root: TileNode,
             refine: str, started: float) -> BuildSummary:
    lo, hi = np.asarray(root.bounds.lo), np.asarray(root.bounds.hi)
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1])
                        for z in (lo[2], hi[2])])
    llh = georef.ecef_to_lonlatheight(georef.enu_to_ecef_points(corners, state.origin))
    return BuildSummary(
        tileset_id=tileset_id, name=options.name or tileset_id, kind=options.kind,
        triangles=state.triangles, tiles=sum(1 for t in root.walk() if t.content),
        features=len(state.features),
        bounds=[float(llh[:, 0].min()), float(llh[:, 1].min()),
                float(llh[:, 0].max()), float(llh[:, 1].max())],
        height=[float(llh[:, 2].min()), float(llh[:, 2].max())],
        root_transform=georef.column_major(georef.enu_to_ecef_matrix(state.origin)),
        frame=state.frame or {}, warnings=state.warnings,
        seconds=round(time.monotonic() - started, 3), refine=refine)


def _with_geoid(batches: Iterable[MeshBatch], offset: float) -> Iterable[MeshBatch]:
    """Apply the build's geoid offset to orthometric batches that do not carry one."""
    for batch in batches:
        if offset and batch.frame.vertical == "orthometric" and not batch.frame.geoid_offset_m:
            batch = replace(batch, frame=replace(batch.frame, geoid_offset_m=offset))
        yield batch


def _ingest(batches, state: IngestState, options: BuildOptions, refine: str, tracker,
            executor, work_root: Path) -> tuple[Path, str]:
    """Read into a fresh folder, then move it to the folder named by the input's hash
    (or drop it when that folder already holds a finished partition: resume)."""
    tmp_work = state.work
    try:
        read_batches(_with_geoid(batches, options.geoid_offset_m), state, tracker, executor,
                     in_flight=max(2, 2 * workers_in_use(options)))
        key = _build_key(state, options, refine)
        work = work_root / f"{state.work.name.split('.ingest-')[0]}.{key}"
        if (work / PARTITION_INDEX).exists():
            shutil.rmtree(tmp_work, ignore_errors=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
            tmp_work.rename(work)
    except BaseException:
        shutil.rmtree(tmp_work, ignore_errors=True)
        raise
    state.work = work
    return work, key


def _tile_and_publish(state: IngestState, plan, inputs: dict[str, list[ChunkRef]],
                      store: TileStore, tileset_id: str, key: str, options: BuildOptions,
                      refine: str, tracker, executor) -> TileNode:
    """Steps 3-5: build every tile, write tileset.json, check, publish atomically.

    Everything is written into the store's unpublished version ``key``; a failure
    leaves it there (a re-run with the same input resumes) and the live tileset as it was.
    """
    schema = infer_schema(state.features.values(), options.enum_properties) \
        if state.features else None
    context = BuildContext(
        work_dir=str(state.work), store=store, tileset_id=tileset_id, version=key,
        materials=state.materials, features=state.features, schema=schema,
        compression=options.compression,
        max_triangles_per_tile=options.max_triangles_per_tile,
        max_texture_px=options.max_texture_px, refine=refine)
    shared = context if isinstance(executor, InlineExecutor) else context.save()
    root = schedule(plan, inputs, shared, executor, tracker, workers_in_use(options))
    store.put(tileset_id, "tileset.json", tileset_json(
        root, georef.enu_to_ecef_matrix(state.origin),
        extras={"cimtwin": {"kind": options.kind, "frame": state.frame}}), version=key)
    tracker.update(phase="checking")
    report = check_tileset(store, tileset_id, validate_glb=options.validate_glb,
                           validate_limit=options.validate_sample, version=key)
    if not report.ok:
        raise CheckError("the built tileset breaks the 3D Tiles rules and was not "
                         "published:\n" + report.to_text())
    tracker.update(phase="publishing")
    store.publish(tileset_id, key)
    return root


def _check_shareable(store: TileStore, options: BuildOptions) -> None:
    """Tasks on other processes write through a copy of the store: refuse one that
    cannot be copied there before any work is done."""
    if workers_in_use(options) == 1:
        return
    try:
        pickle.dumps(store)
    except (TilesError, pickle.PicklingError, TypeError) as exc:
        raise TilesError(f"this store cannot be used by worker processes ({exc}); "
                         "build with workers=1") from exc


def build_tileset(batches: Iterable[MeshBatch], store: TileStore, tileset_id: str,
                  options: BuildOptions | None = None,
                  progress: Progress | None = None) -> BuildSummary:
    """Tile ``batches`` into ``store`` as ``tileset_id``; publish only a checked tileset.

    Raises InputError / GeoreferenceError for input that cannot be used and CheckError
    if the result breaks the 3D Tiles rules; in every failure the previous version of
    the tileset keeps serving, and a re-run with the same input and ``work_dir``
    resumes.
    """
    options = options or BuildOptions()
    refine = options.resolved_refine()
    check_tileset_id(tileset_id)
    _check_shareable(store, options)
    started = time.monotonic()
    tracker = ProgressTracker(progress)
    with _work_root(options) as work_root, \
            open_executor(options.workers, options.dask_scheduler) as executor:
        state = IngestState(work=work_root / f"{tileset_id}.ingest-{uuid.uuid4().hex[:8]}",
                        refine=refine)
        work, key = _ingest(batches, state, options, refine, tracker, executor, work_root)
        plan, inputs = partition(state, work, options.max_triangles_per_tile, tracker,
                                  executor)
        root = _tile_and_publish(state, plan, inputs, store, tileset_id, key, options,
                                 refine, tracker, executor)
        if not options.keep_work:
            shutil.rmtree(work, ignore_errors=True)
    summary = _summary(tileset_id, options, state, root, refine, started)
    tracker.update(phase="done", force=True)
    return summary


@contextlib.contextmanager
def _work_root(options: BuildOptions) -> Iterator[Path]:
    """``options.work_dir`` (kept: a re-run resumes there), else a temporary folder
    removed after the build."""
    if options.work_dir:
        root = Path(options.work_dir)
        root.mkdir(parents=True, exist_ok=True)
        yield root
        return
    with tempfile.TemporaryDirectory(prefix="cimtwin-work-") as tmp:
        yield Path(tmp)


def workers_in_use(options: BuildOptions) -> int:
    """How many processes a build with ``options`` uses locally (for benchmarks)."""
    return 0 if options.dask_scheduler else worker_count(options.workers)
