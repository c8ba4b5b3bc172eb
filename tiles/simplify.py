"""Simplify one chunk for a parent tile, keeping UVs, colours and feature ids.

Quadric simplification with meshoptimizer (the same simplifier as :mod:`tiles.lod`),
whose output is a subset of the input vertices, so per-vertex attributes survive
unchanged; the geometric error is measured with :func:`tiles.lod.measured_error`.

Why not ``tiles.lod.simplify`` itself: it splits vertices shared by two features with a
row-wise ``np.unique`` over every corner, which dominated whole-pipeline time (5 s of
17 s for 1 M triangles, bench/README.md). Chunks here come from readers with per-vertex
ids, so a triangle whose corners disagree is rare; :func:`split_mixed_features` gives
only those triangles their own vertices (a linear pass), after which no vertex is shared
by two features and collapses never blend ids, exactly the guarantee ``tiles.lod`` gives.
"""
from __future__ import annotations

import numpy as np

from tiles.chunk import Chunk
from tiles.lod import measured_error, meshopt_simplify


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


def simplify_chunk(chunk: Chunk, target_triangles: int) -> tuple[Chunk, float]:
    """The chunk reduced to about ``target_triangles``; returns (chunk, error m)."""
    if chunk.triangle_count <= target_triangles:
        return chunk, 0.0
    chunk = split_mixed_features(chunk)
    kept, estimate = meshopt_simplify(chunk.positions, chunk.indices, target_triangles)
    reduced = Chunk(positions=chunk.positions, indices=kept.astype(np.uint32),
                    feature_ids=chunk.feature_ids, material=chunk.material,
                    normals=chunk.normals, uvs=chunk.uvs, colors=chunk.colors,
                    texture=chunk.texture)
    reduced = reduced.select(np.arange(len(kept)))
    # chunks are compact (every vertex used), so positions are the input surface's vertices
    error = measured_error(chunk.positions, reduced.positions, reduced.indices, estimate)
    return reduced, float(error)
