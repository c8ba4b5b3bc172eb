"""Per-triangle kernels: plain numpy for small inputs, compiled (``tiles.kernels_jit``) for
large ones.

Loading numba and the compiled cache costs about 0.5 s per process, more than tiling a
whole small BIM model takes, while on large tiles the compiled loops are several times
faster than numpy's whole-array passes. Both paths give the same results
(tests/tiles/test_kernels.py).
"""
from __future__ import annotations

import numpy as np

#: Below this many triangles the numpy path is used and numba is never loaded.
SMALL_TRIANGLES = 200_000


def valid_triangles(positions: np.ndarray, indices: np.ndarray, min_cross_sq: float) -> np.ndarray:
    """Mask of triangles with in-range, distinct indices, finite corners and a cross
    product whose squared length exceeds ``min_cross_sq`` (non-zero area)."""
    if len(indices) >= SMALL_TRIANGLES:
        from tiles.kernels_jit import valid_triangles as compiled
        return compiled(positions, indices, min_cross_sq)
    n = len(positions)
    ok = ((indices >= 0) & (indices < n)).all(axis=1)
    safe = indices if ok.all() else np.where(ok[:, None], indices, 0)
    finite = np.isfinite(positions).all(axis=1)
    clean = positions
    if not finite.all():
        ok &= finite[safe].all(axis=1)
        clean = np.where(finite[:, None], positions, 0.0)
    i0, i1, i2 = safe[:, 0], safe[:, 1], safe[:, 2]
    ok &= (i0 != i1) & (i1 != i2) & (i0 != i2)
    face = _cross(clean, safe)
    ok &= np.einsum("ij,ij->i", face, face) > min_cross_sq
    return ok


def face_and_vertex_normals(positions: np.ndarray, indices: np.ndarray,
                            vertex_count: int) -> tuple[np.ndarray, np.ndarray]:
    """Area-weighted face normals (M,3) (cross products, not unit) and unit smooth
    vertex normals (N,3), both float64."""
    if len(indices) >= SMALL_TRIANGLES:
        from tiles.kernels_jit import face_and_vertex_normals as compiled
        return compiled(positions, indices, vertex_count)
    face = _cross(np.asarray(positions, dtype=np.float64), indices)
    flat = indices.reshape(-1)
    vert = np.stack([np.bincount(flat, weights=np.repeat(face[:, c], 3), minlength=vertex_count)
                     for c in range(3)], axis=1)
    vert /= np.maximum(np.sqrt(np.einsum("ij,ij->i", vert, vert)), 1e-12)[:, None]
    return face, vert


def descend(*args):
    """Leaf node of each triangle (see ``tiles.kernels_jit.descend``)."""
    from tiles.kernels_jit import descend as compiled
    return compiled(*args)


def descend_points(*args):
    """Leaf node of each point (see ``tiles.kernels_jit.descend_points``)."""
    from tiles.kernels_jit import descend_points as compiled
    return compiled(*args)


def _cross(positions: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Cross product (b - a) x (c - a) of every triangle, float64."""
    a = positions[indices[:, 0]]
    u, v = positions[indices[:, 1]] - a, positions[indices[:, 2]] - a
    return np.cross(u, v).astype(np.float64, copy=False)
