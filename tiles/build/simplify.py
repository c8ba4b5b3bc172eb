"""Simplify one chunk for a parent tile, keeping UVs, colours and feature ids.

Quadric simplification with meshoptimizer (the same simplifier as :mod:`tiles.build.lod`),
whose output is a subset of the input vertices, so per-vertex attributes survive
unchanged; the geometric error is measured with :func:`tiles.build.lod.measured_error`.

Why not ``tiles.build.lod.simplify`` itself: it splits vertices shared by two features with a
row-wise ``np.unique`` over every corner, which dominated whole-pipeline time (5 s of
17 s for 1 M triangles, bench/README.md). Chunks here come from readers with per-vertex
ids, so a triangle whose corners disagree is rare; :func:`split_mixed_features` gives
only those triangles their own vertices (a linear pass), after which no vertex is shared
by two features and collapses never blend ids, exactly the guarantee ``tiles.build.lod`` gives.
"""
from __future__ import annotations

import meshoptimizer as mo
import numpy as np

from tiles.build.chunk import Chunk
from tiles.build.lod import measured_error, meshopt_simplify

#: A simplification keeping more than this times its target is retried (see simplify_chunk).
OVER_TARGET = 1.25
#: Largest quadric collapse error accepted, as a share of the chunk's extent.
ERROR_LIMIT = 1.0 / 256


def split_mixed_features(chunk: Chunk) -> Chunk:
    """Give triangles whose corners carry different feature ids their own vertices
    (with the first corner's id), so no vertex is shared by two features."""
    fids = chunk.feature_ids[chunk.indices]
    mixed = (fids[:, 0] != fids[:, 1]) | (fids[:, 0] != fids[:, 2])
    if not mixed.any():
        return chunk
    corners = chunk.indices[mixed].reshape(-1)
    base = len(chunk.positions)
    take = lambda a: None if a is None else np.concatenate([a, a[corners]])
    new_fids = np.concatenate([chunk.feature_ids, np.repeat(fids[mixed, 0], 3)])
    indices = chunk.indices.copy()
    indices[mixed] = (base + np.arange(len(corners))).reshape(-1, 3)
    return Chunk(positions=take(chunk.positions), indices=indices.astype(np.uint32),
                 feature_ids=new_fids.astype(np.uint32), material=chunk.material,
                 normals=take(chunk.normals), uvs=take(chunk.uvs), colors=take(chunk.colors),
                 texture=chunk.texture)


def _sloppy(positions: np.ndarray, indices: np.ndarray, target: int) -> np.ndarray:
    """meshoptimizer's topology-free simplifier (vertex clustering): reaches any target."""
    local = np.ascontiguousarray(positions - positions.min(axis=0), dtype=np.float32)
    flat = np.ascontiguousarray(indices.reshape(-1), dtype=np.uint32)
    out = np.empty_like(flat)
    count = mo.simplify_sloppy(out, flat, local, target_index_count=3 * int(target),
                               target_error=1.0)
    return out[:count].reshape(-1, 3)


def simplify_chunk(chunk: Chunk, target_triangles: int) -> tuple[Chunk, float]:
    """The chunk reduced to about ``target_triangles``; returns (chunk, error m).

    Quadric simplification first, stopping before a collapse would move the surface by
    more than ``ERROR_LIMIT`` x the chunk's extent. Children's borders do not match
    (each was simplified alone) and feature boundaries are seams, so on large merges
    the quadric simplifier can only reach the budget by wrecking the surface (measured:
    73 m off on a 1.5 km tile). When it stops above ``OVER_TARGET`` x the target, an
    untextured chunk is simplified topology-free instead (vertex clustering: 3 m on the
    same tile, budget kept); a textured one keeps the quadric result (clustering would
    tear its UV seams), over budget rather than wrong. Triangles whose corners then
    disagree on the feature get their own vertices (:func:`split_mixed_features`).
    """
    if chunk.triangle_count <= target_triangles:
        return chunk, 0.0
    chunk = split_mixed_features(chunk)
    extent = float(np.ptp(chunk.positions, axis=0).max())
    kept, estimate = meshopt_simplify(chunk.positions, chunk.indices, target_triangles,
                                      max_error=ERROR_LIMIT * extent)
    clustered = len(kept) > OVER_TARGET * target_triangles and chunk.uvs is None
    if clustered:
        kept, estimate = _sloppy(chunk.positions, kept, target_triangles), 0.0
    reduced = Chunk(positions=chunk.positions, indices=kept.astype(np.uint32),
                    feature_ids=chunk.feature_ids, material=chunk.material,
                    normals=chunk.normals, uvs=chunk.uvs, colors=chunk.colors,
                    texture=chunk.texture)
    reduced = reduced.select(np.arange(len(kept)))
    if clustered:
        reduced = split_mixed_features(reduced)
    # positions are the input surface's vertices (chunks are compact, or split copies)
    error = measured_error(chunk.positions, reduced.positions, reduced.indices, estimate,
                           source_indices=chunk.indices)
    return reduced, float(error)
