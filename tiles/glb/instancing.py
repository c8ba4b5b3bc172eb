"""EXT_mesh_gpu_instancing: one prototype mesh drawn at K transforms (IFC mapped items).

Transforms arrive as (K,4,4) matrices in the tile's z-up ENU frame; glTF wants y-up
translation/rotation/scale per instance, so each matrix is conjugated by the axis change
and decomposed. Shear cannot be expressed and is dropped (IFC mapped items carry none).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from tiles.errors import TilesError
from tiles.glb.builder import FLOAT, GlbBuilder, feature_id_component

_Z_TO_Y = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, 0], [0, 0, 0, 1]], float)


def quaternions(rot: np.ndarray) -> np.ndarray:
    """Unit quaternions (x, y, z, w) of rotation matrices (K,3,3), Shepperd's method:
    each from its largest component, so none divides by a small number. (numpy only:
    scipy's Rotation costs 0.17 s to import, a quarter of a small BIM import.)"""
    m = rot
    trace = m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2]
    case = np.stack([trace, m[:, 0, 0], m[:, 1, 1], m[:, 2, 2]], axis=1).argmax(axis=1)
    sums = {  # per case: the pivot's 4x, then the other three (x, y, z, w order)
        0: (1 + trace, m[:, 2, 1] - m[:, 1, 2], m[:, 0, 2] - m[:, 2, 0], m[:, 1, 0] - m[:, 0, 1]),
        1: (1 + m[:, 0, 0] - m[:, 1, 1] - m[:, 2, 2], m[:, 0, 1] + m[:, 1, 0],
            m[:, 0, 2] + m[:, 2, 0], m[:, 2, 1] - m[:, 1, 2]),
        2: (1 - m[:, 0, 0] + m[:, 1, 1] - m[:, 2, 2], m[:, 0, 1] + m[:, 1, 0],
            m[:, 1, 2] + m[:, 2, 1], m[:, 0, 2] - m[:, 2, 0]),
        3: (1 - m[:, 0, 0] - m[:, 1, 1] + m[:, 2, 2], m[:, 0, 2] + m[:, 2, 0],
            m[:, 1, 2] + m[:, 2, 1], m[:, 1, 0] - m[:, 0, 1]),
    }
    q = np.empty((len(m), 4))
    for c, (pivot_sq, a, b, d) in sums.items():
        sel = case == c
        if not sel.any():
            continue
        r = np.sqrt(np.maximum(pivot_sq[sel], 1e-300))  # = 2 * pivot component
        half = 0.5 * r
        a, b, d = a[sel] / (2 * r), b[sel] / (2 * r), d[sel] / (2 * r)
        if c == 0:
            q[sel] = np.stack([a, b, d, half], axis=1)
        elif c == 1:
            q[sel] = np.stack([half, a, b, d], axis=1)
        elif c == 2:
            q[sel] = np.stack([a, half, b, d], axis=1)
        else:
            q[sel] = np.stack([a, b, half, d], axis=1)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


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
    quat = quaternions(rot)  # x, y, z, w like glTF
    return m[:, :3, 3], quat, scale


def add_instanced_node(b: GlbBuilder, prim: dict[str, Any], matrices: np.ndarray,
                       feature_ids: np.ndarray | None = None,
                       property_table: bool = False) -> int:
    """Add a mesh for ``prim`` and a child node of the root drawing it per instance.

    With ``feature_ids`` (K,) (property table rows) each instance is its own feature:
    an instance attribute ``_FEATURE_ID_0`` and EXT_instance_features on the node, so
    CesiumJS picks instance k as feature ``feature_ids[k]``."""
    t, q, s = decompose(matrices)
    attrs = {}
    for name, arr, kind in (("TRANSLATION", t, "VEC3"), ("ROTATION", q, "VEC4"),
                            ("SCALE", s, "VEC3")):
        data = np.ascontiguousarray(arr, dtype=np.float32)
        view = b.add_view(data.tobytes(), None)
        attrs[name] = b.add_accessor(view, FLOAT, len(data), kind)
    extensions: dict[str, Any] = {"EXT_mesh_gpu_instancing": {"attributes": attrs}}
    if feature_ids is not None:
        attrs["_FEATURE_ID_0"] = _instance_ids_accessor(b, np.asarray(feature_ids))
        fid: dict[str, Any] = {"featureCount": int(len(np.unique(feature_ids))),
                               "attribute": 0}
        if property_table:
            fid["propertyTable"] = 0
        extensions["EXT_instance_features"] = {"featureIds": [fid]}
        b.use("EXT_instance_features")
    b.use("EXT_mesh_gpu_instancing", required=True)
    mesh = b.add_list("meshes", {"primitives": [prim]})
    node = b.add_list("nodes", {"mesh": mesh, "extensions": extensions})
    b.gltf["nodes"][0].setdefault("children", []).append(node)
    return node


def _instance_ids_accessor(b: GlbBuilder, ids: np.ndarray) -> int:
    """Per-instance feature ids in the smallest exact component type (4-byte strided)."""
    comp, data = feature_id_component(ids)
    stride = 4 if data.itemsize < 4 else None
    if stride:
        raw = np.zeros((len(data), 4 // data.itemsize), dtype=data.dtype)
        raw[:, 0] = data
        data = raw
    view = b.add_view(data.tobytes(), None, stride=stride)
    return b.add_accessor(view, comp, len(ids), "SCALAR")


#: Repeated geometry is instanced only where it pays: at least this many copies of a
#: prototype of at least this many triangles in one primitive (fewer or smaller copies
#: cost more in draw calls than they save in bytes).
MIN_INSTANCES = 4
MIN_TRIANGLES = 100
#: A copy is an instance only if the fitted transform reproduces it within this (m).
TOLERANCE_M = 5e-4


@dataclass
class InstanceGroup:
    """One prototype (positions rel. to its centre) drawn at ``matrices`` (K,4,4, z-up,
    rel. to the tile translation), instance k being feature ``feature_ids[k]``."""

    prototype: Any  # tiles.glb.encode.Primitive without feature ids
    matrices: np.ndarray
    feature_ids: np.ndarray


def _feature_blocks(p: Any) -> dict[tuple, list[tuple[int, np.ndarray, np.ndarray]]]:
    """Features of ``p`` grouped by layout: (vertex count, local triangles, uvs, colours).

    Each entry is (feature id, its vertex indices, its triangle indices). Features with
    a triangle reaching another feature's vertex are left out (they cannot be copied)."""
    fids = np.asarray(p.feature_ids)
    idx = np.asarray(p.indices).reshape(-1, 3)
    tri_f = fids[idx]
    clean = (tri_f[:, 0] == tri_f[:, 1]) & (tri_f[:, 0] == tri_f[:, 2])
    bad = set(np.unique(tri_f[~clean]).tolist())
    v_order = np.argsort(fids, kind="stable")
    v_ids, v_start, v_count = np.unique(fids[v_order], return_index=True, return_counts=True)
    t_order = np.argsort(tri_f[:, 0], kind="stable")
    t_ids, t_start, t_count = np.unique(tri_f[t_order, 0], return_index=True,
                                        return_counts=True)
    t_at = {int(f): (s, c) for f, s, c in zip(t_ids, t_start, t_count)}
    local = np.empty(len(fids), dtype=np.int64)
    local[v_order] = np.arange(len(fids)) - np.repeat(v_start, v_count)
    groups: dict[tuple, list] = {}
    for f, vs, vc in zip(v_ids.tolist(), v_start, v_count):
        if f in bad or f not in t_at or t_at[f][1] < MIN_TRIANGLES:
            continue
        verts = v_order[vs:vs + vc]
        s, c = t_at[f]
        tris = t_order[s:s + c]
        key = [int(vc), local[idx[tris]].tobytes()]
        for extra in (p.uvs, p.colors):
            key.append(None if extra is None else np.asarray(extra)[verts].tobytes())
        groups.setdefault(tuple(key), []).append((f, verts, tris))
    return groups


def fit_similarity(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, float]:
    """(4,4) rotation + uniform scale + translation taking ``src`` to ``dst`` (Umeyama,
    no mirror) and the largest residual in metres."""
    cs, cd = src.mean(axis=0), dst.mean(axis=0)
    a, b = src - cs, dst - cd
    u, sig, vt = np.linalg.svd(b.T @ a)
    d = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt)) or 1.0])
    rot = u @ d @ vt
    var = float((a * a).sum())
    scale = float((sig * np.diag(d)).sum() / var) if var > 0 else 1.0
    m = np.eye(4)
    m[:3, :3] = scale * rot
    m[:3, 3] = cd - scale * rot @ cs
    resid = float(np.abs(a @ m[:3, :3].T + scale * rot @ cs + m[:3, 3] - dst).max())
    return m, resid


def split_instances(p: Any) -> tuple[Any | None, list[InstanceGroup]]:
    """Find repeated features in primitive ``p`` (same layout, a rigid or uniformly
    scaled copy within TOLERANCE_M) and take them out as instanced prototypes.

    Returns the rest of ``p`` (None if nothing is left) and the groups. A primitive
    without feature ids, or without MIN_INSTANCES repeats, comes back unchanged."""
    if p.feature_ids is None or len(p.indices) < MIN_INSTANCES * MIN_TRIANGLES:
        return p, []
    pos = np.asarray(p.positions, dtype=np.float64)
    idx = np.asarray(p.indices).reshape(-1, 3)
    out, taken = [], np.zeros(len(idx), dtype=bool)
    for members in _feature_blocks(p).values():
        if len(members) < MIN_INSTANCES:
            continue
        base = pos[members[0][1]]
        centre = (base.min(axis=0) + base.max(axis=0)) / 2.0
        proto = base - centre
        fitted = [(f, tris, m) for f, verts, tris in members
                  for m, r in [fit_similarity(proto, pos[verts])] if r <= TOLERANCE_M]
        if len(fitted) < MIN_INSTANCES:
            continue
        f0, verts0, tris0 = members[0]
        local = np.searchsorted(verts0, idx[tris0])  # verts0 is ascending
        pick = lambda a: None if a is None else np.asarray(a)[verts0]
        prototype = replace(p, positions=proto.astype(np.float32),
                            indices=local.astype(np.uint32), feature_ids=None,
                            normals=pick(p.normals), uvs=pick(p.uvs), colors=pick(p.colors))
        out.append(InstanceGroup(prototype, np.stack([m for _, _, m in fitted]),
                                 np.array([f for f, _, _ in fitted], dtype=np.uint32)))
        for _, tris, _ in fitted:
            taken[tris] = True
    if not out:
        return p, []
    return _rest(p, ~taken), out


def _rest(p: Any, keep: np.ndarray) -> Any | None:
    """``p`` with only the kept triangles and the vertices they use."""
    if not keep.any():
        return None
    tris = np.asarray(p.indices).reshape(-1, 3)[keep]
    used = np.zeros(len(p.positions), dtype=bool)
    used[tris.reshape(-1)] = True
    remap = np.cumsum(used) - 1
    pick = lambda a: None if a is None else np.asarray(a)[used]
    return replace(p, positions=np.asarray(p.positions)[used],
                   indices=remap[tris].astype(np.uint32), normals=pick(p.normals),
                   uvs=pick(p.uvs), colors=pick(p.colors), feature_ids=pick(p.feature_ids))
