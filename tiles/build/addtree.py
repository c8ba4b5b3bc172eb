"""ADD trees (BIM, buildings): whole features placed in tiles by their size.

With ``refine: ADD`` a tile's content is drawn together with its children's, so a
parent need not repeat anything; but a parent with no content draws nothing at a
distance. Here every feature (a building, an IFC element) stays whole in one tile: the
shallowest tile whose cell it is large compared to (``size >= KEEP_RATIO * cell``), up to
the tile's triangle budget (largest first); smaller features go down to the child cell
holding their centre. So the root holds the big buildings, and each level adds smaller
ones. A tile's geometricError is the size of the largest feature below it that it does
not hold itself (what is missing when only it is drawn; 0 at leaves): see
:mod:`tiles.build.hlod`.

Why this and not a simplified proxy in ADD parents: features stay exact and pickable at
every level, nothing is drawn twice (a proxy would overlap the real building under it),
and no simplification time is spent. The cost: per-feature statistics (centre, size,
triangles: 64 bytes a feature) are held in memory while planning, so memory grows
with the number of features, not with triangles.
"""
from __future__ import annotations

import numpy as np

from tiles.build.chunk import NO_FEATURE, Chunk
from tiles.build.tiling import MAX_DEPTH, MIN_CELL_M, PlanNode, TilePlan, _split

#: A feature stays in a tile when its bounding-box diagonal is at least this share of
#: the tile cell's largest side (1/16: a 2 km district root keeps buildings >= 125 m).
KEEP_RATIO = 1.0 / 16.0
#: A tile is split only when what would go down holds at least this many triangles
#: (~40 KB of glb): no tiles of a few sheds each, one request per tile must be worth it.
MIN_SPLIT_TRIANGLES = 1000


def feature_part(chunk: Chunk) -> tuple[np.ndarray, ...]:
    """(ids, lo, hi, triangles) of the features in one chunk (NO_FEATURE left out)."""
    ids, inverse = np.unique(chunk.feature_ids, return_inverse=True)
    lo = np.full((len(ids), 3), np.inf)
    hi = np.full((len(ids), 3), -np.inf)
    np.minimum.at(lo, inverse, chunk.positions)
    np.maximum.at(hi, inverse, chunk.positions)
    tri = np.bincount(inverse[chunk.indices[:, 0]], minlength=len(ids))
    keep = ids != NO_FEATURE
    return ids[keep], lo[keep], hi[keep], tri[keep]


class FeatureStats:
    """Per-feature bounding box and triangle count, gathered while the input streams."""

    def __init__(self) -> None:
        self._parts: list[tuple[np.ndarray, ...]] = []

    def add(self, chunk: Chunk) -> None:
        """Record the chunk's features (vertices without a feature are left out)."""
        self.add_part(feature_part(chunk))

    def add_part(self, part: tuple[np.ndarray, ...]) -> None:
        """Record the result of :func:`feature_part` (computed where the chunk was)."""
        self._parts.append(part)
        if len(self._parts) > 64:
            self._parts = [self.merged()]

    def merged(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(ids sorted, lo (F,3), hi (F,3), triangles (F,)) over everything added."""
        if not self._parts:
            return (np.empty(0, np.uint32), np.empty((0, 3)), np.empty((0, 3)),
                    np.empty(0, np.int64))
        ids = np.concatenate([p[0] for p in self._parts])
        order = np.argsort(ids, kind="stable")
        ids = ids[order]
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
        lo = np.minimum.reduceat(np.concatenate([p[1] for p in self._parts])[order], starts)
        hi = np.maximum.reduceat(np.concatenate([p[2] for p in self._parts])[order], starts)
        tri = np.add.reduceat(np.concatenate([p[3] for p in self._parts])[order], starts)
        return ids[starts], lo, hi, tri


class AddPlan(TilePlan):
    """A TilePlan whose tiles (not only leaves) hold features, by id."""

    def __init__(self, nodes: list[PlanNode], feature_ids: np.ndarray, feature_node: np.ndarray):
        super().__init__(nodes)
        self.feature_ids = feature_ids
        self.feature_node = feature_node

    def place(self, chunk: Chunk) -> np.ndarray:
        """Node index for each triangle of ``chunk`` (its feature's tile; triangles
        without a feature go to the leaf holding their centroid)."""
        tri_fid = chunk.feature_ids[chunk.indices[:, 0]]
        pos = np.searchsorted(self.feature_ids, tri_fid)
        pos = np.minimum(pos, max(len(self.feature_ids) - 1, 0))
        known = (len(self.feature_ids) > 0) & (self.feature_ids[pos] == tri_fid) \
            if len(self.feature_ids) else np.zeros(len(tri_fid), bool)
        node = np.empty(len(tri_fid), dtype=np.int64)
        node[known] = self.feature_node[pos[known]]
        if not known.all():
            node[~known] = self.assign(chunk.centroids()[~known])
        return node


def _keep(sizes: np.ndarray, tris: np.ndarray, cell: float, budget: int) -> np.ndarray:
    """Mask of the features a tile of side ``cell`` keeps: big ones, largest first, up to
    the budget (at least one, so a huge feature always has a home)."""
    big = np.flatnonzero(sizes >= KEEP_RATIO * cell)
    big = big[np.argsort(-sizes[big], kind="stable")]
    fits = np.cumsum(tris[big]) <= budget
    fits[:1] = True
    mask = np.zeros(len(sizes), dtype=bool)
    mask[big[fits]] = True
    return mask


def plan_add_tree(stats: FeatureStats, lo: np.ndarray, hi: np.ndarray, budget: int,
                  max_depth: int = MAX_DEPTH) -> AddPlan:
    """Plan an ADD tree over cell [lo, hi] placing every feature whole (see module doc)."""
    ids, f_lo, f_hi, tris = stats.merged()
    centres, sizes = (f_lo + f_hi) / 2.0, np.linalg.norm(f_hi - f_lo, axis=1)
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    pad = np.maximum((hi - lo) * 1e-6, 1e-3)
    nodes = [PlanNode(key="r", level=0, lo=lo - pad, hi=hi + pad)]
    feature_node = np.zeros(len(ids), dtype=np.int64)
    stack = [(0, np.arange(len(ids)))]
    while stack:
        index, members = stack.pop()
        node = nodes[index]
        cell = float(np.max(node.hi - node.lo))
        keep = _keep(sizes[members], tris[members], cell, budget)
        rest = members[~keep]
        down = int(tris[rest].sum())
        can_split = node.level < max_depth and cell / 2 >= MIN_CELL_M
        if not (len(rest) and can_split and (down > budget or
                                             int(tris[members].sum()) > budget or
                                             down >= MIN_SPLIT_TRIANGLES)):
            feature_node[members] = index
            continue
        feature_node[members[keep]] = index
        children = _split(node, nodes)
        mid = (node.lo + node.hi) / 2
        pts = centres[rest]
        code = (pts[:, 0] >= mid[0]).astype(np.int64) + 2 * (pts[:, 1] >= mid[1])
        if node.split_z:
            code += 4 * (pts[:, 2] >= mid[2])
        for c, child in enumerate(children):
            stack.append((child, rest[code == c]))
    return AddPlan(nodes, ids, feature_node)
