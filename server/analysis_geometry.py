"""A BIM tileset's element geometry read back from its published tiles.

The planning checks (``server.analysis``) measure what the viewer shows: every glb of
a tileset, placed by its tile transforms, node matrices and GPU instances, each vertex
tagged with the GlobalId of its feature (EXT_mesh_features / EXT_instance_features +
the tile's property table). BIM trees are ADD-refined and place each element whole in
one tile, so every element is read once at full detail.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from server.analysis_errors import AnalysisError
from tiles.georef import ecef_to_lonlatheight
from tiles.glb.builder import read_glb
from tiles.glb.metadata import CLASS_ID, decode_property_table

#: glTF is y-up; 3D Tiles place content z-up (3D Tiles 1.1, "glTF transforms").
GLTF_TO_ZUP = np.array([[1, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], float)

_DTYPES = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16,
           5125: np.uint32, 5126: np.float32}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}


@dataclass
class ElementGeometry:
    """Every vertex of a BIM tileset, in one frame, with its element.

    ``enu``: (N, 3) metres east/north/up at the tileset's root frame (horizontal areas);
    ``height``: (N,) ellipsoidal heights (m); ``element``: (N,) index into ``elements``;
    ``triangles``: (M, 3) indices into the vertex arrays; ``elements``: one properties
    dict per element (schema names: GlobalId, IfcClass, Storey, ...).
    """

    enu: np.ndarray
    height: np.ndarray
    element: np.ndarray
    triangles: np.ndarray
    elements: list[dict[str, Any]] = field(default_factory=list)

    def element_tops(self) -> np.ndarray:
        """(E,) highest vertex height of each element (NaN for an element without one)."""
        tops = np.full(len(self.elements), -np.inf)
        np.maximum.at(tops, self.element, self.height)
        return np.where(np.isfinite(tops), tops, np.nan)


def _node_matrix(node: dict) -> np.ndarray:
    """A glTF node's local matrix (matrix, or translation x rotation x scale)."""
    if "matrix" in node:
        return np.asarray(node["matrix"], float).reshape(4, 4).T
    t = np.eye(4)
    t[:3, 3] = node.get("translation", [0, 0, 0])
    rot = np.eye(4)
    rot[:3, :3] = _quaternion_matrices(np.asarray([node.get("rotation", [0, 0, 0, 1])]))[0]
    return t @ rot @ np.diag(list(node.get("scale", [1, 1, 1])) + [1])


def _quaternion_matrices(q: np.ndarray) -> np.ndarray:
    """(K, 4) glTF quaternions (x, y, z, w) -> (K, 3, 3) rotation matrices."""
    x, y, z, w = np.asarray(q, float).T
    return np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
                     2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
                     2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
                    axis=1).reshape(-1, 3, 3)


def read_accessor(gltf: dict, bin_chunk: bytes, index: int) -> np.ndarray:
    """An accessor's values as float64 (count, width); uncompressed buffers only."""
    acc = gltf["accessors"][index]
    width = _WIDTH[acc["type"]]
    dtype = np.dtype(_DTYPES[acc["componentType"]])
    view = gltf["bufferViews"][acc["bufferView"]]
    if "extensions" in view:
        raise AnalysisError("the tileset's glb buffers are meshopt-compressed; the planning "
                            "checks read uncompressed tiles: re-import the model with "
                            "compression 'none'")
    stride = view.get("byteStride", dtype.itemsize * width)
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    raw = np.frombuffer(bin_chunk, np.uint8, stride * (acc["count"] - 1)
                        + dtype.itemsize * width, start)
    rows = np.lib.stride_tricks.as_strided(raw, (acc["count"], dtype.itemsize * width),
                                           (stride, 1))
    values = np.ascontiguousarray(rows).view(dtype).reshape(acc["count"], width)
    values = values.astype(np.float64)
    if acc.get("normalized"):
        values /= float(np.iinfo(dtype).max)
    return values


def _instance_matrices(gltf: dict, bin_chunk: bytes, attributes: dict) -> np.ndarray:
    """(K, 4, 4) transforms of an EXT_mesh_gpu_instancing node."""
    def read(name: str) -> np.ndarray | None:
        return read_accessor(gltf, bin_chunk, attributes[name]) if name in attributes else None
    t, q, s = read("TRANSLATION"), read("ROTATION"), read("SCALE")
    count = next(len(a) for a in (t, q, s) if a is not None)
    t = np.zeros((count, 3)) if t is None else t
    q = np.tile([0.0, 0, 0, 1], (count, 1)) if q is None else q
    s = np.ones((count, 3)) if s is None else s
    matrices = np.tile(np.eye(4), (count, 1, 1))
    matrices[:, :3, :3] = _quaternion_matrices(q) * s[:, None, :]
    matrices[:, :3, 3] = t
    return matrices


def _table_rows(gltf: dict, bin_chunk: bytes) -> list[dict[str, Any]]:
    """The tile's property table rows keyed by the schema's names (original keys)."""
    ext = gltf.get("extensions", {}).get("EXT_structural_metadata")
    if not ext or not ext.get("propertyTables"):
        return []
    props = ext["schema"]["classes"][CLASS_ID]["properties"]
    names = {pid: decl.get("name", pid) for pid, decl in props.items()}
    return [{names[k]: v for k, v in row.items() if v is not None}
            for row in decode_property_table(gltf, bin_chunk)]


def _primitive_parts(gltf: dict, bin_chunk: bytes, prim: dict, matrix: np.ndarray,
                     instancing: dict | None) -> Iterator[tuple[np.ndarray, ...]]:
    """(world positions, triangles, feature id per vertex) of one primitive, per instance."""
    if "KHR_draco_mesh_compression" in prim.get("extensions", {}):
        raise AnalysisError("the tileset's glb meshes are Draco-compressed; the planning "
                            "checks read uncompressed tiles: re-import the model with "
                            "compression 'none'")
    points = read_accessor(gltf, bin_chunk, prim["attributes"]["POSITION"])
    if "indices" in prim:
        triangles = read_accessor(gltf, bin_chunk, prim["indices"]).astype(np.int64)
        triangles = triangles.reshape(-1, 3)
    else:
        triangles = np.arange(len(points)).reshape(-1, 3)
    homogeneous = np.c_[points, np.ones(len(points))]
    if instancing is None:
        fids = _vertex_feature_ids(gltf, bin_chunk, prim, len(points))
        yield (homogeneous @ matrix.T)[:, :3], triangles, fids
        return
    attributes = instancing["attributes"]
    ids = (read_accessor(gltf, bin_chunk, attributes["_FEATURE_ID_0"])[:, 0]
           if "_FEATURE_ID_0" in attributes else None)
    for k, inst in enumerate(_instance_matrices(gltf, bin_chunk, attributes)):
        fids = np.full(len(points), -1 if ids is None else int(ids[k]), np.int64)
        yield (homogeneous @ (matrix @ inst).T)[:, :3], triangles, fids


def _vertex_feature_ids(gltf: dict, bin_chunk: bytes, prim: dict, count: int) -> np.ndarray:
    """Per-vertex feature id (-1 where the primitive has none)."""
    if "_FEATURE_ID_0" not in prim["attributes"]:
        return np.full(count, -1, np.int64)
    return read_accessor(gltf, bin_chunk, prim["attributes"]["_FEATURE_ID_0"])[:, 0] \
        .astype(np.int64)


def _glb_parts(data: bytes, tile_matrix: np.ndarray):
    """(world positions, triangles, feature ids, table rows) of every mesh in a glb."""
    gltf, bin_chunk = read_glb(data)
    rows = _table_rows(gltf, bin_chunk)
    parts = []

    def visit(index: int, parent: np.ndarray) -> None:
        node = gltf["nodes"][index]
        matrix = parent @ _node_matrix(node)
        instancing = node.get("extensions", {}).get("EXT_mesh_gpu_instancing")
        if "mesh" in node:
            for prim in gltf["meshes"][node["mesh"]]["primitives"]:
                parts.extend(_primitive_parts(gltf, bin_chunk, prim, matrix, instancing))
        for child in node.get("children", []):
            visit(child, matrix)

    for scene in gltf.get("scenes", []):
        for index in scene.get("nodes", []):
            visit(index, tile_matrix @ GLTF_TO_ZUP)
    return parts, rows


def _contents(tileset: dict) -> Iterator[tuple[str, np.ndarray]]:
    """(content uri, tile matrix to ECEF) of every tile with content."""
    stack = [(tileset["root"], np.eye(4))]
    while stack:
        tile, parent = stack.pop()
        matrix = parent
        if "transform" in tile:
            matrix = parent @ np.asarray(tile["transform"], float).reshape(4, 4).T
        for content in tile.get("contents") or ([tile["content"]] if "content" in tile else []):
            yield content["uri"], matrix
        stack.extend((child, matrix) for child in tile.get("children") or [])


def read_element_geometry(store, tileset_id: str) -> ElementGeometry:
    """Every element vertex of a published BIM tileset (see :class:`ElementGeometry`)."""
    tileset = json.loads(store.get(tileset_id, "tileset.json"))
    root = np.asarray(tileset["root"].get("transform", np.eye(4).T.ravel()), float)
    to_enu = np.linalg.inv(root.reshape(4, 4).T)
    index: dict[str, int] = {}
    elements: list[dict] = []
    world, element, triangles, offset = [], [], [], 0
    for uri, matrix in _contents(tileset):
        if not uri.endswith(".glb"):
            raise AnalysisError(f"tile content {uri} is not glb; the checks read glb tiles")
        parts, rows = _glb_parts(store.get(tileset_id, uri), matrix)
        for points, tris, fids in parts:
            keep = fids >= 0
            ids = np.full(len(points), -1, np.int64)
            for fid in np.unique(fids[keep]):
                props = rows[int(fid)] if int(fid) < len(rows) else {}
                key = str(props.get("GlobalId", f"{uri}#{int(fid)}"))
                if key not in index:
                    index[key] = len(elements)
                    elements.append(props)
                ids[fids == fid] = index[key]
            world.append(points)
            element.append(ids)
            triangles.append(tris + offset)
            offset += len(points)
    if not world:
        raise AnalysisError(f"tileset '{tileset_id}' has no geometry to check")
    ecef = np.concatenate(world)
    ids = np.concatenate(element)
    tris = np.concatenate(triangles)
    keep = ids >= 0  # geometry without a feature (none in BIM imports) is not an element
    remap = np.cumsum(keep) - 1
    tris = tris[keep[tris].all(axis=1)]
    enu = (np.c_[ecef, np.ones(len(ecef))] @ to_enu.T)[:, :3]
    return ElementGeometry(enu=enu[keep], height=ecef_to_lonlatheight(ecef[keep])[:, 2],
                           element=ids[keep], triangles=remap[tris], elements=elements)
