"""Parents over a production's tile folders stay at budget: seam-free simplification and
an orthophoto re-bake of the children's textures (tiles.build.parent_bake).

Unit tests on known inputs; a real parent over four folders is checked in
test_photo_production.py (test_a_parent_over_four_folders_...).
"""
import io

import numpy as np
from PIL import Image

from tiles.build.chunk import NO_FEATURE, Chunk
from tiles.build.nearest import point_mesh_distance
from tiles.build.parent_bake import baked_chunk
from tiles.build.quadtree import simplified_surface


def _quad(x0, y0, x1, y1, z, texture):
    positions = np.array([[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]], float)
    uvs = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float32)
    return Chunk(positions=positions, indices=np.array([[0, 1, 2], [0, 2, 3]], np.uint32),
                 feature_ids=np.full(4, NO_FEATURE, np.uint32), uvs=uvs, texture=texture)


def _jpeg(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8), "RGB").save(out, "JPEG", quality=95)
    return out.getvalue()


def test_the_bake_draws_each_place_with_the_texture_seen_from_above():
    """Ground 0..10 m, west half red and east half blue (one 64 x 32 image); a green
    roof over 2..4 m at 5 m height covers the red ground under it."""
    ground = np.zeros((32, 64, 3))
    ground[:, :32] = (220, 20, 20)
    ground[:, 32:] = (20, 20, 220)
    roof = np.zeros((16, 16, 3))
    roof[:] = (20, 200, 20)
    sources = [_quad(0, 0, 10, 10, 0.0, _jpeg(ground)),
               _quad(2, 2, 4, 4, 5.0, _jpeg(roof))]
    xs, ys = np.meshgrid(np.arange(11.0), np.arange(11.0))
    positions = np.stack([xs.ravel(), ys.ravel(), np.zeros(121)], axis=1)
    cells = [(j * 11 + i, j * 11 + i + 1, (j + 1) * 11 + i + 1, (j + 1) * 11 + i)
             for j in range(10) for i in range(10)]
    indices = np.array([t for a, b, c, d in cells for t in ((a, b, c), (a, c, d))],
                       np.uint32)
    chunk = baked_chunk(positions, indices, sources, max_px=512)
    image = np.asarray(Image.open(io.BytesIO(chunk.texture)).convert("RGB"), float)
    height, width = image.shape[:2]

    def colour_at(x, y):
        u, v = chunk.uvs[int(y) * 11 + int(x)]
        return image[min(int((1 - v) * height), height - 1), min(int(u * width), width - 1)]
    for (x, y), expected in [((1, 8), (220, 20, 20)), ((8, 8), (20, 20, 220)),
                             ((8, 1), (20, 20, 220)), ((3, 3), (20, 200, 20)),
                             ((1, 1), (220, 20, 20))]:
        assert np.abs(colour_at(x, y) - expected).max() < 40, (x, y, colour_at(x, y))
    assert chunk.triangle_count == len(indices) and chunk.material == 0


def test_the_simplified_surface_reaches_its_target_and_measures_its_worst_vertex():
    """A bumpy 40 x 40 m field with UV seams on every other column (duplicated vertices,
    as photogrammetry charts are): welded, it reaches a quarter; the deviation returned
    is at least the exact distance of every input vertex from the output."""
    rng = np.random.default_rng(3)
    n = 41
    xs, ys = np.meshgrid(np.arange(n, dtype=float), np.arange(n, dtype=float))
    zs = rng.normal(0.0, 0.5, xs.shape) + 4.0 * np.sin(xs / 6.0)
    grid = np.stack([xs.ravel(), ys.ravel(), zs.ravel()], axis=1)
    chunks = []
    for band in range(0, n - 1, 2):  # one chunk per 2-column band: a seam between bands
        cells = [(j * n + i, j * n + i + 1, (j + 1) * n + i + 1, (j + 1) * n + i)
                 for j in range(n - 1) for i in (band, band + 1)]
        tri = np.array([t for a, b, c, d in cells for t in ((a, b, c), (a, c, d))])
        used, inverse = np.unique(tri, return_inverse=True)
        chunks.append(Chunk(positions=grid[used], indices=inverse.reshape(-1, 3).astype(
            np.uint32), feature_ids=np.full(len(used), NO_FEATURE, np.uint32),
            uvs=rng.random((len(used), 2)).astype(np.float32), texture=b"x"))
    total = sum(c.triangle_count for c in chunks)
    positions, indices, deviation = simplified_surface(chunks, total // 4)
    assert len(indices) <= 1.25 * (total // 4)
    worst = point_mesh_distance(grid, positions, indices).max()
    assert 0 < worst <= deviation + 1e-9


def test_the_numpy_grid_distance_is_exact_like_the_compiled_one():
    """tiles.build.nearest_grid (parents, no numba) against tiles.build.nearest on a
    random triangle soup with points inside, above and far outside it."""
    from tiles.build import nearest, nearest_grid
    rng = np.random.default_rng(5)
    positions = rng.random((300, 3)) * [100, 80, 10]
    indices = rng.integers(0, 300, (200, 3))
    points = rng.random((3000, 3)) * [300, 240, 60] - [100, 80, 20]
    assert np.allclose(nearest_grid.point_mesh_distance(points, positions, indices),
                       nearest.point_mesh_distance(points, positions, indices), atol=1e-9)
