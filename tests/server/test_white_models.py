"""White models from footprints: closed LoD1 boxes, outward-facing walls, roofs with holes."""
from __future__ import annotations

import numpy as np
import pytest
import shapely

from server.white_models import white_model_batches
from tiles.model import GeoFrame

FRAME = GeoFrame(crs="EPSG:4548", origin=(500000.0, 4057000.0, 0.0))


def _triangles(batch):
    return batch.positions[batch.indices]


def test_courtyard_building_is_closed_and_faces_outwards():
    courtyard = shapely.Polygon([(0, 0), (20, 0), (20, 20), (0, 20)],
                                [[(5, 5), (5, 15), (15, 15), (15, 5)]])
    tower = shapely.box(40, 0, 50, 10)
    (batch,) = white_model_batches([courtyard, tower], [2.0, 0.0], [14.0, 30.0],
                                   [{"name": "a"}, {"name": "b"}], FRAME)
    assert batch.features == {0: {"name": "a"}, 1: {"name": "b"}}
    tri = _triangles(batch)
    face = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    # the winding's normal agrees with the stored normal on every triangle (glTF: CCW outside)
    stored = batch.normals[batch.indices[:, 0]]
    assert np.all(np.einsum("ij,ij->i", face, stored) > 0)
    roof = tri[(tri[:, :, 2] > 13.9).all(axis=1) & (batch.feature_ids[batch.indices[:, 0]] == 0)]
    roof_area = 0.5 * np.abs(np.cross(roof[:, 1] - roof[:, 0], roof[:, 2] - roof[:, 0])[:, 2]).sum()
    assert roof_area == pytest.approx(courtyard.area)  # the courtyard stays open
    # walls: outer and courtyard perimeters x height, for building 0
    walls = tri[(np.abs(face[:, 2]) < 1e-9) & (batch.feature_ids[batch.indices[:, 0]] == 0)]
    wall_area = 0.5 * np.linalg.norm(np.cross(walls[:, 1] - walls[:, 0],
                                              walls[:, 2] - walls[:, 0]), axis=1).sum()
    assert wall_area == pytest.approx((80 + 40) * 12.0)
    assert batch.positions[:, 2].min() == 0.0 and batch.positions[:, 2].max() == 30.0


def test_chunks_keep_global_feature_ids_and_skip_empty_heights():
    boxes = [shapely.box(i * 20, 0, i * 20 + 10, 10) for i in range(5)]
    batches = list(white_model_batches(boxes, [0.0] * 5, [10, 10, 0, 10, 10],
                                       [{"i": i} for i in range(5)], FRAME, chunk=2))
    ids = sorted({int(i) for b in batches for i in np.unique(b.feature_ids)})
    assert ids == [0, 1, 3, 4]  # building 2 has no height: nothing to show
    assert [sorted(b.features) for b in batches] == [[0, 1], [3], [4]]
