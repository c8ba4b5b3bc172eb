"""Encode one tile's meshes as glb bytes (glTF 2.0 + 3D Tiles 1.1 metadata extensions).

``to_glb`` writes EXT_mesh_features (per-vertex ``_FEATURE_ID_0`` -> property table row)
and EXT_structural_metadata (typed binary columns, see :mod:`tiles.glb.metadata`), so that in
CesiumJS ``content.getFeature(i).getProperty(id)`` returns the imported value. Geometry
may be compressed with Draco or meshopt (:mod:`tiles.glb.compression`). Encoders return
bytes; the caller decides where they go.

Frames: input positions are z-up ENU metres relative to ``translation``; glTF is y-up,
so every vector is converted with (x, y, z) -> (x, z, -y), as 3D Tiles expects (its
runtime applies the y-up -> z-up axis correction).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from tiles.errors import TilesError
from tiles.glb.builder import (ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER, FLOAT, UBYTE, UINT,
                               USHORT, GlbBuilder, feature_id_component, z_up_to_y_up)
from tiles.glb.instancing import add_instanced_node, split_instances
from tiles.glb.kernels import crease_streams, unit_vectors, y_up
from tiles.glb.metadata import CLASS_ID, PropertyTable, property_table_columns
from tiles.model import Material

COMPRESSIONS = ("none", "draco", "meshopt")
#: Corners whose face turns more than this from the smooth vertex normal get their own
#: vertex with the face normal, so BIM boxes keep hard edges without tripling vertices.
CREASE_COS = float(np.cos(np.radians(40.0)))


@dataclass
class Primitive:
    """One drawable: triangles with one material, in z-up ENU metres rel. to the node.

    positions float32 (N,3); indices uint32 (M,3); normals f32 (N,3) or None;
    uvs f32 (N,2) or None; colors u8 (N,4) or None; feature_ids u32 (N,) or None =
    row numbers into the tile's property table.
    """

    positions: np.ndarray
    indices: np.ndarray
    material: Material
    normals: np.ndarray | None = None
    uvs: np.ndarray | None = None
    colors: np.ndarray | None = None
    feature_ids: np.ndarray | None = None


def _check_primitive(p: Primitive, i: int) -> None:
    n = len(p.positions)
    if p.positions.ndim != 2 or p.positions.shape[1] != 3 or n == 0:
        raise TilesError(f"primitive {i}: positions must be a non-empty (N,3) array")
    if p.indices.ndim != 2 or p.indices.shape[1] != 3 or len(p.indices) == 0:
        raise TilesError(f"primitive {i}: indices must be a non-empty (M,3) array")
    if int(p.indices.max()) >= n:
        raise TilesError(f"primitive {i}: an index points past the {n} vertices")
    if not np.isfinite(p.positions).all():
        raise TilesError(f"primitive {i}: positions hold NaN/inf; repair the batch first")
    for name, arr, width in (("normals", p.normals, 3), ("uvs", p.uvs, 2),
                             ("colors", p.colors, 4)):
        if arr is not None and arr.shape != (n, width):
            raise TilesError(f"primitive {i}: {name} must have shape ({n},{width})")
    if p.feature_ids is not None and p.feature_ids.shape != (n,):
        raise TilesError(f"primitive {i}: feature_ids must have shape ({n},)")


def vertex_streams(p: Primitive) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per-vertex arrays keyed by glTF attribute name (y-up), and flat uint32 indices.

    Without given normals (and not unlit) smooth normals are computed, split at creases
    (:data:`CREASE_COS`), in one pass with the y-up conversion (:mod:`tiles.glb.kernels`).
    """
    positions = np.asarray(p.positions, dtype=np.float32)
    indices = np.asarray(p.indices, dtype=np.uint32)
    attrs: dict[str, np.ndarray] = {}
    if p.uvs is not None:
        # glTF's UV origin is the top-left; readers deliver OBJ-style bottom-left UVs.
        uv = np.array(p.uvs, dtype=np.float32)
        uv[:, 1] = 1.0 - uv[:, 1]
        attrs["TEXCOORD_0"] = uv
    if p.colors is not None:
        attrs["COLOR_0"] = np.asarray(p.colors, dtype=np.uint8)
    if p.feature_ids is not None:
        attrs["_FEATURE_ID_0"] = np.asarray(p.feature_ids, dtype=np.uint32)
    if p.normals is None and not p.material.unlit:
        indices, src, pos, normals = crease_streams(positions, indices, CREASE_COS)
        streams = {"POSITION": pos, "NORMAL": normals}
        if len(src):
            attrs = {k: np.concatenate([v, v[src]]) for k, v in attrs.items()}
    else:
        streams = {"POSITION": y_up(positions)}
        if p.normals is not None:
            streams["NORMAL"] = y_up(unit_vectors(np.asarray(p.normals, dtype=np.float32)))
    streams.update(attrs)
    return streams, indices.reshape(-1)


def write_plain(b: GlbBuilder, streams: dict[str, np.ndarray], indices: np.ndarray
                ) -> dict[str, Any]:
    """Uncompressed attributes and indices; returns the primitive's JSON (sans material)."""
    attributes: dict[str, int] = {}
    for name, arr in streams.items():
        attributes[name] = _plain_accessor(b, name, arr)
    small = len(streams["POSITION"]) < 65535
    idx = indices.astype(np.uint16 if small else np.uint32)
    view = b.add_view(idx.tobytes(), ELEMENT_ARRAY_BUFFER)
    acc = b.add_accessor(view, USHORT if small else UINT, len(idx), "SCALAR")
    return {"attributes": attributes, "indices": acc, "mode": 4}


def _plain_accessor(b: GlbBuilder, name: str, arr: np.ndarray) -> int:
    n = len(arr)
    if name == "POSITION":
        view = b.add_view(arr.tobytes(), ARRAY_BUFFER)
        return b.add_accessor(view, FLOAT, n, "VEC3", minmax=(arr.min(0), arr.max(0)))
    if name == "COLOR_0":
        view = b.add_view(arr.tobytes(), ARRAY_BUFFER)
        return b.add_accessor(view, UBYTE, n, "VEC4", normalized=True)
    if name == "_FEATURE_ID_0":
        comp, data = feature_id_component(arr)
        # vertex attribute elements must start on 4-byte boundaries: pad via a stride
        size = data.itemsize
        stride = 4 if size < 4 else None
        raw = np.zeros((n, 4 // size), dtype=data.dtype) if stride else None
        if raw is not None:
            raw[:, 0] = data
            data = raw
        view = b.add_view(data.tobytes(), ARRAY_BUFFER, stride=stride)
        return b.add_accessor(view, comp, n, "SCALAR")
    kind = {2: "VEC2", 3: "VEC3"}[arr.shape[1]]
    view = b.add_view(np.ascontiguousarray(arr, dtype=np.float32).tobytes(), ARRAY_BUFFER)
    return b.add_accessor(view, FLOAT, n, kind)


def material_json(b: GlbBuilder, m: Material, textured: bool) -> dict[str, Any]:
    """A glTF PBR material; textures are embedded as-is (PNG/JPEG/WebP bytes)."""
    pbr: dict[str, Any] = {"baseColorFactor": [float(c) for c in m.base_color],
                           "metallicFactor": float(m.metallic),
                           "roughnessFactor": float(m.roughness)}
    out: dict[str, Any] = {"name": m.name, "pbrMetallicRoughness": pbr,
                           "doubleSided": bool(m.double_sided)}
    if m.transparent:
        out["alphaMode"] = "BLEND"
    if m.unlit:
        b.use("KHR_materials_unlit")
        out["extensions"] = {"KHR_materials_unlit": {}}
    if textured and m.texture is not None:
        if "samplers" not in b.gltf:
            # linear mipmapped filtering; wrapping stays REPEAT (the default)
            b.add_list("samplers", {"magFilter": 9729, "minFilter": 9987})
        image = b.add_list("images", {"bufferView": b.add_view(m.texture),
                                      "mimeType": m.texture_mime})
        if m.texture_mime == "image/webp":
            # no PNG/JPEG fallback is stored: a client must read WebP (CesiumJS does)
            b.use("EXT_texture_webp", required=True)
            tex = b.add_list("textures", {"sampler": 0, "extensions": {
                "EXT_texture_webp": {"source": image}}})
        else:
            tex = b.add_list("textures", {"sampler": 0, "source": image})
        pbr["baseColorTexture"] = {"index": tex}
    return out


def _material_index(b: GlbBuilder, cache: dict, p: Primitive) -> int:
    textured = p.uvs is not None and p.material.texture is not None
    key = (p.material.key(), textured)
    if key not in cache:
        cache[key] = b.add_list("materials", material_json(b, p.material, textured))
    return cache[key]


def add_property_table(b: GlbBuilder, table: PropertyTable) -> None:
    """Top-level EXT_structural_metadata: schema plus one property table."""
    props: dict[str, Any] = {}
    for pid, bufs in property_table_columns(table).items():
        if not len(bufs["values"]):
            # every row is noData (e.g. empty strings): glTF forbids empty bufferViews,
            # and an omitted, non-required property reads as undefined, like noData
            continue
        col: dict[str, Any] = {"values": b.add_view(bufs["values"])}
        if "stringOffsets" in bufs:
            col["stringOffsets"] = b.add_view(bufs["stringOffsets"])
            col["stringOffsetType"] = "UINT32"
        props[pid] = col
    b.use("EXT_structural_metadata")
    b.gltf.setdefault("extensions", {})["EXT_structural_metadata"] = {
        "schema": table.schema.to_json(),
        "propertyTables": [{"class": CLASS_ID, "count": len(table.rows),
                            "properties": props}]}


def _encode_primitive(b: GlbBuilder, p: Primitive, compression: str) -> dict[str, Any]:
    streams, indices = vertex_streams(p)
    # deferred: tiles.glb.compression loads DracoPy, only for compressed tilesets
    if compression == "draco":
        from tiles.glb.compression import write_draco
        return write_draco(b, streams, indices)
    if compression == "meshopt":
        from tiles.glb.compression import write_meshopt
        return write_meshopt(b, streams, indices)
    return write_plain(b, streams, indices)


def _feature_extension(p: Primitive, properties: PropertyTable | None) -> dict[str, Any]:
    ids = p.feature_ids
    fid: dict[str, Any] = {"featureCount": int(len(np.unique(ids))), "attribute": 0}
    if properties is not None:
        if int(ids.max()) >= len(properties.rows):
            raise TilesError(f"feature id {int(ids.max())} has no row in the property "
                             f"table ({len(properties.rows)} rows)")
        fid["propertyTable"] = 0
    return {"featureIds": [fid]}


def to_glb(primitives: Sequence[Primitive], *, translation=(0.0, 0.0, 0.0),
           properties: PropertyTable | None = None, compression: str = "none",
           instances: Sequence[np.ndarray | None] | None = None,
           auto_instance: bool = True) -> bytes:
    """Encode ``primitives`` as one glb.

    translation: float64 ENU metres, the root node's translation (converted to y-up).
    properties: the tile's property table (row i = feature id i), or None.
    compression: "none", "draco" (KHR_draco_mesh_compression) or "meshopt"
        (EXT_meshopt_compression + KHR_mesh_quantization).
    instances: optional, one entry per primitive: None or (K,4,4) transforms in the
        primitive's frame (z-up, rel. to ``translation``), via EXT_mesh_gpu_instancing.
    auto_instance: features of a primitive that repeat the same geometry (IFC mapped
        items, type instances: :func:`tiles.glb.instancing.split_instances`) are stored once
        and drawn per instance, each instance still its own feature (EXT_instance_features).
    """
    _check_arguments(primitives, compression, instances)
    b = GlbBuilder()
    if properties is not None:
        add_property_table(b, properties)
    root: dict[str, Any] = {"name": "tile"}
    t = z_up_to_y_up(np.asarray(translation, dtype=np.float64))
    if np.any(t != 0):
        root["translation"] = [float(v) for v in t]
    b.gltf["nodes"], b.gltf["scenes"], b.gltf["scene"] = [root], [{"nodes": [0]}], 0
    materials: dict = {}
    plain: list[dict[str, Any]] = []
    for i, p in enumerate(primitives):
        _check_primitive(p, i)
        inst = None if instances is None else instances[i]
        groups = []
        if inst is None and auto_instance:
            p, groups = split_instances(p)
        if p is not None:
            prim = _primitive_json(b, materials, p, properties, compression)
            if inst is None:
                plain.append(prim)
            else:
                add_instanced_node(b, prim, np.asarray(inst, dtype=np.float64))
        for group in groups:
            prim = _primitive_json(b, materials, group.prototype, properties, compression)
            add_instanced_node(b, prim, group.matrices, group.feature_ids,
                               property_table=properties is not None)
    if plain:
        root["mesh"] = b.add_list("meshes", {"primitives": plain})
    return b.finish()


def _check_arguments(primitives, compression: str, instances) -> None:
    if compression not in COMPRESSIONS:
        raise TilesError(f"unknown compression {compression!r}; use one of {COMPRESSIONS}")
    if not primitives:
        raise TilesError("a tile needs at least one primitive")
    if instances is not None and len(instances) != len(primitives):
        raise TilesError("instances must give one entry (or None) per primitive")


def _primitive_json(b: GlbBuilder, materials: dict, p: Primitive,
                    properties: PropertyTable | None, compression: str) -> dict[str, Any]:
    """Encode one primitive's streams, material and per-vertex feature ids."""
    prim = _encode_primitive(b, p, compression)
    prim["material"] = _material_index(b, materials, p)
    if p.feature_ids is not None:
        b.use("EXT_mesh_features")
        prim.setdefault("extensions", {})["EXT_mesh_features"] = \
            _feature_extension(p, properties)
    return prim
