"""Simplification for parent tiles: fewer triangles, features intact, honest error."""
from __future__ import annotations

import numpy as np
import pytest
import trimesh
from trimesh.triangles import closest_point

from tiles.errors import TilesError
from tiles.glb.encode import Primitive, to_glb
from tiles.build.lod import closest_point_distance, simplify, surface_deviation
from tiles.model import Material
from tiles.validate import validate_glb

RADIUS = 10.0


@pytest.fixture(scope="module")
def sphere():
    """A 20k-triangle sphere split into two features (west / east half)."""
    mesh = trimesh.creation.icosphere(subdivisions=5, radius=RADIUS)
    fid = (mesh.vertices[:, 0] > 0).astype(np.uint32)
    uv = np.stack([mesh.vertices[:, 0], mesh.vertices[:, 1]], 1) / (2 * RADIUS) + 0.5
    return mesh.vertices.copy(), mesh.faces.astype(np.uint32), fid, uv.astype(np.float32)


def test_simplify_reaches_target_and_keeps_features(sphere):
    pos, idx, fid, uv = sphere
    out = simplify(pos, idx, 1000, feature_ids=fid, uvs=uv)
    assert len(out.indices) <= 1100
    tri_ids = out.feature_ids[out.indices]
    assert (tri_ids.min(axis=1) == tri_ids.max(axis=1)).all(), "a triangle mixes features"
    assert set(np.unique(out.feature_ids)) == {0, 1}
    # every output vertex is an input vertex, so its UV is that vertex's UV
    lookup = {tuple(p): tuple(t) for p, t in zip(pos.round(9), uv)}
    assert all(lookup[tuple(p)] == tuple(t) for p, t in zip(out.positions.round(9), out.uvs))


def test_error_is_measured_not_guessed(sphere):
    pos, idx, fid, _ = sphere
    out = simplify(pos, idx, 500, feature_ids=fid)
    # independent lower bound: how far simplified triangle centroids sink below the sphere
    centroids = out.positions[out.indices].mean(axis=1)
    sink = RADIUS - np.linalg.norm(centroids, axis=1).min()
    input_sagitta = RADIUS - np.linalg.norm(pos[idx].mean(axis=1), axis=1).min()
    assert out.error >= sink - input_sagitta - 1e-6
    assert 0 < out.error < 0.2 * RADIUS
    coarser = simplify(pos, idx, 100, feature_ids=fid)
    assert coarser.error > out.error


def test_no_reduction_means_zero_error(sphere):
    pos, idx, _, _ = sphere
    out = simplify(pos, idx, len(idx) + 10)
    assert out.error == 0.0 and len(out.indices) == len(idx)


def test_lock_border_keeps_tile_edges():
    n = 40
    xs, ys = np.meshgrid(np.linspace(0, 100, n), np.linspace(0, 100, n))
    zs = 5 * np.sin(xs / 9) * np.cos(ys / 7)
    pos = np.stack([xs.ravel(), ys.ravel(), zs.ravel()], 1)
    q = np.arange(n * n).reshape(n, n)[:-1, :-1].ravel()
    idx = np.concatenate([np.stack([q, q + 1, q + n], 1), np.stack([q + 1, q + n + 1, q + n], 1)])
    out = simplify(pos, idx.astype(np.uint32), 300, lock_border=True)
    border = (pos[:, 0] == 0) | (pos[:, 0] == 100) | (pos[:, 1] == 0) | (pos[:, 1] == 100)
    kept = {tuple(p) for p in out.positions.round(9)}
    assert all(tuple(p) in kept for p in pos[border].round(9))


def test_simplified_mesh_encodes_to_valid_glb(sphere):
    pos, idx, fid, uv = sphere
    out = simplify(pos, idx, 800, feature_ids=fid)
    glb = to_glb([Primitive(out.positions.astype(np.float32), out.indices, Material(),
                            feature_ids=out.feature_ids)])
    report = validate_glb([glb])[0]
    assert report.errors == 0, report.summary()


def test_point_triangle_distance_matches_trimesh():
    rng = np.random.default_rng(3)
    tri = rng.normal(size=(2000, 3, 3))
    pts = rng.normal(size=(2000, 3)) * 2
    ours = closest_point_distance(pts, tri[:, 0], tri[:, 1], tri[:, 2])
    theirs = np.linalg.norm(pts - closest_point(tri, pts), axis=1)
    assert np.allclose(ours, theirs, atol=1e-9)


def test_deviation_of_a_shifted_plane_is_the_shift():
    pos = np.array([[0, 0, 0], [10, 0, 0], [0, 10, 0], [10, 10, 0]], float)
    idx = np.array([[0, 1, 2], [1, 3, 2]], np.uint32)
    assert surface_deviation(pos, idx, pos + [0, 0, 0.25], idx) == pytest.approx(0.25)


def test_bad_arrays_are_refused():
    with pytest.raises(TilesError):
        simplify(np.zeros((3, 2)), np.array([[0, 1, 2]]), 1)
    with pytest.raises(TilesError):
        simplify(np.zeros((3, 3)), np.array([[0, 1, 5]]), 1)
