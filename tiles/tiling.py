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
        self._points = np.empty((0, 3))
        self._keys = np.empty(0)
        self._cut = 1.0

    def add(self, points: np.ndarray) -> None:
        """Offer points (N, 3); keeps the ``size`` with the smallest random keys."""
        self.total += len(points)
        keys = self._rng.random(len(points))
        if len(self._keys) >= self.size:  # full: only keys below the current cut can enter
            cut = self._cut
            take = keys < cut
            points, keys = points[take], keys[take]
            if not len(keys):
                return
        pts = np.concatenate([self._points, points])
        allkeys = np.concatenate([self._keys, keys])
        if len(allkeys) > self.size:
            keep = np.argpartition(allkeys, self.size)[: self.size]
            pts, allkeys = pts[keep], allkeys[keep]
        self._points, self._keys = pts, allkeys
        self._cut = float(allkeys.max()) if len(allkeys) else 1.0

    @property
    def points(self) -> np.ndarray:
        return self._points


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
        """Leaf node index for each point (N, 3)."""
        node = np.zeros(len(points), dtype=np.int64)
        for _ in range(self.depth):
            inner = self._children[node, 0] >= 0
            if not inner.any():
                break
            idx = node[inner]
            pts = points[inner]
            mid = self._mid[idx]
            code = (pts[:, 0] >= mid[:, 0]).astype(np.int64)
            code += 2 * (pts[:, 1] >= mid[:, 1])
            code += 4 * (self._split_z[idx] & (pts[:, 2] >= mid[:, 2]))
            node[inner] = self._children[idx, code]
        return node

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
