"""Levels of detail: the one simplifier of parent tiles, with a measured geometric error.

:func:`simplify_chunk` reduces a chunk with meshoptimizer's quadric simplifier (3-6x
faster than fast-simplification on our meshes, see bench/README.md). It never invents
vertices: every output vertex is an input vertex, so UVs, colours, normals and feature
ids stay exactly what they were. Feature ids are never blended: triangles whose corners
disagree on the feature first get their own vertices (:func:`split_mixed_features`, a
linear pass), after which no vertex is shared by two features and a collapse can only
happen inside one feature. UV seams survive because meshoptimizer treats coincident
vertices with different attributes as a seam.

The error is *measured* (:func:`measured_error`, what feeds ``geometricError``): the
larger of meshoptimizer's own quadric error in metres (the distance of every kept vertex
to the planes of the triangles its collapses removed, over *all* collapses) and the
largest exact distance, both ways, between bounded random samples of the two surfaces
(input vertices to the output, output edge midpoints and centroids to the input; exact
nearest triangle on a compiled grid, :mod:`tiles.build.nearest`). The cost is bounded
(``SAMPLE_VERTICES`` queries a way) whatever the tile size. :func:`surface_deviation` is
the full two-way sampled measure, kept for tests and benchmarks that check the cheap one.
"""
from __future__ import annotations

import meshoptimizer
import numpy as np

from tiles.build.chunk import Chunk

#: Query points used per direction when measuring the deviation; enough to find the
#: worst spot of a tile-sized mesh, bounded so a 500k-triangle parent stays fast.
MAX_QUERY_POINTS = 20_000
#: Input vertices sampled per simplification by :func:`measured_error`.
SAMPLE_VERTICES = 2048


def meshopt_simplify(positions: np.ndarray, indices: np.ndarray, target: int,
                     max_error: float = 1e9) -> tuple[np.ndarray, float]:
    """Run meshoptimizer; returns the kept triangles as (K,3) indices into positions and
    its quadric error estimate in metres (positions are metres). It stops at ``target``
    triangles or before a collapse would exceed ``max_error`` metres."""
    lo, hi = positions.min(axis=0), positions.max(axis=0)
    local = np.ascontiguousarray(positions - (lo + hi) / 2.0, dtype=np.float32)
    flat = np.ascontiguousarray(indices, dtype=np.uint32).reshape(-1)
    out = np.empty_like(flat)
    options = meshoptimizer.SIMPLIFY_ERROR_ABSOLUTE
    estimate = np.zeros(1, dtype=np.float32)
    count = meshoptimizer.simplify(out, flat, local, target_index_count=3 * int(target),
                                   target_error=float(max_error), options=options,
                                   result_error=estimate)
    return out[:count].reshape(-1, 3), float(estimate[0])


#: A simplification keeping more than this times its target is retried (see simplify_chunk).
OVER_TARGET = 1.25
#: Largest quadric collapse error accepted, as a share of the chunk's extent.
ERROR_LIMIT = 1.0 / 256


def split_mixed_features(chunk: Chunk) -> Chunk:
    """Give triangles whose corners carry different feature ids their own vertices
    (with the first corner's id), so no vertex is shared by two features."""
    fids = chunk.feature_ids[chunk.indices]
    mixed = (fids[:, 0] != fids[:, 1]) | (fids[:, 0] != fids[:, 2])
    if not mixed.any():
        return chunk
    corners = chunk.indices[mixed].reshape(-1)
    base = len(chunk.positions)
    take = lambda a: None if a is None else np.concatenate([a, a[corners]])
    new_fids = np.concatenate([chunk.feature_ids, np.repeat(fids[mixed, 0], 3)])
    indices = chunk.indices.copy()
    indices[mixed] = (base + np.arange(len(corners))).reshape(-1, 3)
    return Chunk(positions=take(chunk.positions), indices=indices.astype(np.uint32),
                 feature_ids=new_fids.astype(np.uint32), material=chunk.material,
                 normals=take(chunk.normals), uvs=take(chunk.uvs), colors=take(chunk.colors),
                 texture=chunk.texture)


def _sloppy(positions: np.ndarray, indices: np.ndarray, target: int) -> np.ndarray:
    """meshoptimizer's topology-free simplifier (vertex clustering): reaches any target."""
    local = np.ascontiguousarray(positions - positions.min(axis=0), dtype=np.float32)
    flat = np.ascontiguousarray(indices.reshape(-1), dtype=np.uint32)
    out = np.empty_like(flat)
    count = meshoptimizer.simplify_sloppy(out, flat, local, target_index_count=3 * int(target),
                               target_error=1.0)
    return out[:count].reshape(-1, 3)


def simplify_chunk(chunk: Chunk, target_triangles: int) -> tuple[Chunk, float]:
    """The chunk reduced to about ``target_triangles``; returns (chunk, error m).

    Quadric simplification first, stopping before a collapse would move the surface by
    more than ``ERROR_LIMIT`` x the chunk's extent. Children's borders do not match
    (each was simplified alone) and feature boundaries are seams, so on large merges
    the quadric simplifier can only reach the budget by wrecking the surface (measured:
    73 m off on a 1.5 km tile). When it stops above ``OVER_TARGET`` x the target, an
    untextured chunk is simplified topology-free instead (vertex clustering: 3 m on the
    same tile, budget kept); a textured one keeps the quadric result (clustering would
    tear its UV seams), over budget rather than wrong. Triangles whose corners then
    disagree on the feature get their own vertices (:func:`split_mixed_features`).
    """
    if chunk.triangle_count <= target_triangles:
        return chunk, 0.0
    chunk = split_mixed_features(chunk)
    extent = float(np.ptp(chunk.positions, axis=0).max())
    kept, estimate = meshopt_simplify(chunk.positions, chunk.indices, target_triangles,
                                      max_error=ERROR_LIMIT * extent)
    clustered = len(kept) > OVER_TARGET * target_triangles and chunk.uvs is None
    if clustered:
        kept, estimate = _sloppy(chunk.positions, kept, target_triangles), 0.0
    reduced = Chunk(positions=chunk.positions, indices=kept.astype(np.uint32),
                    feature_ids=chunk.feature_ids, material=chunk.material,
                    normals=chunk.normals, uvs=chunk.uvs, colors=chunk.colors,
                    texture=chunk.texture)
    reduced = reduced.select(np.arange(len(kept)))
    if clustered:
        reduced = split_mixed_features(reduced)
    # positions are the input surface's vertices (chunks are compact, or split copies)
    error = measured_error(chunk.positions, reduced.positions, reduced.indices, estimate,
                           source_indices=chunk.indices)
    return reduced, float(error)


def closest_point_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray,
                           c: np.ndarray) -> np.ndarray:
    """Exact distance from each point to its triangle (a, b, c), row by row.

    Ericson, Real-Time Collision Detection 5.1.5 (Voronoi regions of the triangle),
    vectorised; degenerate triangles fall back to their nearest vertex or edge.
    """
    ab, ac, ap = b - a, c - a, points - a
    d1, d2 = _dot(ab, ap), _dot(ac, ap)
    bp = points - b
    d3, d4 = _dot(ab, bp), _dot(ac, bp)
    cp = points - c
    d5, d6 = _dot(ab, cp), _dot(ac, cp)
    va = d3 * d6 - d5 * d4
    vb = d5 * d2 - d1 * d6
    vc = d1 * d4 - d3 * d2
    denom = va + vb + vc
    safe = np.where(np.abs(denom) > 1e-30, denom, 1.0)
    v, w = vb / safe, vc / safe
    closest = a + ab * v[:, None] + ac * w[:, None]  # inside the face
    regions = [
        ((d1 <= 0) & (d2 <= 0), a),
        ((d3 >= 0) & (d4 <= d3), b),
        ((d6 >= 0) & (d5 <= d6), c),
    ]
    edge_ab = (vc <= 0) & (d1 >= 0) & (d3 <= 0)
    t_ab = d1 / np.where(np.abs(d1 - d3) > 1e-30, d1 - d3, 1.0)
    edge_ac = (vb <= 0) & (d2 >= 0) & (d6 <= 0)
    t_ac = d2 / np.where(np.abs(d2 - d6) > 1e-30, d2 - d6, 1.0)
    edge_bc = (va <= 0) & ((d4 - d3) >= 0) & ((d5 - d6) >= 0)
    den_bc = (d4 - d3) + (d5 - d6)
    t_bc = (d4 - d3) / np.where(np.abs(den_bc) > 1e-30, den_bc, 1.0)
    # apply from the lowest to the highest priority: vertex regions win over edges
    closest = np.where(edge_bc[:, None], b + (c - b) * t_bc[:, None], closest)
    closest = np.where(edge_ac[:, None], a + ac * t_ac[:, None], closest)
    closest = np.where(edge_ab[:, None], a + ab * t_ab[:, None], closest)
    for mask, corner in reversed(regions):
        closest = np.where(mask[:, None], corner, closest)
    return np.linalg.norm(points - closest, axis=1)


def _dot(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", u, v)


def _surface_samples(positions: np.ndarray, indices: np.ndarray,
                     rng: np.random.Generator) -> np.ndarray:
    """Corners, edge midpoints and centroids of (at most MAX_QUERY_POINTS / 7 random)
    triangles: where a simplified surface departs most from the original."""
    if 7 * len(indices) > MAX_QUERY_POINTS:
        indices = indices[rng.choice(len(indices), MAX_QUERY_POINTS // 7, replace=False)]
    tri = positions[indices]
    return np.concatenate([tri[:, 0], tri[:, 1], tri[:, 2], tri.mean(axis=1),
                           (tri[:, 0] + tri[:, 1]) / 2, (tri[:, 1] + tri[:, 2]) / 2,
                           (tri[:, 2] + tri[:, 0]) / 2])


def surface_deviation(pos_a: np.ndarray, idx_a: np.ndarray, pos_b: np.ndarray,
                      idx_b: np.ndarray, seed: int = 0) -> float:
    """Symmetric max deviation (metres) between two triangle meshes, measured."""
    if len(idx_b) == 0 or len(idx_a) == 0:
        return float(np.ptp(pos_a, axis=0).max()) if len(pos_a) else 0.0
    a = np.asarray(pos_a, dtype=np.float64)
    b = np.asarray(pos_b, dtype=np.float64)
    origin = a.mean(axis=0)
    a, b = a - origin, b - origin
    rng = np.random.default_rng(seed)
    # deferred: tiles.build.nearest loads numba (exact nearest triangle)
    from tiles.build.nearest import point_mesh_distance
    forward = point_mesh_distance(_surface_samples(a, idx_a, rng), b, idx_b).max()
    backward = point_mesh_distance(_surface_samples(b, idx_b, rng), a, idx_a).max()
    return float(max(forward, backward))


def measured_error(source_vertices: np.ndarray, out_pos: np.ndarray, out_idx: np.ndarray,
                   estimate: float, seed: int = 0,
                   source_indices: np.ndarray | None = None) -> float:
    """Geometric error (m) of a simplification whose output vertices are input vertices.

    The larger of the simplifier's quadric ``estimate`` and the largest exact distance
    (nearest triangle found exactly on a grid, :mod:`tiles.build.nearest`) from up to
    ``SAMPLE_VERTICES`` random input vertices to the output surface and, when
    ``source_indices`` (the input triangles over ``source_vertices``) is given, from as
    many random output edge midpoints and centroids to the input surface: the way back
    catches output triangles that bridge gaps (clustering), which no input vertex sees.
    """
    if len(out_idx) == 0:
        return float(np.ptp(source_vertices, axis=0).max()) if len(source_vertices) else 0.0
    # deferred: tiles.build.nearest loads numba; only parents measure an error
    from tiles.build.nearest import point_mesh_distance
    rng = np.random.default_rng(seed)
    points = source_vertices
    if source_indices is not None and len(source_indices):
        # corners of random input triangles: only vertices the surface uses
        corners = np.asarray(source_indices).reshape(-1)
        points = points[corners[rng.integers(0, len(corners), SAMPLE_VERTICES)]]
    elif len(points) > SAMPLE_VERTICES:
        points = points[rng.integers(0, len(points), SAMPLE_VERTICES)]
    origin = out_pos.min(axis=0)
    sampled = point_mesh_distance(points - origin, out_pos - origin, out_idx).max()
    if source_indices is not None and len(source_indices):
        tris = out_idx[rng.integers(0, len(out_idx), SAMPLE_VERTICES // 4)]
        corner = out_pos[tris] - origin
        back = np.concatenate([corner.mean(axis=1), (corner[:, 0] + corner[:, 1]) / 2,
                               (corner[:, 1] + corner[:, 2]) / 2,
                               (corner[:, 2] + corner[:, 0]) / 2])
        sampled = max(sampled, point_mesh_distance(back, source_vertices - origin,
                                                   source_indices).max())
    return float(max(sampled, estimate, 0.0))
