"""The measured geometric error rests on an exact point-to-mesh distance: check it
against brute force (every triangle) on meshes the grid finds awkward."""
import numpy as np

from tiles.build.lod import closest_point_distance
from tiles.build.nearest import point_mesh_distance


def _brute(points, pos, idx):
    return np.array([closest_point_distance(np.repeat(p[None], len(idx), 0), pos[idx[:, 0]],
                                            pos[idx[:, 1]], pos[idx[:, 2]]).min()
                     for p in points])


def test_grid_distance_equals_brute_force_on_a_wavy_terrain_with_slivers():
    rng = np.random.default_rng(3)
    n = 30
    lin = np.linspace(0, 300, n + 1)
    gx, gy = np.meshgrid(lin, lin)
    pos = np.column_stack([gx.ravel(), gy.ravel(), 8 * np.sin(gx.ravel() / 23)])
    i = np.arange(n)
    a = (i[None, :] + (n + 1) * i[:, None]).ravel()
    idx = np.concatenate([np.stack([a, a + 1, a + n + 2], 1),
                          np.stack([a, a + n + 2, a + n + 1], 1)])
    # a long sliver across the whole tile, and a degenerate triangle
    idx = np.concatenate([idx, [[0, n, len(pos) - 1]], [[5, 5, 6]]])
    # near the surface, far above it, and outside the grid on every side
    points = np.concatenate([rng.uniform([0, 0, -10], [300, 300, 10], (300, 3)),
                             rng.uniform([-200, -200, -300], [500, 500, 300], (100, 3))])
    got = point_mesh_distance(points, pos, idx)
    assert np.allclose(got, _brute(points, pos, idx), rtol=0, atol=1e-9)


def test_distance_is_zero_on_the_surface_and_exact_off_a_tall_box():
    # a tall, thin closed box (an octree-like shape for the grid)
    pos = np.array([[x, y, z] for z in (0, 100) for y in (0, 2) for x in (0, 3)], float)
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    idx = np.array([t for q in quads for t in ((q[0], q[1], q[2]), (q[0], q[2], q[3]))])
    points = np.array([[1.5, 1.0, 50.0],   # inside: 1 m from the nearest walls (y)
                       [3.0, 1.0, 20.0],   # on a wall
                       [1.5, 1.0, 130.0]])  # 30 m above the top
    assert np.allclose(point_mesh_distance(points, pos, idx), [1.0, 0.0, 30.0])
