"""Per-triangle kernels of the build: plain numpy, or compiled (``tiles.build.kernels_jit``)
for large inputs and once numba is loaded (:func:`tiles.glb.kernels.use_compiled`).

Loading numba and the compiled cache costs about 0.5 s per process, more than tiling a
whole small BIM model takes, while on large tiles the compiled loops are several times
faster than numpy's whole-array passes. Both paths give the same results
(tests/tiles/test_kernels.py).
"""
from __future__ import annotations

import numpy as np

from tiles.glb.kernels import cross, use_compiled


def valid_triangles(positions: np.ndarray, indices: np.ndarray, min_cross_sq: float) -> np.ndarray:
    """Mask of triangles with in-range, distinct indices, finite corners and a cross
    product whose squared length exceeds ``min_cross_sq`` (non-zero area)."""
    if use_compiled(len(indices)):
        from tiles.build.kernels_jit import valid_triangles as compiled  # deferred: loads numba
        return compiled(positions, indices, min_cross_sq)
    n = len(positions)
    ok = ((indices >= 0) & (indices < n)).all(axis=1)
    safe = indices if ok.all() else np.where(ok[:, None], indices, 0)
    finite = np.isfinite(positions).all(axis=1)
    clean = positions
    if not finite.all():
        ok &= finite[safe].all(axis=1)
        clean = np.where(finite[:, None], positions, 0.0)
    i0, i1, i2 = safe[:, 0], safe[:, 1], safe[:, 2]
    ok &= (i0 != i1) & (i1 != i2) & (i0 != i2)
    face = cross(clean, safe)
    ok &= np.einsum("ij,ij->i", face, face) > min_cross_sq
    return ok


def descend(*args):
    """Leaf node of each triangle (see ``tiles.build.kernels_jit.descend``)."""
    from tiles.build.kernels_jit import descend as compiled  # deferred: loads numba
    return compiled(*args)


def descend_points(*args):
    """Leaf node of each point (see ``tiles.build.kernels_jit.descend_points``)."""
    from tiles.build.kernels_jit import descend_points as compiled  # deferred: loads numba
    return compiled(*args)
