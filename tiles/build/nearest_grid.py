"""Exact distance from points to a triangle mesh in plain numpy, on a 2D grid (xy).

What measures a production parent's deviation (:func:`tiles.build.quadtree.simplified_surface`)
without numba: :mod:`tiles.build.nearest` is faster on big tiles, but loading numba costs
a worker process ~120 MB and seconds, more than a parent of a few thousand triangles
costs to measure (bench/README.md, photo scaling). Reality meshes are 2.5D, so a grid
over x and y keeps a few triangles per cell.

Each triangle is registered in every cell its xy bounding box touches. A query searches
square rings of cells around its own cell, nearest first, and stops once no unseen
triangle can be closer than the best found: a triangle outside the searched block lies
at least as far in xy as the block's border, and the distance in 3D is no shorter. The
few points still open after ``MAX_RINGS`` rings are compared with every triangle. Each
pair is measured exactly (Ericson 5.1.5, :func:`tiles.build.lod.closest_point_distance`).
"""
from __future__ import annotations

import numpy as np

from tiles.build.lod import closest_point_distance

#: Rings searched on the grid before the remaining points are compared with everything.
MAX_RINGS = 3
#: Point-triangle pairs measured at once: bounds the temporary arrays (~30 MB).
PAIRS_PER_STEP = 1 << 16
#: Cell side, in square roots of the xy area per triangle (2: fastest on photo parents).
CELL_SCALE = 2.0


class _Grid:
    """Triangles bucketed by the xy cells their bounding boxes touch (CSR arrays)."""

    def __init__(self, positions: np.ndarray, indices: np.ndarray):
        self.tri = positions[indices]  # (T, 3, 3)
        self.box_lo, self.box_hi = self.tri.min(axis=1), self.tri.max(axis=1)
        lo, hi = self.box_lo[:, :2], self.box_hi[:, :2]
        self.lo = lo.min(axis=0)
        extent = np.maximum(hi.max(axis=0) - self.lo, 1e-9)
        self.cell = max(CELL_SCALE * float(np.sqrt(extent[0] * extent[1] / len(indices))),
                        float(extent.max()) / 2048, 1e-9)
        self.dims = np.floor(extent / self.cell).astype(np.int64) + 1
        first = np.floor((lo - self.lo) / self.cell).astype(np.int64)
        last = np.floor((hi - self.lo) / self.cell).astype(np.int64)
        span = last - first + 1
        sizes = span[:, 0] * span[:, 1]
        owner = np.repeat(np.arange(len(indices)), sizes)
        local = np.arange(len(owner)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        cx = first[owner, 0] + local % span[owner, 0]
        cy = first[owner, 1] + local // span[owner, 0]
        cells = cx + self.dims[0] * cy
        order = np.argsort(cells, kind="stable")
        self.items = owner[order]
        counts = np.bincount(cells, minlength=int(self.dims.prod()))
        self.starts = np.concatenate([[0], np.cumsum(counts)])

    def candidates(self, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(query row, triangle) pairs for each query's cell id."""
        begin, end = self.starts[cells], self.starts[cells + 1]
        sizes = end - begin
        rows = np.repeat(np.arange(len(cells)), sizes)
        offset = np.arange(len(rows)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        return rows, self.items[np.repeat(begin, sizes) + offset]


def _measure(best: np.ndarray, points: np.ndarray, rows: np.ndarray, tris: np.ndarray,
             grid: _Grid) -> None:
    """best[rows] = min(best[rows], exact distance of points[rows] to triangles tris);
    ``rows`` ascending (pairs grouped by point). Pairs whose triangle's bounding box is
    already farther than the best distance are not measured."""
    tri = grid.tri
    for start in range(0, len(rows), PAIRS_PER_STEP):
        r, t = rows[start:start + PAIRS_PER_STEP], tris[start:start + PAIRS_PER_STEP]
        p = points[r]
        gap = np.maximum(grid.box_lo[t] - p, 0.0) + np.maximum(p - grid.box_hi[t], 0.0)
        near = np.einsum("ij,ij->i", gap, gap) < best[r] ** 2
        r, t, p = r[near], t[near], p[near]
        if not len(r):
            continue
        d = closest_point_distance(p, tri[t, 0], tri[t, 1], tri[t, 2])
        heads = np.flatnonzero(np.concatenate([[True], r[1:] != r[:-1]]))
        np.minimum(best[r[heads]], np.minimum.reduceat(d, heads), out=d[:len(heads)])
        best[r[heads]] = d[:len(heads)]


def _ring(r: int) -> list[tuple[int, int]]:
    """Cell offsets at Chebyshev distance exactly ``r``."""
    if r == 0:
        return [(0, 0)]
    return [(dx, dy) for dx in range(-r, r + 1) for dy in range(-r, r + 1)
            if max(abs(dx), abs(dy)) == r]


def point_mesh_distance(points: np.ndarray, positions: np.ndarray,
                        indices: np.ndarray) -> np.ndarray:
    """Exact distance (same units) from each point (P, 3) to the mesh."""
    points = np.asarray(points, dtype=np.float64)
    indices = np.asarray(indices, dtype=np.int64).reshape(-1, 3)
    best = np.full(len(points), np.inf)
    if not len(indices) or not len(points):
        return best
    grid = _Grid(np.asarray(positions, dtype=np.float64), indices)
    cell = np.floor((points[:, :2] - grid.lo) / grid.cell).astype(np.int64)
    open_ = np.arange(len(points))
    for r in range(MAX_RINGS + 1):
        for dx, dy in _ring(r):
            c = cell[open_] + (dx, dy)
            inside = (c >= 0).all(axis=1) & (c < grid.dims).all(axis=1)
            rows, tris = grid.candidates(c[inside, 0] + grid.dims[0] * c[inside, 1])
            _measure(best, points, open_[inside][rows], tris, grid)
        open_ = open_[best[open_] > _border(points[open_], cell[open_], r, grid)]
        if not len(open_):
            return best
    everything = np.arange(len(indices))
    step = max(1, PAIRS_PER_STEP // len(indices))
    for start in range(0, len(open_), step):
        part = open_[start:start + step]
        _measure(best, points, np.repeat(part, len(indices)),  # grouped by point
                 np.tile(everything, len(part)), grid)
    return best


def _border(points: np.ndarray, cell: np.ndarray, r: int, grid: _Grid) -> np.ndarray:
    """xy distance from each point to the nearest edge of its searched block of
    (2r+1)^2 cells; sides where the block reaches past the grid hold no triangle."""
    lo = grid.lo + (cell - r) * grid.cell
    hi = grid.lo + (cell + r + 1) * grid.cell
    gap_lo = np.where(cell - r <= 0, np.inf, points[:, :2] - lo)
    gap_hi = np.where(cell + r + 1 >= grid.dims, np.inf, hi - points[:, :2])
    return np.minimum(gap_lo, gap_hi).min(axis=1)
