"""The numpy and compiled kernels agree, so small and large inputs are treated alike."""
import numpy as np

from tiles.build import kernels, kernels_jit
from tiles.glb import kernels as glb_kernels
from tiles.glb import kernels_jit as glb_kernels_jit


def _mesh(rng, n_vertices=500, n_triangles=2000):
    positions = rng.normal(size=(n_vertices, 3)) * 50
    positions[7] = np.nan                     # a broken vertex
    indices = rng.integers(0, n_vertices, size=(n_triangles, 3)).astype(np.int64)
    indices[3] = (1, 1, 2)                    # repeated corner
    indices[4] = (0, 1, n_vertices + 5)       # out of range
    positions[20] = positions[21]             # zero-area triangle below
    indices[5] = (20, 21, 22)
    return positions, indices


def test_valid_triangles_numpy_path_matches_compiled():
    rng = np.random.default_rng(7)
    positions, indices = _mesh(rng)
    numpy_mask = kernels.valid_triangles(positions, indices, 1e-6)
    compiled_mask = kernels_jit.valid_triangles(positions, indices, 1e-6)
    assert not numpy_mask[3] and not numpy_mask[4] and not numpy_mask[5]
    assert np.array_equal(numpy_mask, compiled_mask)


def test_normals_numpy_path_matches_compiled():
    rng = np.random.default_rng(8)
    positions = rng.normal(size=(300, 3))
    indices = rng.integers(0, 300, size=(1000, 3)).astype(np.int64)
    face_np, vert_np = glb_kernels.face_and_vertex_normals(positions, indices, 300)
    face_jit, vert_jit = glb_kernels_jit.face_and_vertex_normals(positions, indices, 300)
    assert np.allclose(face_np, face_jit) and np.allclose(vert_np, vert_jit, atol=1e-9)
    lengths = np.linalg.norm(vert_np, axis=1)
    assert np.allclose(lengths[lengths > 0], 1.0)
