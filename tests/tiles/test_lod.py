"""Simplification for parent tiles: fewer triangles, features intact, honest error."""
from __future__ import annotations

import numpy as np
import pytest
import trimesh
from trimesh.triangles import closest_point

from tiles.build.chunk import Chunk
from tiles.build.lod import closest_point_distance, simplify_chunk, surface_deviation
from tiles.glb.encode import Primitive, to_glb
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


def simplify(pos, idx, target, feature_ids=None, uvs=None):
    """The parent tiles' simplifier on one chunk; returns (chunk, measured error)."""
    fid = np.zeros(len(pos), np.uint32) if feature_ids is None else feature_ids
    return simplify_chunk(Chunk(positions=pos, indices=idx, feature_ids=fid, uvs=uvs), target)


def test_simplify_reaches_target_and_keeps_features(sphere):
    pos, idx, fid, _ = sphere
    out, _ = simplify(pos, idx, 1000, feature_ids=fid)
    assert len(out.indices) <= 1250  # OVER_TARGET, then vertex clustering reaches it
    tri_ids = out.feature_ids[out.indices]
    assert (tri_ids.min(axis=1) == tri_ids.max(axis=1)).all(), "a triangle mixes features"
    assert set(np.unique(out.feature_ids)) == {0, 1}


def test_textured_simplify_keeps_input_uvs(sphere):
    pos, idx, fid, uv = sphere
    out, _ = simplify(pos, idx, 1000, feature_ids=fid, uvs=uv)
    assert len(out.indices) < len(idx) / 4
    tri_ids = out.feature_ids[out.indices]
    assert (tri_ids.min(axis=1) == tri_ids.max(axis=1)).all(), "a triangle mixes features"
    # every output vertex is an input vertex, so its UV is that vertex's UV
    lookup = {tuple(p): tuple(t) for p, t in zip(pos.round(9), uv)}
    assert all(lookup[tuple(p)] == tuple(t) for p, t in zip(out.positions.round(9), out.uvs))


def test_error_is_measured_not_guessed(sphere):
    pos, idx, fid, _ = sphere
    out, error = simplify(pos, idx, 500, feature_ids=fid)
    # independent lower bound: how far simplified triangle centroids sink below the sphere
    centroids = out.positions[out.indices].mean(axis=1)
    sink = RADIUS - np.linalg.norm(centroids, axis=1).min()
    input_sagitta = RADIUS - np.linalg.norm(pos[idx].mean(axis=1), axis=1).min()
    assert error >= sink - input_sagitta - 1e-6
    assert 0 < error < 0.2 * RADIUS
    _, coarser = simplify(pos, idx, 100, feature_ids=fid)
    assert coarser > error


def test_no_reduction_means_zero_error(sphere):
    pos, idx, _, _ = sphere
    out, error = simplify(pos, idx, len(idx) + 10)
    assert error == 0.0 and len(out.indices) == len(idx)


def test_simplified_mesh_encodes_to_valid_glb(sphere):
    pos, idx, fid, uv = sphere
    out, _ = simplify(pos, idx, 800, feature_ids=fid)
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
