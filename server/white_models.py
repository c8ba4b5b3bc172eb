"""Footprints -> LoD1 white models (walls + flat roof), whole arrays at a time.

The demo's extruder (:mod:`server.demo.extrude`) loops in Python per building and edge;
for a user's city (100,000 footprints) the walls of a chunk of buildings are built in
one numpy pass and only the roofs call earcut per polygon (C). Each chunk is one
MeshBatch (bounded memory); feature ids are the footprints' order, shared across chunks,
``features[id]`` the building's properties. Faces are flat-shaded and wound
counter-clockwise seen from outside, as glTF expects.
"""
from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from tiles.model import GeoFrame, Material, MeshBatch

WHITE = (0.86, 0.86, 0.84, 1.0)
CHUNK = 5000


def white_model_batches(polygons: list[Any], base: list[float], top: list[float],
                        properties: list[dict], frame: GeoFrame,
                        chunk: int = CHUNK) -> Iterator[MeshBatch]:
    """MeshBatches for the footprints (local metres), ``chunk`` buildings per batch."""
    for start in range(0, len(polygons), chunk):
        stop = min(start + chunk, len(polygons))
        batch = _chunk(polygons[start:stop], np.asarray(base[start:stop], dtype=np.float64),
                       np.asarray(top[start:stop], dtype=np.float64),
                       properties[start:stop], start, frame)
        if batch is not None:
            yield batch


def _chunk(polygons: list[Any], base: np.ndarray, top: np.ndarray, properties: list[dict],
           first_id: int, frame: GeoFrame) -> MeshBatch | None:
    import shapely
    keep = np.flatnonzero(top > base)
    geoms = np.asarray(polygons, dtype=object)[keep]
    parts, owner = shapely.get_parts(geoms, return_index=True)
    parts = shapely.orient_polygons(parts)  # exterior CCW, holes CW: walls face outwards
    good = shapely.area(parts) > 1e-6
    parts, owner = parts[good], keep[owner[good]]
    if not len(parts):
        return None
    walls = _walls(parts, owner, base, top)
    roofs = _roofs(parts, owner, top)
    pos = np.concatenate([walls[0], roofs[0]])
    nrm = np.concatenate([walls[1], roofs[1]])
    tri = np.concatenate([walls[2], roofs[2] + len(walls[0])])
    ids = np.concatenate([walls[3], roofs[3]]) + first_id
    features = {first_id + int(i): dict(properties[i]) for i in np.unique(owner)}
    return MeshBatch(positions=pos, indices=tri.astype(np.uint32), frame=frame,
                     material=Material(name="white-model", base_color=WHITE, roughness=0.8,
                                       double_sided=False),
                     feature_ids=ids.astype(np.uint32), features=features,
                     normals=nrm.astype(np.float32))


def _walls(parts: Any, owner: np.ndarray, base: np.ndarray, top: np.ndarray):
    """One quad per ring edge of every part: positions, normals, triangles, owners."""
    import shapely
    rings = np.concatenate([shapely.get_exterior_ring(parts),
                            *_interiors(parts)]) if _has_holes(parts) else \
        shapely.get_exterior_ring(parts)
    ring_owner = np.concatenate([owner, *_interior_owners(parts, owner)]) \
        if _has_holes(parts) else owner
    xy, ring_of = shapely.get_coordinates(rings, return_index=True)
    same = ring_of[1:] == ring_of[:-1]  # consecutive points of one ring form an edge
    a, b = xy[:-1][same], xy[1:][same]
    who = ring_owner[ring_of[:-1][same]]
    d = b - a
    length = np.hypot(d[:, 0], d[:, 1])
    ok = length > 1e-6
    a, b, d, length, who = a[ok], b[ok], d[ok], length[ok], who[ok]
    lo, hi = base[who], top[who]
    quad = np.stack([np.column_stack([a, lo]), np.column_stack([b, lo]),
                     np.column_stack([b, hi]), np.column_stack([a, hi])], axis=1)
    normal = np.column_stack([d[:, 1] / length, -d[:, 0] / length, np.zeros(len(a))])
    start = (np.arange(len(a)) * 4)[:, None]
    tris = np.concatenate([start + [0, 1, 2], start + [0, 2, 3]])
    return (quad.reshape(-1, 3), np.repeat(normal, 4, axis=0), tris, np.repeat(who, 4))


def _has_holes(parts: Any) -> bool:
    import shapely
    return bool(shapely.get_num_interior_rings(parts).any())


def _interiors(parts: Any) -> list[np.ndarray]:
    import shapely
    counts = shapely.get_num_interior_rings(parts)
    return [np.array([shapely.get_interior_ring(p, k) for p, n in zip(parts, counts)
                      for k in range(n)], dtype=object)]


def _interior_owners(parts: Any, owner: np.ndarray) -> list[np.ndarray]:
    import shapely
    return [np.repeat(owner, shapely.get_num_interior_rings(parts))]


def _roofs(parts: Any, owner: np.ndarray, top: np.ndarray):
    """Flat roofs: earcut per part (holes kept), all facing up."""
    import mapbox_earcut
    positions, triangles, owners, offset = [], [], [], 0
    for part, who in zip(parts, owner):
        rings = [np.asarray(part.exterior.coords)[:-1, :2]]
        rings += [np.asarray(r.coords)[:-1, :2] for r in part.interiors]
        verts = rings[0] if len(rings) == 1 else np.concatenate(rings)
        ends = np.cumsum([len(r) for r in rings]).astype(np.uint32)
        tris = np.asarray(mapbox_earcut.triangulate_float64(verts, ends), dtype=np.int64)
        positions.append(np.column_stack([verts, np.full(len(verts), top[who])]))
        triangles.append(tris.reshape(-1, 3) + offset)
        owners.append(np.full(len(verts), who))
        offset += len(verts)
    pos = np.concatenate(positions)
    tri = np.concatenate(triangles)
    p = pos[tri]
    cross = ((p[:, 1, 0] - p[:, 0, 0]) * (p[:, 2, 1] - p[:, 0, 1])
             - (p[:, 1, 1] - p[:, 0, 1]) * (p[:, 2, 0] - p[:, 0, 0]))
    tri = np.where((cross < 0)[:, None], tri[:, [0, 2, 1]], tri)
    normals = np.tile([0.0, 0.0, 1.0], (len(pos), 1))
    return pos, normals, tri, np.concatenate(owners)
