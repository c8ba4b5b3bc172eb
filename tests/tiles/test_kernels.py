"""The numpy and compiled kernels agree, so small and large inputs are treated alike."""
import numpy as np

from tiles.build import kernels, kernels_jit
from tiles.glb import kernels as glb_kernels
from tiles.glb import kernels_jit as glb_kernels_jit
from tiles.glb.encode import CREASE_COS


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


def test_crease_streams_numpy_path_matches_compiled(monkeypatch):
    """Both paths split the same corners and give the same y-up streams: a box (every
    corner on a crease: hard edges) and a random smooth-ish mesh."""
    box = np.array([[x, y, z] for x in (0, 1) for y in (0, 2) for z in (0, 3)], np.float32)
    faces = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
                      [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]],
                     np.uint32)
    rng = np.random.default_rng(9)
    cloud = rng.normal(size=(200, 3)).astype(np.float32)
    tris = rng.integers(0, 200, size=(600, 3)).astype(np.uint32)
    monkeypatch.setattr(glb_kernels, "use_compiled", lambda triangles: False)
    for positions, indices in ((box, faces), (cloud, tris)):
        compiled = glb_kernels_jit.crease_streams(positions, indices, CREASE_COS)
        plain = glb_kernels.crease_streams(positions, indices, CREASE_COS)
        assert np.array_equal(plain[0], compiled[0]) and np.array_equal(plain[1], compiled[1])
        assert np.allclose(plain[2], compiled[2])
        assert np.allclose(plain[3], compiled[3], atol=1e-6)
        assert len(plain[1]) > 0  # corners split off at creases
