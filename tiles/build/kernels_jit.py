"""Compiled per-triangle loops of the pipeline's hot paths (numba, cached on disk).

Each replaced several whole-array numpy passes with temporaries (profile in
bench/README.md, "Tiling engine"): the leaf descent of the partition (one fancy-indexed
pass per tree level over every triangle) and the triangle repair mask of ingest.
Results are the same as the numpy versions they replace; ``cache=True`` keeps the
compiled code between runs (first build on a machine: a few seconds of compiling).
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def descend(positions, indices, mid, split_z, children, depth):
    """Leaf node index for each triangle's centroid (the tree of tiles.build.tiling.TilePlan).

    positions (N,3) float, indices (M,3) int; mid (nodes,3) cell centres, split_z
    (nodes,) bool, children (nodes,8) int (-1: none). Centroids are computed on the fly
    in float64, like :meth:`tiles.build.chunk.Chunk.centroids`.
    """
    out = np.empty(indices.shape[0], np.int64)
    for t in range(indices.shape[0]):
        a, b, c = indices[t, 0], indices[t, 1], indices[t, 2]
        x = (np.float64(positions[a, 0]) + positions[b, 0] + positions[c, 0]) / 3.0
        y = (np.float64(positions[a, 1]) + positions[b, 1] + positions[c, 1]) / 3.0
        z = (np.float64(positions[a, 2]) + positions[b, 2] + positions[c, 2]) / 3.0
        node = 0
        for _ in range(depth):
            if children[node, 0] < 0:
                break
            code = (1 if x >= mid[node, 0] else 0) + (2 if y >= mid[node, 1] else 0)
            if split_z[node] and z >= mid[node, 2]:
                code += 4
            node = children[node, code]
        out[t] = node
    return out


@numba.njit(cache=True)
def descend_points(points, mid, split_z, children, depth):
    """Leaf node index for each point (N,3) (see :func:`descend`)."""
    out = np.empty(points.shape[0], np.int64)
    for t in range(points.shape[0]):
        node = 0
        for _ in range(depth):
            if children[node, 0] < 0:
                break
            code = (1 if points[t, 0] >= mid[node, 0] else 0) \
                + (2 if points[t, 1] >= mid[node, 1] else 0)
            if split_z[node] and points[t, 2] >= mid[node, 2]:
                code += 4
            node = children[node, code]
        out[t] = node
    return out


@numba.njit(cache=True)
def valid_triangles(positions, indices, min_cross_sq):
    """Mask of triangles with in-range, distinct indices, finite corners and a cross
    product whose squared length exceeds ``min_cross_sq`` (non-zero area): one pass."""
    n = positions.shape[0]
    ok = np.ones(indices.shape[0], np.bool_)
    for t in range(indices.shape[0]):
        a, b, c = indices[t, 0], indices[t, 1], indices[t, 2]
        if a < 0 or b < 0 or c < 0 or a >= n or b >= n or c >= n or a == b or b == c \
                or a == c:
            ok[t] = False
            continue
        ux, uy, uz = positions[b, 0] - positions[a, 0], positions[b, 1] - positions[a, 1], \
            positions[b, 2] - positions[a, 2]
        vx, vy, vz = positions[c, 0] - positions[a, 0], positions[c, 1] - positions[a, 1], \
            positions[c, 2] - positions[a, 2]
        cx, cy, cz = uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx
        s = cx * cx + cy * cy + cz * cz
        # NaN/inf corners give a NaN or inf sum: not a finite area, dropped
        corner = positions[a, 0] + positions[a, 1] + positions[a, 2]
        ok[t] = np.isfinite(s) and s > min_cross_sq and np.isfinite(corner)
    return ok
