"""Compiled per-triangle loops of glb encoding (numba, cached on disk).

Smooth vertex normals of every tile in one pass instead of several whole-array numpy
passes with temporaries (profile in bench/README.md, "Tiling engine"). Results are the
same as the numpy versions; ``cache=True`` keeps the compiled code between runs.
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def face_and_vertex_normals(positions, indices, vertex_count):
    """Area-weighted face normals (M,3) (cross products, not unit) and unit smooth
    vertex normals (N,3), both float64: one pass over the triangles."""
    m = indices.shape[0]
    face = np.empty((m, 3))
    vert = np.zeros((vertex_count, 3))
    for t in range(m):
        a, b, c = indices[t, 0], indices[t, 1], indices[t, 2]
        ux = np.float64(positions[b, 0]) - positions[a, 0]
        uy = np.float64(positions[b, 1]) - positions[a, 1]
        uz = np.float64(positions[b, 2]) - positions[a, 2]
        vx = np.float64(positions[c, 0]) - positions[a, 0]
        vy = np.float64(positions[c, 1]) - positions[a, 1]
        vz = np.float64(positions[c, 2]) - positions[a, 2]
        fx, fy, fz = uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx
        face[t, 0], face[t, 1], face[t, 2] = fx, fy, fz
        for k in range(3):
            v = indices[t, k]
            vert[v, 0] += fx
            vert[v, 1] += fy
            vert[v, 2] += fz
    for v in range(vertex_count):
        n = max(np.sqrt(vert[v, 0] ** 2 + vert[v, 1] ** 2 + vert[v, 2] ** 2), 1e-12)
        vert[v, 0] /= n
        vert[v, 1] /= n
        vert[v, 2] /= n
    return face, vert
