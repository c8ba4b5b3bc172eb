"""Spatial partition of triangles into a tile tree (quadtree where flat, octree where tall).

The tree is planned from a uniform random sample of triangle centroids (bottom-k
sampling while the input streams, :class:`CentroidSample`), so planning needs bounded
memory whatever the input size. A node is split while its estimated triangle count is
above the per-tile budget. Each split halves x and y; z is halved too when the node is
at least half as tall as it is wide (a tower, a BIM model), so a flat district gets a
quadtree and tall data an octree, node by node.

Triangles are then assigned to leaves by their centroid with :meth:`TilePlan.assign`
(vectorised descent). Tile bounding boxes are computed later from the actual contents,
so they are tight; cells only decide membership.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tiles.build.kernels import descend, descend_points

#: Sample size used to plan the tree (memory: 32 bytes per sample).
SAMPLE_SIZE = 400_000
#: Deepest level the planner goes to; 4**12 leaves is far beyond a district.
MAX_DEPTH = 12
#: Cells are not split below this edge length (metres).
MIN_CELL_M = 2.0
#: A node gets a z split when height >= TALL_RATIO * its larger horizontal extent.
TALL_RATIO = 0.5


class CentroidSample:
    """Uniform sample without replacement of streamed points (bottom-k random keys)."""

    def __init__(self, size: int = SAMPLE_SIZE, seed: int = 0):
        self.size = size
        self.total = 0
        self._rng = np.random.default_rng(seed)
        self._points = [np.empty((0, 3))]
        self._keys = [np.empty(0)]
        self._pending = 0  # points offered since the last compaction
        self._cut = 1.0

    def add(self, points: np.ndarray) -> None:
        """Offer points (N, 3); keeps the ``size`` with the smallest random keys.

        Candidates (keys below the cut of the last compaction) are queued and the
        bottom-k selection runs only when the queue reaches ``size``: one selection per
        ``size`` candidates, not one per batch (it was 6 % of a whole build).
        """
        self.total += len(points)
        keys = self._rng.random(len(points))
        if self._cut < 1.0:  # full: only keys below the cut can enter
            take = keys < self._cut
            points, keys = points[take], keys[take]
        self._points.append(np.asarray(points, dtype=np.float64))
        self._keys.append(keys)
        self._pending += len(keys)
        if self._pending >= self.size:
            self._compact()

    def _compact(self) -> None:
        pts, keys = np.concatenate(self._points), np.concatenate(self._keys)
        if len(keys) > self.size:
            keep = np.argpartition(keys, self.size)[: self.size]
            pts, keys = pts[keep], keys[keep]
            self._cut = float(keys.max())
        self._points, self._keys, self._pending = [pts], [keys], 0

    @property
    def points(self) -> np.ndarray:
        if len(self._points) > 1:
            self._compact()
        return self._points[0]


@dataclass
class PlanNode:
    """A cell of the planned tree."""

    key: str
    level: int
    lo: np.ndarray
    hi: np.ndarray
    split_z: bool = False
    children: list[int] = field(default_factory=list)  # indices into TilePlan.nodes

    @property
    def is_leaf(self) -> bool:
        return not self.children


class TilePlan:
    """The planned tree: nodes (root first) and the descent used to assign triangles."""

    def __init__(self, nodes: list[PlanNode]):
        self.nodes = nodes
        n = len(nodes)
        self._mid = np.array([(p.lo + p.hi) / 2 for p in nodes]).reshape(n, 3)
        self._split_z = np.array([p.split_z for p in nodes], dtype=bool)
        self._children = np.full((n, 8), -1, dtype=np.int64)
        for i, node in enumerate(nodes):
            for code, child in enumerate(node.children):
                self._children[i, code] = child
        self.depth = max(p.level for p in nodes)

    def assign(self, points: np.ndarray) -> np.ndarray:
        """Leaf node index for each point (N, 3) (compiled descent, tiles.build.kernels)."""
        return descend_points(np.ascontiguousarray(points, dtype=np.float64), self._mid,
                              self._split_z, self._children, self.depth)

    def assign_triangles(self, positions: np.ndarray, indices: np.ndarray) -> np.ndarray:
        """Leaf node index for each triangle, by its centroid (no centroid array)."""
        return descend(np.ascontiguousarray(positions), np.ascontiguousarray(indices),
                       self._mid, self._split_z, self._children, self.depth)

    def leaves(self) -> list[int]:
        return [i for i, p in enumerate(self.nodes) if p.is_leaf]


def _split(node: PlanNode, nodes: list[PlanNode]) -> list[int]:
    """Create the 4 or 8 children of ``node`` (all of them, so descent never misses)."""
    ext = node.hi - node.lo
    node.split_z = bool(ext[2] >= TALL_RATIO * max(ext[0], ext[1]) and ext[2] > MIN_CELL_M)
    mid = (node.lo + node.hi) / 2
    codes = range(8 if node.split_z else 4)
    out = []
    for code in codes:
        bits = np.array([code & 1, (code >> 1) & 1, (code >> 2) & 1], dtype=bool)
        lo = np.where(bits, mid, node.lo)
        hi = np.where(bits, node.hi, mid)
        if not node.split_z:
            lo[2], hi[2] = node.lo[2], node.hi[2]
        child = PlanNode(key=f"{node.key}{code}", level=node.level + 1, lo=lo, hi=hi)
        nodes.append(child)
        out.append(len(nodes) - 1)
    node.children = out
    return out


def plan_tree(sample: CentroidSample, lo: np.ndarray, hi: np.ndarray,
              max_triangles_per_tile: int, max_depth: int = MAX_DEPTH) -> TilePlan:
    """Plan the tree over cell [lo, hi] so each leaf holds about <= the budget."""
    weight = sample.total / max(1, len(sample.points))
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    pad = np.maximum((hi - lo) * 1e-6, 1e-3)
    nodes = [PlanNode(key="r", level=0, lo=lo - pad, hi=hi + pad)]
    stack = [(0, sample.points)]
    while stack:
        index, pts = stack.pop()
        node = nodes[index]
        too_many = len(pts) * weight > max_triangles_per_tile
        big_enough = np.max(node.hi[:2] - node.lo[:2]) > MIN_CELL_M
        if not (too_many and big_enough and node.level < max_depth):
            continue
        children = _split(node, nodes)
        mid = (node.lo + node.hi) / 2
        code = (pts[:, 0] >= mid[0]).astype(np.int64) + 2 * (pts[:, 1] >= mid[1])
        if node.split_z:
            code += 4 * (pts[:, 2] >= mid[2])
        for c, child in enumerate(children):
            stack.append((child, pts[code == c]))
    return TilePlan(nodes)
