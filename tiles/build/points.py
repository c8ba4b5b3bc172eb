"""Point-cloud tiles: an ADD tree of disjoint point subsets, glb POINTS contents.

Each node keeps a grid subsample of its points (one point per cell of ``GRID`` cells
along its longest side) and hands the rest to its children (octants, or quadrants when
the cloud is flat, as aerial lidar is); a node with at most ``max_points`` keeps them
all and is a leaf. Refinement is ADD, so every input point is stored exactly once. A
node's geometric error is its cell size, the gap between its points that its children
fill in; leaves have 0.

Contents are glTF 2.0 POINTS primitives (3D Tiles 1.1, no pnts): float32 POSITION
relative to the tile's centre, COLOR_0 as normalized RGBA bytes, an unlit material.
"""
from __future__ import annotations

import numpy as np

from tiles.glb.builder import GlbBuilder
from tiles.model import BoundingBox, TileNode

FLOAT, UBYTE, ARRAY_BUFFER = 5126, 5121, 34962
#: Cells along a node's longest side for its subsample.
GRID = 128
#: A cloud is "flat" (quadtree) when its height is below this share of its width.
FLAT_RATIO = 0.25


def points_glb(positions: np.ndarray, colors: np.ndarray | None,
               translation: np.ndarray) -> bytes:
    """glb bytes of one POINTS primitive; positions are ENU metres (z up)."""
    rel = (positions - translation).astype(np.float32)
    gltf_pos = np.ascontiguousarray(np.column_stack([rel[:, 0], rel[:, 2], -rel[:, 1]]))
    b = GlbBuilder()
    view = b.add_view(gltf_pos.tobytes(), ARRAY_BUFFER)
    attributes = {"POSITION": b.add_accessor(
        view, FLOAT, len(rel), "VEC3", minmax=(gltf_pos.min(axis=0), gltf_pos.max(axis=0)))}
    if colors is not None:
        view = b.add_view(np.ascontiguousarray(colors, dtype=np.uint8).tobytes(),
                          ARRAY_BUFFER)
        attributes["COLOR_0"] = b.add_accessor(view, UBYTE, len(rel), "VEC4",
                                               normalized=True)
    b.use("KHR_materials_unlit")
    material = b.add_list("materials", {
        "pbrMetallicRoughness": {"baseColorFactor": [1, 1, 1, 1] if colors is not None
                                 else [0.75, 0.75, 0.75, 1], "metallicFactor": 0.0},
        "extensions": {"KHR_materials_unlit": {}}})
    mesh = b.add_list("meshes", {"primitives": [{"attributes": attributes, "mode": 0,
                                                 "material": material}]})
    t = translation
    b.gltf["nodes"] = [{"mesh": mesh, "translation": [float(t[0]), float(t[2]), float(-t[1])]}]
    b.gltf["scenes"], b.gltf["scene"] = [{"nodes": [0]}], 0
    return b.finish()


def grid_sample(points: np.ndarray, lo: np.ndarray, cell: float) -> np.ndarray:
    """Indices (into ``points``) of the first point in each occupied grid cell."""
    keys = np.floor((points - lo) / cell).astype(np.int64)
    keys -= keys.min(axis=0)
    span = keys.max(axis=0) + 1
    flat = (keys[:, 0] * span[1] + keys[:, 1]) * span[2] + keys[:, 2]
    _, first = np.unique(flat, return_index=True)
    return np.sort(first)


def _children(points: np.ndarray, lo: np.ndarray, hi: np.ndarray, flat: bool):
    """(mask, child lo, child hi) of each non-empty octant/quadrant."""
    mid = (lo + hi) / 2.0
    above = points >= mid
    code = above[:, 0].astype(np.int8) + 2 * above[:, 1]
    if not flat:
        code = code + 4 * above[:, 2]
    for value in np.unique(code):
        mask = code == value
        bits = [(value >> k) & 1 for k in range(3)]
        if flat:
            bits[2] = None
        c_lo = np.array([mid[k] if bits[k] == 1 else lo[k] for k in range(3)])
        c_hi = np.array([hi[k] if bits[k] == 1 else mid[k] for k in range(3)])
        if flat:
            c_lo[2], c_hi[2] = lo[2], hi[2]
        yield mask, c_lo, c_hi


class PointTiler:
    """Builds the tree and puts each node's glb into ``target`` (store, id, version)."""

    def __init__(self, target: tuple, max_points: int, max_depth: int = 24):
        self.target, self.max_points, self.max_depth = target, max_points, max_depth
        self.tiles = 0

    def node(self, points, colors, lo, hi, key: str, depth: int, flat: bool) -> dict:
        """The subtree of these points (ENU metres), contents written as it goes."""
        extent = float((hi - lo).max())
        if len(points) <= self.max_points or depth >= self.max_depth or extent < 1e-3:
            return self._content(points, colors, key, children=[], error=0.0)
        cell = extent / GRID
        own = grid_sample(points, lo, cell)
        if len(own) > self.max_points:
            own = own[np.linspace(0, len(own) - 1, self.max_points).astype(np.int64)]
        rest = np.ones(len(points), dtype=bool)
        rest[own] = False
        children = []
        r_points = points[rest]
        r_colors = None if colors is None else colors[rest]
        for mask, c_lo, c_hi in _children(r_points, lo, hi, flat):
            children.append(self.node(r_points[mask], None if r_colors is None else
                                      r_colors[mask], c_lo, c_hi, f"{key}{len(children)}",
                                      depth + 1, flat))
        return self._content(points[own], None if colors is None else colors[own], key,
                             children=children, error=cell)

    def _content(self, points, colors, key, children, error) -> dict:
        lo, hi = points.min(axis=0), points.max(axis=0)
        uri = f"points/{key}.glb"
        store, tileset_id, version = self.target
        store.put(tileset_id, uri, points_glb(points, colors, (lo + hi) / 2.0), version=version)
        self.tiles += 1
        box_lo = np.min([lo] + [c["lo"] for c in children], axis=0)
        box_hi = np.max([hi] + [c["hi"] for c in children], axis=0)
        return {"content": uri, "content_lo": lo, "content_hi": hi, "lo": box_lo,
                "hi": box_hi, "error": error, "children": children, "points": len(points)}


def tile_node(node: dict) -> TileNode:
    """A built subtree (dicts) as TileNodes (ADD: every tile keeps its content)."""
    return TileNode(key=node["content"], refine="ADD",
                    bounds=BoundingBox.of(node["lo"], node["hi"]),
                    geometric_error=float(node["error"]) if node["children"] else 0.0,
                    content=node["content"],
                    content_bounds=BoundingBox.of(node["content_lo"], node["content_hi"]),
                    children=[tile_node(child) for child in node["children"]])


def tileset_bytes(root: dict, enu_to_ecef: np.ndarray, extras: dict) -> bytes:
    from tiles.build.tileset import tileset_json
    return tileset_json(tile_node(root), enu_to_ecef, extras=extras)
