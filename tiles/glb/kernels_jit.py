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


@numba.njit(cache=True)
def _unit_y_up(x, y, z, out, row):
    """Write the unit vector of z-up (x, y, z) as y-up (x, z, -y); zero -> up (0, 1, 0)."""
    n = np.sqrt(x * x + y * y + z * z)
    if n > 1e-12:
        out[row, 0], out[row, 1], out[row, 2] = x / n, z / n, -y / n
    else:
        out[row, 0], out[row, 1], out[row, 2] = 0.0, 1.0, 0.0


@numba.njit(cache=True)
def crease_streams(positions, indices, crease_cos):
    """A tile primitive's glTF streams in one compiled pass per step: smooth
    area-weighted normals, corners on a crease split off with the face normal, positions
    and unit normals converted to y-up float32.

    Returns (indices (M,3) uint32, src (K,) int64: the source vertex of each added
    vertex, positions (N+K,3) float32 y-up, normals (N+K,3) float32 y-up).
    """
    n, m = positions.shape[0], indices.shape[0]
    face, vert = face_and_vertex_normals(positions, indices, n)
    crease = np.zeros((m, 3), np.bool_)
    added = 0
    for t in range(m):
        fl = np.sqrt(face[t, 0] ** 2 + face[t, 1] ** 2 + face[t, 2] ** 2)
        fl = max(fl, 1e-12)
        for k in range(3):
            v = indices[t, k]
            dot = (vert[v, 0] * face[t, 0] + vert[v, 1] * face[t, 1]
                   + vert[v, 2] * face[t, 2]) / fl
            if dot < crease_cos:
                crease[t, k] = True
                added += 1
    out_idx = np.empty((m, 3), np.uint32)
    src = np.empty(added, np.int64)
    pos = np.empty((n + added, 3), np.float32)
    nor = np.empty((n + added, 3), np.float32)
    for v in range(n):
        pos[v, 0], pos[v, 1], pos[v, 2] = positions[v, 0], positions[v, 2], -positions[v, 1]
        _unit_y_up(vert[v, 0], vert[v, 1], vert[v, 2], nor, v)
    row = n
    for t in range(m):
        for k in range(3):
            v = indices[t, k]
            if not crease[t, k]:
                out_idx[t, k] = v
                continue
            out_idx[t, k] = row
            src[row - n] = v
            pos[row, 0], pos[row, 1], pos[row, 2] = positions[v, 0], positions[v, 2], \
                -positions[v, 1]
            _unit_y_up(face[t, 0], face[t, 1], face[t, 2], nor, row)
            row += 1
    return out_idx, src, pos, nor
