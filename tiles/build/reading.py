"""Step 1 of a build: read the batch stream into the work folder (on the executor).

The main process pulls batches from the reader, keeps the order-dependent state (the
working frame, input hash, planning sample, material and feature tables) and hands the
repair, placement and spill of each batch to a task (:func:`tiles.build.spill.spill_batch`),
applying the results in input order, so a build is the same whatever ran where.
"""
from __future__ import annotations

import hashlib
from collections import deque
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from tiles.build.addtree import FeatureStats
from tiles.build.ingest import batch_ecef_centre, texture_is_readable
from tiles.build.spill import spill_batch
from tiles.build.tiling import CentroidSample
from tiles.errors import InputError, TilesError
from tiles.model import MeshBatch
from tiles.progress import ProgressTracker


@dataclass
class IngestState:
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


def _material_index(state: IngestState, batch: MeshBatch, label: str) -> tuple[int, bool]:
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


def _first_origin(state: IngestState, batch: MeshBatch, label: str) -> bool:
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


def _apply_spill(state: IngestState, result: dict, tracker: ProgressTracker) -> None:
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


def read_batches(batches: Iterable[MeshBatch], state: IngestState, tracker: ProgressTracker,
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
            _apply_spill(state, task_result(pending.popleft()), tracker)
    while pending:
        _apply_spill(state, task_result(pending.popleft()), tracker)
    if state.triangles == 0:
        raise InputError("the input holds no usable triangles (empty meshes, NaN "
                         "coordinates or only degenerate triangles): check the source files"
                         + ("; " + "; ".join(state.warnings[:5]) if state.warnings else ""))


def task_result(future):
    """A task's result; a dead worker process becomes a TilesError saying what to do."""
    try:
        return future.result()
    except BrokenProcessPool as exc:
        raise TilesError("a tile worker process died (out of memory?): lower "
                         "[tiles] workers or max_triangles_per_tile and run the "
                         "same import again; finished tiles are kept") from exc
