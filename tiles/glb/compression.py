"""Geometry compression for glb content: Draco or meshopt, both within 1 mm.

- ``write_draco``: KHR_draco_mesh_compression through DracoPy. Position quantisation
  bits are chosen from the primitive's extent so the rounding error stays below
  ``MAX_ERROR_M``.
- ``write_meshopt``: EXT_meshopt_compression (vertex/index codecs of meshoptimizer) with
  KHR_mesh_quantization: positions keep float32 through the EXPONENTIAL filter with
  just enough mantissa bits for ``MAX_ERROR_M``; normals become int8, UVs in [0,1]
  uint16, both normalised.

Both are called by :func:`tiles.glb.encode.to_glb`; they add buffer views and accessors to its
builder and return the primitive's JSON.
"""
from __future__ import annotations

import math
from typing import Any

import DracoPy
import meshoptimizer
import numpy as np

from tiles.errors import TilesError
from tiles.glb.builder import (ARRAY_BUFFER, BYTE, ELEMENT_ARRAY_BUFFER, FLOAT, UBYTE, UINT,
                               USHORT, GlbBuilder)

#: Largest allowed position error from quantisation, metres (issue: <= 1 mm).
MAX_ERROR_M = 0.0005
_DRACO_ATTR = {0: "POSITION", 1: "NORMAL", 2: "COLOR_0", 3: "TEXCOORD_0"}
_FEATURE_UID = 100  # Draco unique id of the generic _FEATURE_ID_0 attribute


def position_bits(positions: np.ndarray, max_error: float = MAX_ERROR_M) -> int:
    """Draco quantisation bits so that half a step is at most ``max_error``."""
    extent = float(np.ptp(positions, axis=0).max()) if len(positions) else 0.0
    if extent <= 0:
        return 8
    bits = math.ceil(math.log2(extent / (2 * max_error) + 1))
    return int(min(max(bits, 8), 30))


def write_draco(b: GlbBuilder, streams: dict[str, np.ndarray], indices: np.ndarray
                ) -> dict[str, Any]:
    """Encode one primitive with Draco; returns its JSON with the extension."""
    pos = streams["POSITION"]
    generic = None
    if "_FEATURE_ID_0" in streams:
        # float keeps ids exact up to 2**24 and every Draco decoder reads it
        generic = {_FEATURE_UID: streams["_FEATURE_ID_0"].astype(np.float32).reshape(-1, 1)}
    try:
        data = DracoPy.encode(
            pos, indices.reshape(-1, 3), quantization_bits=position_bits(pos),
            compression_level=7,
            normals=None if "NORMAL" not in streams
            else streams["NORMAL"].astype(np.float64), normal_quantization_bits=10,
            tex_coord=None if "TEXCOORD_0" not in streams
            else streams["TEXCOORD_0"].astype(np.float64), tex_coord_quantization_bits=14,
            colors=streams.get("COLOR_0"), generic_attributes=generic)
    except Exception as exc:  # DracoPy raises plain exceptions for bad input
        raise TilesError(f"Draco encoding failed ({exc}); try compression='none'") from exc
    decoded = DracoPy.decode(data)
    view = b.add_view(data)
    attributes: dict[str, int] = {}
    ids: dict[str, int] = {}
    for attr in decoded.attributes:
        name = _DRACO_ATTR.get(attr["attribute_type"])
        if attr["unique_id"] == _FEATURE_UID:
            name = "_FEATURE_ID_0"
        if name is None:
            continue
        ids[name] = int(attr["unique_id"])
        attributes[name] = _draco_accessor(b, name, attr["data"])
    n_idx = int(np.asarray(decoded.faces).size)
    acc = b.add_accessor(None, UINT if len(decoded.points) >= 65535 else USHORT,
                         n_idx, "SCALAR")
    b.use("KHR_draco_mesh_compression", required=True)
    return {"attributes": attributes, "indices": acc, "mode": 4,
            "extensions": {"KHR_draco_mesh_compression": {"bufferView": view,
                                                           "attributes": ids}}}


def _draco_accessor(b: GlbBuilder, name: str, data: np.ndarray) -> int:
    """An accessor without a buffer view describing what the Draco decoder yields."""
    n = len(data)
    if name == "POSITION":
        return b.add_accessor(None, FLOAT, n, "VEC3", minmax=(data.min(0), data.max(0)))
    if name == "COLOR_0":
        return b.add_accessor(None, UBYTE, n, "VEC4", normalized=True)
    if name == "_FEATURE_ID_0":
        return b.add_accessor(None, FLOAT, n, "SCALAR")
    return b.add_accessor(None, FLOAT, n, "VEC3" if name == "NORMAL" else "VEC2")


def encode_exp_filter(values: np.ndarray, bits: int) -> np.ndarray:
    """meshopt EXPONENTIAL filter, shared exponent per vertex: int32 words holding an
    8-bit exponent and a 24-bit signed mantissa (value = mantissa * 2**exponent)."""
    v = np.asarray(values, dtype=np.float32).astype(np.float64)
    _, exps = np.frexp(v)
    exps = np.where(v == 0, -100, exps).max(axis=1, keepdims=True)
    exps = np.maximum(exps, -100 + bits) - (bits - 1)
    exps = np.clip(exps, -100, 100)
    mant = np.round(v * np.exp2(-exps)).astype(np.int64)
    words = (mant & 0xFFFFFF) | ((exps.astype(np.int64) & 0xFF) << 24)
    return words.astype(np.uint32)


def decode_exp_filter(words: np.ndarray) -> np.ndarray:
    """The inverse of :func:`encode_exp_filter` (for tests and the error benchmark)."""
    w = words.astype(np.uint32).view(np.int32).astype(np.int64)
    exps = w >> 24
    mant = (w << 40) >> 40
    return (mant * np.exp2(exps)).astype(np.float32)


def exp_bits(positions: np.ndarray, max_error: float = MAX_ERROR_M) -> int:
    """Mantissa bits so the filter's rounding (half a step) stays below ``max_error``."""
    top = float(np.abs(positions).max()) if len(positions) else 0.0
    if top == 0:
        return 8
    _, e = math.frexp(top)
    # step = 2**(e - bits + 1) and error = step / 2 <= max_error
    bits = e - math.floor(math.log2(max_error))
    return int(min(max(bits, 8), 23))  # 23: the rounded mantissa must fit 24 bits


class _Meshopt:
    """Collects meshopt-compressed views: compressed bytes go to buffer 0 (the glb BIN),
    the uncompressed layout lives in a fallback buffer that has no data."""

    def __init__(self, b: GlbBuilder) -> None:
        self.b = b
        if "meshopt_fallback" not in b.gltf:
            # running size, turned into a buffer by GlbBuilder.finish
            b.gltf["meshopt_fallback"] = 0
        b.use("EXT_meshopt_compression", required=True)
        b.use("KHR_mesh_quantization", required=True)

    def view(self, raw: np.ndarray, stride: int, mode: str, target: int,
             filter_: str | None = None) -> int:
        count = len(raw)
        if mode == "TRIANGLES":
            packed = meshoptimizer.encode_index_buffer(raw.reshape(-1).astype(np.uint32),
                                                       vertex_count=int(raw.max()) + 1)
        else:
            packed = meshoptimizer.encode_vertex_buffer(raw.reshape(count, -1),
                                                        count, stride)
        index = self.b.add_view(packed)
        entry = self.b.gltf["bufferViews"][index]
        offset = self.b.gltf["meshopt_fallback"]
        ext = {"buffer": 0, "byteOffset": entry["byteOffset"], "byteLength": len(packed),
               "byteStride": stride, "count": count * (3 if mode == "TRIANGLES" else 1),
               "mode": mode}
        if filter_:
            ext["filter"] = filter_
        length = ext["count"] * stride
        entry.clear()
        entry.update({"buffer": "fallback", "byteOffset": offset, "byteLength": length,
                      "extensions": {"EXT_meshopt_compression": ext}})
        if mode == "ATTRIBUTES":
            entry["byteStride"] = stride
        entry["target"] = target
        self.b.gltf["meshopt_fallback"] = offset + length + (-length % 8)
        return index


def write_meshopt(b: GlbBuilder, streams: dict[str, np.ndarray], indices: np.ndarray
                  ) -> dict[str, Any]:
    """Encode one primitive with meshopt codecs and quantised attributes."""
    m = _Meshopt(b)
    streams, indices = reorder_for_codec(streams, indices)
    n = len(streams["POSITION"])
    attributes: dict[str, int] = {}
    pos = streams["POSITION"]
    words = encode_exp_filter(pos, exp_bits(pos))
    view = m.view(words, 12, "ATTRIBUTES", ARRAY_BUFFER, "EXPONENTIAL")
    exact = decode_exp_filter(words)
    attributes["POSITION"] = b.add_accessor(view, FLOAT, n, "VEC3",
                                            minmax=(exact.min(0), exact.max(0)))
    if "NORMAL" in streams:
        q = np.zeros((n, 4), dtype=np.int8)
        q[:, :3] = np.round(np.clip(streams["NORMAL"], -1, 1) * 127)
        attributes["NORMAL"] = b.add_accessor(m.view(q, 4, "ATTRIBUTES", ARRAY_BUFFER), BYTE,
                                              n, "VEC3", normalized=True)
    if "TEXCOORD_0" in streams:
        attributes["TEXCOORD_0"] = _meshopt_uv(b, m, streams["TEXCOORD_0"])
    if "COLOR_0" in streams:
        attributes["COLOR_0"] = b.add_accessor(
            m.view(streams["COLOR_0"], 4, "ATTRIBUTES", ARRAY_BUFFER), UBYTE, n, "VEC4",
            normalized=True)
    if "_FEATURE_ID_0" in streams:
        attributes["_FEATURE_ID_0"] = _meshopt_feature_ids(b, m, streams["_FEATURE_ID_0"])
    small = n < 65535
    idx = indices.reshape(-1, 3).astype(np.uint16 if small else np.uint32)
    view = m.view(idx, 2 if small else 4, "TRIANGLES", ELEMENT_ARRAY_BUFFER)
    acc = b.add_accessor(view, USHORT if small else UINT, idx.size, "SCALAR")
    return {"attributes": attributes, "indices": acc, "mode": 4}


def reorder_for_codec(streams: dict[str, np.ndarray], indices: np.ndarray
                      ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Vertex-cache order for triangles, then vertices in first-use order: neighbouring
    vertices become neighbours in memory, which the meshopt codecs compress far better
    (the same steps gltfpack takes). Unused vertices are dropped."""
    flat = np.ascontiguousarray(indices.reshape(-1), dtype=np.uint32)
    ordered = np.zeros_like(flat)
    meshoptimizer.optimize_vertex_cache(ordered, flat, len(flat), len(streams["POSITION"]))
    used, first = np.unique(ordered, return_index=True)
    perm = used[np.argsort(first, kind="stable")]  # new -> old
    remap = np.zeros(len(streams["POSITION"]), dtype=np.uint32)
    remap[perm] = np.arange(len(perm), dtype=np.uint32)
    return {k: v[perm] for k, v in streams.items()}, remap[ordered]


def _meshopt_uv(b: GlbBuilder, m: _Meshopt, uv: np.ndarray) -> int:
    n = len(uv)
    if uv.min() >= 0 and uv.max() <= 1:
        q = np.round(uv * 65535).astype(np.uint16)
        return b.add_accessor(m.view(q, 4, "ATTRIBUTES", ARRAY_BUFFER), USHORT, n, "VEC2",
                              normalized=True)
    return b.add_accessor(m.view(uv.astype(np.float32), 8, "ATTRIBUTES", ARRAY_BUFFER),
                          FLOAT, n, "VEC2")


def _meshopt_feature_ids(b: GlbBuilder, m: _Meshopt, ids: np.ndarray) -> int:
    n = len(ids)
    top = int(ids.max())
    if top < 65535:
        q = np.zeros((n, 2), dtype=np.uint16)
        q[:, 0] = ids
        return b.add_accessor(m.view(q, 4, "ATTRIBUTES", ARRAY_BUFFER), USHORT, n, "SCALAR")
    return b.add_accessor(m.view(ids.astype(np.float32).reshape(-1, 1), 4, "ATTRIBUTES",
                                 ARRAY_BUFFER), FLOAT, n, "SCALAR")
