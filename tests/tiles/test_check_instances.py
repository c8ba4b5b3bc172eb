"""tiles.check places instanced content by its instance transforms (content inside tile)."""
import numpy as np

from tiles.check import glb_position_corners
from tiles.glb.encode import Primitive, to_glb
from tiles.model import Material


def _box_primitive():
    positions = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], np.float32)
    indices = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
                        [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]],
                       np.uint32)
    return Primitive(positions=positions, indices=indices, material=Material())


def test_instance_transforms_are_followed():
    matrices = np.tile(np.eye(4), (3, 1, 1))
    matrices[1, :3, 3] = (100, 0, 0)
    turn = np.eye(4)
    turn[:2, :2] = [[0, -1], [1, 0]]       # 90 degrees about z (up)
    turn[:3, 3] = (0, 50, 10)
    matrices[2] = turn
    glb = to_glb([_box_primitive()], instances=[matrices])
    corners = glb_position_corners(glb)
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    assert np.allclose(lo, (-1, 0, 0), atol=1e-4)      # the turned copy reaches x = -1
    assert np.allclose(hi, (101, 51, 11), atol=1e-4)   # the shifted and the raised copies


def test_quaternions_match_an_independent_conversion():
    """Instance rotations: numpy conversion vs scipy's, incl. half turns about each axis."""
    from scipy.spatial.transform import Rotation

    from tiles.glb.instancing import quaternions
    rotations = Rotation.random(200, random_state=4).as_matrix()
    half_turns = np.array([np.diag([1, -1, -1]), np.diag([-1, 1, -1]), np.diag([-1, -1, 1]),
                           np.eye(3)], float)
    matrices = np.concatenate([rotations, half_turns])
    ours = quaternions(matrices)
    back = Rotation.from_quat(ours).as_matrix()
    assert np.allclose(back, matrices, atol=1e-9)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0)
