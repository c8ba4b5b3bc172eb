"""Simplify one chunk for a parent tile, keeping UVs, colours and feature ids.

The quadric simplification itself is ``tiles.lod.simplify`` when the content engineer's
module provides it, else meshoptimizer's simplifier directly. Both keep a subset of the
original vertices, so per-vertex attributes survive unchanged. A triangle that ends up
spanning two features gets its own vertices carrying the feature id of its first corner,
so each triangle belongs to exactly one feature and stays pickable.
"""
from __future__ import annotations

import numpy as np

from tiles.chunk import Chunk

try:  # the content engineer's module; optional until it lands
    from tiles import lod as _lod
except ImportError:  # pragma: no cover - depends on the tree state
    _lod = None


def _meshopt_simplify(positions: np.ndarray, indices: np.ndarray,
                      target_triangles: int) -> tuple[np.ndarray, float]:
    """meshoptimizer quadric simplification; returns (indices (K,3), absolute error m)."""
    import meshoptimizer as mo
    flat = np.ascontiguousarray(indices.reshape(-1), dtype=np.uint32)
    dest = np.zeros(len(flat), dtype=np.uint32)
    err = np.zeros(1, dtype=np.float32)
    count = mo.simplify(dest, flat, np.ascontiguousarray(positions, dtype=np.float32),
                        target_index_count=int(target_triangles) * 3, target_error=1e9,
                        options=mo.SIMPLIFY_ERROR_ABSOLUTE, result_error=err)
    return dest[:count].reshape(-1, 3), float(err[0])


def _quadric(positions: np.ndarray, indices: np.ndarray,
             target: int) -> tuple[np.ndarray, float]:
    if _lod is not None and hasattr(_lod, "simplify_indices"):
        return _lod.simplify_indices(positions, indices, target)
    return _meshopt_simplify(positions, indices, target)


def split_mixed_features(chunk: Chunk) -> Chunk:
    """Give triangles whose corners carry different feature ids their own vertices."""
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
                 normals=take(chunk.normals), uvs=take(chunk.uvs), colors=take(chunk.colors))


def simplify_chunk(chunk: Chunk, target_triangles: int) -> tuple[Chunk, float]:
    """The chunk reduced to about ``target_triangles``; returns (chunk, deviation m)."""
    if chunk.triangle_count <= target_triangles:
        return chunk, 0.0
    centre = chunk.positions.mean(axis=0)
    local = chunk.positions - centre
    indices, error = _quadric(local, chunk.indices, target_triangles)
    if len(indices) == 0:
        return chunk.select(np.zeros(chunk.triangle_count, dtype=bool)), error
    reduced = Chunk(positions=chunk.positions, indices=indices.astype(np.uint32),
                    feature_ids=chunk.feature_ids, material=chunk.material,
                    normals=chunk.normals, uvs=chunk.uvs, colors=chunk.colors)
    reduced = reduced.select(np.ones(len(indices), dtype=bool))
    return split_mixed_features(reduced), error
