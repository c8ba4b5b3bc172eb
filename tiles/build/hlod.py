"""Build one tile of the tree: its content glb and, for REPLACE trees, its LOD mesh.

A task reads its inputs from the build's work folder (leaf buckets, or the children's
tile records), puts the glb into the store's unpublished version and writes its own
record (:mod:`tiles.build.record`: the finished tile, and its LOD mesh) to the work
folder, then returns the :class:`tiles.model.TileNode`. Tasks exchange files, not arrays,
so the same function runs in-process, in a local process pool or on Dask workers sharing
the file system, and memory per task is bounded by the per-tile budget (children x
budget triangles). A re-run finds the records and returns them without work (resume).

Geometric error (REPLACE): a parent's content is a quadric simplification of its
children's LOD meshes (textures re-atlased, :mod:`tiles.build.parent_texture`); its error is
the measured deviation (:func:`tiles.build.lod.measured_error`) plus the largest child error,
so errors grow towards the root and leaves have 0.
Geometric error (ADD): whole features are placed by size (:mod:`tiles.build.addtree`), so
internal tiles hold the big ones; a tile's error is the largest feature extent below it
that it does not hold itself, i.e. the size of what is missing when its children are
not drawn (0 at leaves).
"""
from __future__ import annotations

import functools
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tiles.build.chunk import Chunk, ChunkRef, merge_by_signature, read_chunk_ref
from tiles.build.content import encode_tile
from tiles.build.lod import simplify_chunk
from tiles.build.parent_texture import atlas_parent
from tiles.build.record import IN_RECORD, TileRecord, read_lod, read_record, write_record
from tiles.model import BoundingBox, TileNode, TileStore
from tiles.store import write_atomic

#: A parent keeps this share of its children's triangles (then capped by the budget).
PARENT_RATIO = 0.25
#: Smallest error step between levels (m), so a parent always refines to its children.
MIN_ERROR_STEP_M = 0.01


@dataclass
class BuildContext:
    """Everything a task needs that is shared by all tasks (pickled once to disk)."""

    work_dir: str
    store: TileStore
    tileset_id: str
    version: str
    materials: list
    features: dict
    schema: object
    compression: str
    max_triangles_per_tile: int
    max_texture_px: int
    refine: str

    def save(self) -> str:
        """Pickle to the work folder; tasks on other processes load it by path."""
        path = Path(self.work_dir) / "context.pkl"
        write_atomic(path, pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL))
        return str(path)

    def record_path(self, key: str) -> Path:
        return Path(self.work_dir) / "nodes" / f"{key}.rec"


@functools.lru_cache(maxsize=4)
def _load_context(path: str) -> BuildContext:
    with open(path, "rb") as handle:
        return pickle.load(handle)


def load_context(context: BuildContext | str) -> BuildContext:
    """The context itself (in-process tasks) or the one pickled at a path (workers)."""
    return context if isinstance(context, BuildContext) else _load_context(context)


def _bounds(chunks: list[Chunk]) -> BoundingBox:
    lo = np.min([c.positions.min(axis=0) for c in chunks], axis=0)
    hi = np.max([c.positions.max(axis=0) for c in chunks], axis=0)
    return BoundingBox.of(lo, hi)


def largest_feature_extent(chunks: list[Chunk]) -> float:
    """Largest bounding-box diagonal of one feature (or one chunk without features)."""
    best = 0.0
    for chunk in chunks:
        ids, inverse = np.unique(chunk.feature_ids, return_inverse=True)
        lo = np.full((len(ids), 3), np.inf)
        hi = np.full((len(ids), 3), -np.inf)
        np.minimum.at(lo, inverse, chunk.positions)
        np.maximum.at(hi, inverse, chunk.positions)
        best = max(best, float(np.linalg.norm(hi - lo, axis=1).max()))
    return best


def _write_content(ctx: BuildContext, key: str, chunks: list[Chunk],
                   box: BoundingBox) -> str:
    centre = (np.asarray(box.lo) + np.asarray(box.hi)) / 2.0
    glb = encode_tile(chunks, centre, ctx.materials, ctx.features, ctx.schema,
                      ctx.compression, ctx.max_texture_px)
    uri = f"tiles/{key}.glb"
    ctx.store.put(ctx.tileset_id, uri, glb, version=ctx.version)
    return uri


def _simplify_children(ctx: BuildContext, chunks: list[Chunk]) -> tuple[list[Chunk], float]:
    """Merge and simplify children's LOD meshes to the parent's share; max deviation."""
    total = sum(c.triangle_count for c in chunks)
    target_total = max(1, min(ctx.max_triangles_per_tile, int(total * PARENT_RATIO)))
    out, deviation = [], 0.0
    for chunk in merge_by_signature(chunks):
        share = max(1, int(round(target_total * chunk.triangle_count / total)))
        simple, err = simplify_chunk(chunk, share)
        deviation = max(deviation, err)
        if simple.triangle_count:
            out.append(simple)
    return atlas_parent(out, ctx.materials, ctx.max_texture_px), deviation


def _replace_parent(ctx: BuildContext, children: list[TileNode]) -> tuple[list[Chunk], float]:
    """The parent's simplified chunks and its error (deviation + largest child error)."""
    lods = []
    for child in children:
        path = ctx.record_path(child.key)
        lods.extend(read_lod(path, read_record(path)))
    chunks, deviation = _simplify_children(ctx, lods)
    child_error = max(c.geometric_error for c in children)
    return chunks, child_error + max(deviation, MIN_ERROR_STEP_M)


def _add_error(ctx: BuildContext, chunks: list[Chunk], children: list[TileNode]
               ) -> tuple[float, float]:
    """ADD: (error, extent): error = largest feature below that this tile lacks; the
    extent includes its own features."""
    below = max((read_record(ctx.record_path(c.key)).extent for c in children), default=0.0)
    own = largest_feature_extent(chunks) if chunks else 0.0
    return (max(below, MIN_ERROR_STEP_M) if children else 0.0), max(below, own)


def _finished(ctx: BuildContext, key: str, children: list[TileNode]) -> TileNode | None:
    """The tile of an earlier run, if its record and content are still there."""
    record = read_record(ctx.record_path(key))
    if record is None:
        return None
    tile = record.tile
    # a tile of an earlier, already published run (keep_work) is written again
    if tile.content and not ctx.store.exists(ctx.tileset_id, tile.content,
                                             version=ctx.version):
        return None
    tile.children = children
    return tile


def build_node(context: BuildContext | str, key: str, inputs: list[ChunkRef],
               children: list[TileNode]) -> TileNode:
    """Build tile ``key`` above its built, non-empty ``children``.

    ``inputs`` are the tile's own bucket parts (leaves; ADD tiles at any level).
    """
    ctx = load_context(context)
    finished = _finished(ctx, key, children)
    if finished is not None:
        return finished
    tile = TileNode(key=key, refine=ctx.refine, children=children)
    record = TileRecord(tile=tile)
    own = merge_by_signature([c for ref in inputs for c in read_chunk_ref(tuple(ref))])
    if ctx.refine == "ADD":
        chunks = own
        tile.geometric_error, record.extent = _add_error(ctx, chunks, children)
    elif children:
        chunks, tile.geometric_error = _replace_parent(ctx, children)
    else:  # a REPLACE leaf: full resolution; its bucket is its LOD input for the parent
        chunks = own
        record.lod = inputs[0] if len(inputs) == 1 else None
    bounds = None
    for child in children:
        bounds = child.bounds.union(bounds)
    lod_chunks = None
    if chunks:
        box = _bounds(chunks)
        tile.content = _write_content(ctx, key, chunks, box)
        tile.content_bounds, bounds = box, box.union(bounds)
        tile.triangles = sum(c.triangle_count for c in chunks)
        if ctx.refine == "REPLACE" and record.lod is None:
            record.lod, lod_chunks = IN_RECORD, chunks
    tile.bounds = bounds
    write_record(ctx.record_path(key), record, lod_chunks)
    return tile


def build_nodes(context: BuildContext | str,
                jobs: list[tuple[str, list[ChunkRef], list[TileNode]]]) -> list[TileNode]:
    """:func:`build_node` for each (key, inputs, children) of ``jobs``: one task."""
    return [build_node(context, key, inputs, children) for key, inputs, children in jobs]


def pid() -> int:
    """The worker's process id (lets tests see that work really ran in other processes)."""
    return os.getpid()
