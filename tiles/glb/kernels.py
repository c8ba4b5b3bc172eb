"""Per-triangle kernels of glb encoding: plain numpy for small inputs, compiled
(``tiles.glb.kernels_jit``) for large ones.

Loading numba and the compiled cache costs about 0.5 s per process, more than tiling a
whole small BIM model takes, while on large tiles the compiled loops are several times
faster than numpy's whole-array passes. Both paths give the same results
(tests/tiles/test_kernels.py).
"""
from __future__ import annotations

import numpy as np

#: Below this many triangles the numpy path is used and numba is never loaded.
SMALL_TRIANGLES = 200_000


def face_and_vertex_normals(positions: np.ndarray, indices: np.ndarray,
                            vertex_count: int) -> tuple[np.ndarray, np.ndarray]:
    """Area-weighted face normals (M,3) (cross products, not unit) and unit smooth
    vertex normals (N,3), both float64."""
    if len(indices) >= SMALL_TRIANGLES:
        # deferred: loads numba
        from tiles.glb.kernels_jit import face_and_vertex_normals as compiled
        return compiled(positions, indices, vertex_count)
    face = cross(np.asarray(positions, dtype=np.float64), indices)
    flat = indices.reshape(-1)
    vert = np.stack([np.bincount(flat, weights=np.repeat(face[:, c], 3), minlength=vertex_count)
                     for c in range(3)], axis=1)
    vert /= np.maximum(np.sqrt(np.einsum("ij,ij->i", vert, vert)), 1e-12)[:, None]
    return face, vert


def cross(positions: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Cross product (b - a) x (c - a) of every triangle, float64."""
    a = positions[indices[:, 0]]
    u, v = positions[indices[:, 1]] - a, positions[indices[:, 2]] - a
    return np.cross(u, v).astype(np.float64, copy=False)
