"""Build one tile of the tree: its content glb and, for REPLACE trees, its LOD mesh.

A task reads its inputs from the build's work folder (leaf buckets, or the children's
LOD meshes), writes the glb into the staging folder and its own LOD mesh to the work
folder, and returns a small dict. Tasks exchange files, not arrays, so the same function
runs in-process, in a local process pool or on Dask workers sharing the file system,
and memory per task is bounded by the per-tile budget (children x budget triangles).

A finished task leaves ``nodes/<key>.json``; a re-run returns it without work
(resumable builds).

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
import json
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tiles.build.chunk import (Chunk, append_chunk_file, chunk_file_bytes,
                               merge_by_signature, read_chunk_file)
from tiles.build.content import encode_tile
from tiles.build.parent_texture import atlas_parent
from tiles.build.simplify import simplify_chunk
from tiles.store import write_atomic

#: A parent keeps this share of its children's triangles (then capped by the budget).
PARENT_RATIO = 0.25
#: Smallest error step between levels (m), so a parent always refines to its children.
MIN_ERROR_STEP_M = 0.01


@dataclass
class BuildContext:
    """Everything a task needs that is shared by all tasks (pickled once to disk)."""

    work_dir: str
    staging_dir: str
    materials: list
    features: dict
    schema: object
    compression: str
    max_triangles_per_tile: int
    max_texture_px: int
    refine: str

    def save(self) -> str:
        path = Path(self.work_dir) / "context.pkl"
        write_atomic(path, pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL))
        return str(path)


@functools.lru_cache(maxsize=4)
def load_context(path: str) -> BuildContext:
    with open(path, "rb") as handle:
        return pickle.load(handle)


def read_bucket(path: str) -> list[Chunk]:
    """All chunks appended to a bucket file (:func:`tiles.build.chunk.read_chunk_file`)."""
    return read_chunk_file(path)


def append_bucket(path: str, chunks: list[Chunk]) -> None:
    """Append chunks to a bucket file (the main process is the only writer)."""
    append_chunk_file(path, chunks)


def _bounds(chunks: list[Chunk]) -> tuple[list[float], list[float]]:
    lo = np.min([c.positions.min(axis=0) for c in chunks], axis=0)
    hi = np.max([c.positions.max(axis=0) for c in chunks], axis=0)
    return [float(v) for v in lo], [float(v) for v in hi]


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


def _write_content(ctx: BuildContext, key: str, chunks: list[Chunk], texture_px: int,
                   lo: list[float], hi: list[float]) -> str:
    centre = (np.asarray(lo) + np.asarray(hi)) / 2.0
    glb = encode_tile(chunks, centre, ctx.materials, ctx.features, ctx.schema,
                      ctx.compression, texture_px)
    uri = f"tiles/{key}.glb"
    write_atomic(Path(ctx.staging_dir) / uri, glb)
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


def _replace_parent(ctx: BuildContext, child_results: list[dict], result: dict) -> list[Chunk]:
    children = [c for r in child_results if r["lod"] for c in read_chunk_file(r["lod"])]
    chunks, deviation = _simplify_children(ctx, children)
    child_error = max(r["error"] for r in child_results)
    result["error"] = child_error + max(deviation, MIN_ERROR_STEP_M)
    return chunks


def _add_node(chunks: list[Chunk], child_results: list[dict], result: dict) -> None:
    """ADD: error = largest feature below that this tile lacks; extent includes its own."""
    below = max((r["extent"] for r in child_results), default=0.0)
    own = largest_feature_extent(chunks) if chunks else 0.0
    result["extent"] = max(below, own)
    if child_results:
        result["error"] = max(below, MIN_ERROR_STEP_M)


def build_node(context_path: str, key: str, inputs: list[str], child_results: list[dict],
               height: int) -> dict:
    """Build tile ``key``; ``height`` is its distance (levels) above its deepest leaf.

    ``inputs`` are the tile's own bucket files (leaves; ADD tiles at any level).
    """
    ctx = load_context(context_path)
    done = Path(ctx.work_dir) / "nodes" / f"{key}.json"
    if done.exists():
        finished = json.loads(done.read_text())
        # a tile of an earlier, already published run (keep_work) is written again
        if not finished["content"] or (Path(ctx.staging_dir) / finished["content"]).exists():
            return finished
    result = {"key": key, "content": None, "lod": None, "triangles": 0, "error": 0.0,
              "extent": 0.0, "lo": None, "hi": None}
    own = merge_by_signature([c for path in inputs for c in read_bucket(path)])
    if ctx.refine == "ADD":
        chunks = own
        _add_node(chunks, child_results, result)
    elif child_results:
        chunks = _replace_parent(ctx, child_results, result)
    else:  # a REPLACE leaf: full resolution; its bucket is its LOD input for the parent
        chunks = own
        result["lod"] = inputs[0] if len(inputs) == 1 else None
    boxes = [(r["lo"], r["hi"]) for r in child_results if r["lo"] is not None]
    if chunks:
        lo, hi = _bounds(chunks)
        result["content"] = _write_content(ctx, key, chunks, ctx.max_texture_px, lo, hi)
        result["content_lo"], result["content_hi"] = lo, hi
        result["triangles"] = sum(c.triangle_count for c in chunks)
        boxes.append((lo, hi))
        if ctx.refine == "REPLACE" and result["lod"] is None:
            lod = Path(ctx.work_dir) / "lod" / f"{key}.chk"
            write_atomic(lod, chunk_file_bytes(chunks))
            result["lod"] = str(lod)
    if boxes:
        result["lo"] = np.min([b[0] for b in boxes], axis=0).tolist()
        result["hi"] = np.max([b[1] for b in boxes], axis=0).tolist()
    write_atomic(done, json.dumps(result).encode())
    return result


def pid() -> int:
    """The worker's process id (lets tests see that work really ran in other processes)."""
    return os.getpid()
