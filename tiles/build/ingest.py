"""Repair a MeshBatch and place it in the build's ENU frame (one float64 transform).

Bad input is repaired where the intent is clear and reported as a warning: triangles
with NaN/inf vertices, out-of-range indices, repeated indices or zero area are dropped;
non-finite UVs become 0; UVs without a texture are dropped; a texture that cannot be
decoded is dropped (the colour stays). A batch with nothing left is skipped with a
warning. What cannot be repaired (a CRS that cannot be resolved, orthometric heights
without a geoid offset) raises, because guessing would put the model in the wrong place.
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

from tiles import georef
from tiles.build.chunk import NO_FEATURE, Chunk
from tiles.build.kernels import valid_triangles
from tiles.errors import InputError
from tiles.model import MeshBatch

#: Triangles with an area below this (m^2) are degenerate.
MIN_AREA_M2 = 1e-10


def expand_instances(batch: MeshBatch) -> tuple[np.ndarray, np.ndarray, dict]:
    """Positions/indices with instances applied, plus per-vertex extras repeated.

    Baked here so tiling, bounds and feature placement see every copy; the glb writer
    stores copies found repeated in one tile once again (:mod:`tiles.glb.instancing`)."""
    pos = np.asarray(batch.positions, dtype=np.float64).reshape(-1, 3)
    idx = np.asarray(batch.indices).reshape(-1, 3).astype(np.int64)
    extras = {"feature_ids": batch.feature_ids, "normals": batch.normals,
              "uvs": batch.uvs, "colors": batch.colors}
    if batch.instances is None or len(batch.instances) == 0:
        return pos, idx, extras
    mats = np.asarray(batch.instances, dtype=np.float64).reshape(-1, 4, 4)
    homo = np.hstack([pos, np.ones((len(pos), 1))])
    out_pos = np.concatenate([(homo @ m.T)[:, :3] for m in mats])
    out_idx = np.concatenate([idx + k * len(pos) for k in range(len(mats))])
    normals = batch.normals
    if normals is not None:
        normals = np.concatenate([np.asarray(normals) @ m[:3, :3].T for m in mats])
        length = np.linalg.norm(normals, axis=1, keepdims=True)
        normals = (normals / np.where(length > 0, length, 1)).astype(np.float32)
    rep = lambda a: None if a is None else np.concatenate([np.asarray(a)] * len(mats))
    fids = rep(batch.feature_ids)
    if batch.instance_feature_ids is not None:
        per = np.asarray(batch.instance_feature_ids, dtype=np.uint32).reshape(-1)
        if len(per) != len(mats):
            raise InputError(f"instance_feature_ids has {len(per)} ids for {len(mats)} "
                             "instances; give one feature id per instance")
        fids = np.repeat(per, len(pos))
    extras = {"feature_ids": fids, "normals": normals,
              "uvs": rep(batch.uvs), "colors": rep(batch.colors)}
    return out_pos, out_idx, extras


def _valid_triangles(pos: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Mask of triangles with in-range indices, finite vertices and non-zero area
    (one compiled pass, :func:`tiles.build.kernels.valid_triangles`)."""
    return valid_triangles(np.ascontiguousarray(pos, dtype=np.float64),
                           np.ascontiguousarray(idx, dtype=np.int64), (2 * MIN_AREA_M2) ** 2)


def texture_is_readable(data: bytes) -> bool:
    """True if Pillow can decode the texture bytes (so the glb will not carry junk)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
        return True
    except Exception:  # any decoder failure means "not a usable image"
        return False


def _attribute(value, n: int, dtype, width: int, name: str, warnings: list[str]):
    if value is None:
        return None
    arr = np.asarray(value)
    if arr.shape != (n, width):
        warnings.append(f"{name} ignored: shape {arr.shape} does not match {n} vertices")
        return None
    arr = arr.astype(dtype, copy=True)
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        warnings.append(f"{name}: non-finite values replaced by 0")
        arr[~np.isfinite(arr)] = 0
    return arr


def place_batch(batch: MeshBatch, enu_origin: np.ndarray, material: int,
                has_texture: bool, label: str = "batch") -> tuple[Chunk | None, list[str]]:
    """Repair ``batch`` and convert it to ENU metres at ``enu_origin`` (ECEF).

    Returns the chunk (None when nothing usable remains) and the warnings raised.
    """
    warnings: list[str] = []
    pos, idx, extras = expand_instances(batch)
    if len(idx) == 0 or len(pos) == 0:
        return None, [f"{label}: empty mesh skipped"]
    ok = _valid_triangles(pos, idx)
    if not ok.all():
        warnings.append(f"{label}: {int((~ok).sum())} of {len(ok)} triangles dropped "
                        "(NaN coordinates, bad indices or zero area)")
    if not ok.any():
        return None, warnings + [f"{label}: no valid triangles left, batch skipped"]
    n = len(pos)
    fids = extras["feature_ids"]
    fids = (np.full(n, NO_FEATURE, dtype=np.uint32) if fids is None
            else np.asarray(fids).astype(np.uint32).reshape(-1))
    if len(fids) != n:
        warnings.append(f"{label}: feature_ids length {len(fids)} != {n} vertices, ignored")
        fids = np.full(n, NO_FEATURE, dtype=np.uint32)
    uvs = _attribute(extras["uvs"], n, np.float32, 2, f"{label}: uvs", warnings)
    if uvs is not None and not has_texture:
        uvs = None
    if uvs is not None and (uvs.min() < -1e-6 or uvs.max() > 1 + 1e-6):
        warnings.append(f"{label}: UVs outside [0, 1] (texture repeats); kept as given")
    chunk = Chunk(
        positions=np.where(np.isfinite(pos), pos, 0.0), indices=idx.astype(np.uint32),
        feature_ids=fids, material=material,
        normals=_attribute(extras["normals"], n, np.float32, 3, f"{label}: normals", warnings),
        uvs=uvs,
        colors=_attribute(extras["colors"], n, np.uint8, 4, f"{label}: colors", warnings),
    )
    if not ok.all() or np.bincount(chunk.indices.reshape(-1), minlength=n).min() == 0:
        chunk = chunk.select(ok)  # drop bad triangles and unused vertices
    ecef = georef.to_ecef(chunk.positions, batch.frame)
    chunk.positions = georef.ecef_to_enu_points(ecef, enu_origin)
    return chunk, warnings


def batch_ecef_centre(batch: MeshBatch) -> np.ndarray:
    """ECEF of the centre of a batch's finite vertices (the working frame's origin)."""
    pos, _, _ = expand_instances(batch)
    finite = pos[np.all(np.isfinite(pos), axis=1)]
    if len(finite) == 0:
        raise ValueError("no finite vertex")
    centre = (finite.min(axis=0) + finite.max(axis=0)) / 2.0
    return georef.to_ecef(centre.reshape(1, 3), batch.frame)[0]
