"""EXT_mesh_gpu_instancing: one prototype mesh drawn at K transforms (IFC mapped items).

Transforms arrive as (K,4,4) matrices in the tile's z-up ENU frame; glTF wants y-up
translation/rotation/scale per instance, so each matrix is conjugated by the axis change
and decomposed. Shear cannot be expressed and is dropped (IFC mapped items carry none).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from tiles.errors import TilesError

_Z_TO_Y = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, 0], [0, 0, 0, 1]], float)


def decompose(matrices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(K,4,4) z-up transforms -> y-up translations (K,3), quaternions xyzw (K,4), scales."""
    if matrices.ndim != 3 or matrices.shape[1:] != (4, 4) or len(matrices) == 0:
        raise TilesError("instances must be a non-empty (K,4,4) array of transforms")
    if not np.isfinite(matrices).all():
        raise TilesError("instance transforms hold NaN/inf; fix the source placements")
    m = _Z_TO_Y @ matrices @ _Z_TO_Y.T
    lin = m[:, :3, :3]
    scale = np.linalg.norm(lin, axis=1)  # column norms
    if (scale < 1e-12).any():
        raise TilesError("an instance transform has zero scale; drop that instance")
    rot = lin / scale[:, None, :]
    flip = np.linalg.det(rot) < 0  # a mirror: carry it as a negative x scale
    rot[flip, :, 0] *= -1
    scale[flip, 0] *= -1
    quat = Rotation.from_matrix(rot).as_quat()  # x, y, z, w like glTF
    return m[:, :3, 3], quat, scale


def add_instanced_node(b: Any, prim: dict[str, Any], matrices: np.ndarray) -> int:
    """Add a mesh for ``prim`` and a child node of the root drawing it per instance."""
    from tiles.gltf import ARRAY_BUFFER, FLOAT  # local: gltf imports this module lazily

    t, q, s = decompose(matrices)
    attrs = {}
    for name, arr, kind in (("TRANSLATION", t, "VEC3"), ("ROTATION", q, "VEC4"),
                            ("SCALE", s, "VEC3")):
        data = np.ascontiguousarray(arr, dtype=np.float32)
        view = b.add_view(data.tobytes(), None)
        attrs[name] = b.add_accessor(view, FLOAT, len(data), kind)
    b.use("EXT_mesh_gpu_instancing", required=True)
    mesh = b.add_list("meshes", {"primitives": [prim]})
    node = b.add_list("nodes", {"mesh": mesh, "extensions": {
        "EXT_mesh_gpu_instancing": {"attributes": attrs}}})
    b.gltf["nodes"][0].setdefault("children", []).append(node)
    return node
