"""Per-triangle kernels of glb encoding: plain numpy, or compiled (``tiles.glb.kernels_jit``).

Loading numba and the compiled cache costs about 0.5 s per process, more than tiling a
whole small BIM model takes, while on large tiles the compiled loops are several times
faster than numpy's whole-array passes. So the compiled path runs for large inputs and,
once a process has paid for numba anyway (a large build's workers load it to partition),
for every input. Both paths give the same results (tests/tiles/test_kernels.py).
"""
from __future__ import annotations

import sys

import numpy as np

#: Below this many triangles the numpy path is used unless numba is already loaded.
SMALL_TRIANGLES = 200_000


def use_compiled(triangles: int) -> bool:
    """True for large inputs, and for any input once this process has loaded numba."""
    return triangles >= SMALL_TRIANGLES or "numba" in sys.modules


def face_and_vertex_normals(positions: np.ndarray, indices: np.ndarray,
                            vertex_count: int) -> tuple[np.ndarray, np.ndarray]:
    """Area-weighted face normals (M,3) (cross products, not unit) and unit smooth
    vertex normals (N,3), both float64."""
    if use_compiled(len(indices)):
        # deferred: loads numba
        from tiles.glb.kernels_jit import face_and_vertex_normals as compiled
        return compiled(positions, indices, vertex_count)
    face = cross(np.asarray(positions, dtype=np.float64), indices)
    flat = indices.reshape(-1)
    vert = np.stack([np.bincount(flat, weights=np.repeat(face[:, c], 3),
                                 minlength=vertex_count) for c in range(3)], axis=1)
    vert /= np.maximum(np.sqrt(np.einsum("ij,ij->i", vert, vert)), 1e-12)[:, None]
    return face, vert


def crease_streams(positions: np.ndarray, indices: np.ndarray, crease_cos: float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Smooth normals split at creases, and y-up streams, for one primitive.

    A corner whose face turns more than ``acos(crease_cos)`` from the smooth vertex
    normal gets its own vertex carrying the face normal. Returns (indices (M,3) uint32,
    src (K,): the source vertex of each added vertex, positions (N+K,3) float32 y-up,
    unit normals (N+K,3) float32 y-up).
    """
    if use_compiled(len(indices)):
        # deferred: loads numba
        from tiles.glb.kernels_jit import crease_streams as compiled
        return compiled(positions, indices, crease_cos)
    face, vert = face_and_vertex_normals(positions, indices, len(positions))
    unit_face = face / np.maximum(np.sqrt(np.einsum("ij,ij->i", face, face)), 1e-12)[:, None]
    dots = np.einsum("fkc,fc->fk", vert[indices.reshape(-1)].reshape(-1, 3, 3), unit_face)
    f_idx, corner = np.nonzero(dots < crease_cos)
    src = indices[f_idx, corner].astype(np.int64)
    out = indices.astype(np.uint32)  # a copy
    out[f_idx, corner] = np.arange(len(positions), len(positions) + len(src))
    normals = np.concatenate([vert, unit_face[f_idx]])
    return (out, src, y_up(np.concatenate([positions, positions[src]])),
            y_up(unit_vectors(normals)))


def unit_vectors(v: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1; zero rows become up (0, 0, 1)."""
    length = np.linalg.norm(v, axis=1, keepdims=True)
    return np.where(length > 1e-12, v / np.maximum(length, 1e-12), [0.0, 0.0, 1.0])


def y_up(v: np.ndarray) -> np.ndarray:
    """(x, y, z) ENU -> (x, z, -y) glTF, float32."""
    out = np.empty((len(v), 3), np.float32)
    out[:, 0], out[:, 1], out[:, 2] = v[:, 0], v[:, 2], -v[:, 1]
    return out


def cross(positions: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Cross product (b - a) x (c - a) of every triangle, float64."""
    a = positions[indices[:, 0]]
    u, v = positions[indices[:, 1]] - a, positions[indices[:, 2]] - a
    return np.cross(u, v).astype(np.float64, copy=False)
