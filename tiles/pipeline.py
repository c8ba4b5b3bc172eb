"""build_tileset: a stream of MeshBatch -> a checked, atomically published 3D Tiles 1.1 set.

Steps (memory stays bounded by one batch plus one tile's work at a time):

1. read: repair each batch, place it once in float64 in the ENU frame at the first
   batch's centre, spill it to the work folder, sample triangle centroids, hash it;
2. plan the tree from the sample (:mod:`tiles.build.tiling`) and bucket the spilled
   triangles into leaf files;
3. build tiles bottom-up (:mod:`tiles.build.hlod`) on a process pool or Dask;
4. write tileset.json, run :func:`tiles.check.check_directory`, publish atomically.

The work and staging folders are named by a hash of the inputs and options, so a
re-run after an interruption skips the partition and every finished tile.
"""
from __future__ import annotations

import concurrent.futures as cf
import concurrent.futures.process
import hashlib
import shutil
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from tiles import georef
from tiles.build.addtree import FeatureStats, plan_add_tree
from tiles.build.hlod import BuildContext, build_node
from tiles.build.ingest import batch_ecef_centre, texture_is_readable
from tiles.build.spill import bucket_spill, spill_batch
from tiles.build.tileset import tileset_json
from tiles.build.tiling import CentroidSample, plan_tree
from tiles.build.workers import open_executor, worker_count
from tiles.check import check_directory
from tiles.errors import CheckError, InputError, TilesError
from tiles.glb.metadata import infer_schema
from tiles.model import MeshBatch
from tiles.progress import Progress, ProgressTracker
from tiles.store import FileTileStore, check_tileset_id

KINDS = ("bim", "reality", "buildings", "mesh", "terrain")
#: Bump when the output format changes, so old staging/work folders are not reused.
FORMAT_VERSION = "3"


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
    work_dir: str | None = None
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


@dataclass
class _Ingest:
    """State accumulated while reading the input stream."""

    work: Path
    refine: str
    origin: np.ndarray | None = None
    frame: dict | None = None
    lo: np.ndarray = field(default_factory=lambda: np.full(3, np.inf))
    hi: np.ndarray = field(default_factory=lambda: np.full(3, -np.inf))
    triangles: int = 0
    spills: list[str] = field(default_factory=list)
    materials: list = field(default_factory=list)
    material_keys: dict = field(default_factory=dict)
    features: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    sample: CentroidSample = field(default_factory=CentroidSample)
    stats: FeatureStats = field(default_factory=FeatureStats)  # ADD trees only
    digest: Any = field(default_factory=lambda: hashlib.blake2b(digest_size=16))


def _material_index(state: _Ingest, batch: MeshBatch, label: str) -> tuple[int, bool]:
    material = batch.material
    key = material.key()
    if key not in state.material_keys:
        if material.texture is not None and not texture_is_readable(material.texture):
            state.warnings.append(f"{label}: texture of material {material.name!r} cannot "
                                  "be decoded; drawn with its base colour instead")
            material = replace(material, texture=None)
        state.material_keys[key] = len(state.materials)
        state.materials.append(material)
    index = state.material_keys[key]
    return index, state.materials[index].texture is not None


def _first_origin(state: _Ingest, batch: MeshBatch, label: str) -> bool:
    """Set the working frame from the first usable batch; False to skip this batch."""
    if len(batch.indices) == 0:
        state.warnings.append(f"{label}: empty mesh skipped")
        return False
    try:
        state.origin = batch_ecef_centre(batch)
    except ValueError:
        state.warnings.append(f"{label}: no finite coordinates, skipped")
        return False
    state.frame = batch.frame.describe()
    return True


def _apply_spill(state: _Ingest, result: dict, tracker: ProgressTracker) -> None:
    """Fold one spilled batch into the build state (in input order: deterministic)."""
    state.warnings.extend(result["warnings"])
    if result["path"] is None:
        return
    state.spills.append(result["path"])
    state.digest.update(result["digest"])
    state.sample.add(result["centroids"])
    if result["features"] is not None:
        state.stats.add_part(result["features"])
    state.lo = np.minimum(state.lo, result["lo"])
    state.hi = np.maximum(state.hi, result["hi"])
    state.triangles += result["triangles"]
    tracker.update(triangles=state.triangles)


def _read(batches: Iterable[MeshBatch], state: _Ingest, tracker: ProgressTracker,
          executor, in_flight: int) -> None:
    """Step 1: repair, place, spill (on the executor), sample and hash every batch.

    At most ``in_flight`` batches are queued at once, so memory stays bounded however
    fast the reader yields.
    """
    pending: deque = deque()
    for number, batch in enumerate(batches):
        label = f"batch {number}"
        if not isinstance(batch, MeshBatch):
            raise InputError(f"{label} is a {type(batch).__name__}, not a MeshBatch")
        if state.origin is None and not _first_origin(state, batch, label):
            continue
        material, textured = _material_index(state, batch, label)
        for fid, props in batch.features.items():
            state.features.setdefault(int(fid), dict(props))
        path = str(state.work / "spill" / f"{number:07d}.chk")
        pending.append(executor.submit(spill_batch, batch, state.origin, material, textured,
                                       label, path, state.refine == "ADD"))
        del batch
        while len(pending) > in_flight:
            _apply_spill(state, _result(pending.popleft()), tracker)
    while pending:
        _apply_spill(state, _result(pending.popleft()), tracker)
    if state.triangles == 0:
        raise InputError("the input holds no usable triangles (empty meshes, NaN "
                         "coordinates or only degenerate triangles): check the source files"
                         + ("; " + "; ".join(state.warnings[:5]) if state.warnings else ""))


def _result(future):
    """A task's result; a dead worker process becomes a TilesError saying what to do."""
    try:
        return future.result()
    except cf.process.BrokenProcessPool as exc:
        raise TilesError("a tile worker process died (out of memory?): lower "
                         "[tiles] workers or max_triangles_per_tile and run the "
                         "same import again; finished tiles are kept") from exc


def _build_key(state: _Ingest, options: BuildOptions, refine: str) -> str:
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


def _plan(state: _Ingest, budget: int):
    """ADD trees with features place whole features by size; others split by count."""
    if state.refine == "ADD" and len(state.stats.merged()[0]):
        return plan_add_tree(state.stats, state.lo, state.hi, budget)
    return plan_tree(state.sample, state.lo, state.hi, budget)


def _partition(state: _Ingest, work: Path, budget: int, tracker: ProgressTracker,
               executor):
    """Step 2: plan the tree and split each spill into per-tile part files (resumable)."""
    plan = _plan(state, budget)
    marker = work / "partition.done"
    buckets = work / "buckets"
    if not marker.exists():
        shutil.rmtree(buckets, ignore_errors=True)
        buckets.mkdir(parents=True)
        tracker.update(phase="partitioning")
        spills = sorted((work / "spill").glob("*.chk"))
        futures = [executor.submit(bucket_spill, str(spill), plan, str(buckets), number)
                   for number, spill in enumerate(spills)]
        for future in futures:
            _result(future)
        marker.write_text("ok")
    return plan


def _schedule(plan, work: Path, context_path: str, executor, tracker) -> dict[str, dict]:
    """Step 3: build leaves, then parents level by level (deepest first)."""
    nodes = plan.nodes
    inputs: dict[str, list[str]] = {}
    for part in sorted((work / "buckets").glob("*.chk")):
        inputs.setdefault(part.name.split(".")[0], []).append(str(part))
    filled = set(inputs)
    alive = set(filled)
    for node in sorted(nodes, key=lambda n: -n.level):
        if any(nodes[c].key in alive for c in node.children):
            alive.add(node.key)
    height = {}
    for node in sorted(nodes, key=lambda n: -n.level):
        kids = [height[nodes[c].key] for c in node.children if nodes[c].key in alive]
        height[node.key] = 1 + max(kids) if kids else 0
    tracker.update(phase="tiling", tiles=0, tiles_total=len(alive))
    results: dict[str, dict] = {}
    leaves = [n for n in nodes if n.is_leaf and n.key in filled]
    # ADD trees hold features in internal tiles too (their own bucket files)
    waves = [leaves] + [[n for n in nodes if not n.is_leaf and n.level == level
                         and n.key in alive] for level in range(plan.depth - 1, -1, -1)]
    for wave in waves:
        futures = {}
        for node in wave:
            child_results = [results[nodes[c].key] for c in node.children
                             if nodes[c].key in results]
            futures[executor.submit(build_node, context_path, node.key,
                                    inputs.get(node.key, []),
                                    child_results, height[node.key])] = node.key
        for future in cf.as_completed(futures):
            result = _result(future)
            results[result["key"]] = result
            tracker.update(tiles=len(results))
        tracker.update(force=True, tiles=len(results))  # one event per finished level
    return results


def _summary(tileset_id: str, options: BuildOptions, state: _Ingest, results: dict,
             refine: str, started: float) -> BuildSummary:
    root = results["r"]
    lo, hi = np.asarray(root["lo"]), np.asarray(root["hi"])
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1])
                        for z in (lo[2], hi[2])])
    llh = georef.ecef_to_lonlatheight(georef.enu_to_ecef_points(corners, state.origin))
    return BuildSummary(
        tileset_id=tileset_id, name=options.name or tileset_id, kind=options.kind,
        triangles=state.triangles, tiles=sum(1 for r in results.values() if r["content"]),
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


def _ingest(batches, state: _Ingest, options: BuildOptions, refine: str, tracker,
            executor, work_root: Path) -> tuple[Path, str]:
    """Read into a fresh folder, then move it to the folder named by the input's hash
    (or drop it when that folder already holds a finished partition: resume)."""
    tmp_work = state.work
    try:
        _read(_with_geoid(batches, options.geoid_offset_m), state, tracker, executor,
              in_flight=max(2, 2 * workers_in_use(options)))
        key = _build_key(state, options, refine)
        work = work_root / f"{state.work.name.split('.ingest-')[0]}.{key}"
        if (work / "partition.done").exists():
            shutil.rmtree(tmp_work, ignore_errors=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
            tmp_work.rename(work)
    except BaseException:
        shutil.rmtree(tmp_work, ignore_errors=True)
        raise
    state.work = work
    return work, key


def _tile_and_publish(state: _Ingest, plan, store: FileTileStore, tileset_id: str, key: str,
                      options: BuildOptions, refine: str, tracker, executor) -> dict:
    """Steps 3-5: build every tile, write tileset.json, check, publish atomically."""
    schema = infer_schema(state.features.values(), options.enum_properties) \
        if state.features else None
    with store.staging(tileset_id, key=key) as writer:
        context = BuildContext(
            work_dir=str(state.work), staging_dir=str(writer.directory),
            materials=state.materials, features=state.features, schema=schema,
            compression=options.compression,
            max_triangles_per_tile=options.max_triangles_per_tile,
            max_texture_px=options.max_texture_px, refine=refine)
        results = _schedule(plan, state.work, context.save(), executor, tracker)
        children = {n.key: [plan.nodes[c].key for c in n.children] for n in plan.nodes}
        writer.put("tileset.json", tileset_json(
            results, children, "r", refine, georef.enu_to_ecef_matrix(state.origin),
            extras={"cimtwin": {"kind": options.kind, "frame": state.frame}}))
        tracker.update(phase="checking")
        report = check_directory(writer.directory, validate_glb=options.validate_glb,
                                 validate_limit=options.validate_sample)
        if not report.ok:
            raise CheckError("the built tileset breaks the 3D Tiles rules and was not "
                             "published:\n" + report.to_text())
        tracker.update(phase="publishing")
    return results


def build_tileset(batches: Iterable[MeshBatch], store: FileTileStore, tileset_id: str,
                  options: BuildOptions | None = None,
                  progress: Progress | None = None) -> BuildSummary:
    """Tile ``batches`` into ``store`` as ``tileset_id``; publish only a checked tileset.

    Raises InputError / GeoreferenceError for input that cannot be used and CheckError
    if the result breaks the 3D Tiles rules; in every failure the previous version of
    the tileset keeps serving, and a re-run with the same input resumes.
    """
    options = options or BuildOptions()
    refine = options.resolved_refine()
    check_tileset_id(tileset_id)
    started = time.monotonic()
    tracker = ProgressTracker(progress)
    work_root = Path(options.work_dir) if options.work_dir else store.root / ".work"
    state = _Ingest(work=work_root / f"{tileset_id}.ingest-{uuid.uuid4().hex[:8]}",
                    refine=refine)
    with open_executor(options.workers, options.dask_scheduler) as executor:
        work, key = _ingest(batches, state, options, refine, tracker, executor, work_root)
        plan = _partition(state, work, options.max_triangles_per_tile, tracker, executor)
        results = _tile_and_publish(state, plan, store, tileset_id, key, options, refine,
                                    tracker, executor)
    if not options.keep_work:
        shutil.rmtree(work, ignore_errors=True)
    summary = _summary(tileset_id, options, state, results, refine, started)
    tracker.update(phase="done", force=True)
    return summary


def workers_in_use(options: BuildOptions) -> int:
    """How many processes a build with ``options`` uses locally (for benchmarks)."""
    return 0 if options.dask_scheduler else worker_count(options.workers)
