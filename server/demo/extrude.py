"""Building footprints -> extruded block models (walls + flat roof), one feature each.

The result is a list of :class:`tiles.model.MeshBatch` (one per use, so each use gets
its own colour) whose per-vertex ``feature_ids`` point at the building's properties, so
clicking a building in the viewer shows its name, use, floors, height and year. Faces
are flat-shaded (vertices are not shared between faces) and wound counter-clockwise
seen from outside, as glTF expects.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import mapbox_earcut
import numpy as np
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.polygon import orient

from tiles.model import GeoFrame, Material, MeshBatch

#: Facade colours by use (linear RGBA); anything else is light grey.
USE_COLOURS = {
    "住宅": (0.86, 0.80, 0.70, 1.0), "办公": (0.55, 0.66, 0.78, 1.0),
    "商业": (0.85, 0.62, 0.45, 1.0), "教育": (0.88, 0.72, 0.55, 1.0),
    "医疗": (0.92, 0.92, 0.92, 1.0),
}
DEFAULT_COLOUR = (0.80, 0.80, 0.80, 1.0)


@dataclass
class Footprint:
    """One building to extrude: polygon in the frame's local metres, base and top heights."""

    polygon: Polygon | MultiPolygon
    base: float
    top: float
    properties: dict[str, Any]
    group: str = ""


@dataclass
class _Mesh:
    positions: list[np.ndarray] = field(default_factory=list)
    normals: list[np.ndarray] = field(default_factory=list)
    indices: list[np.ndarray] = field(default_factory=list)
    ids: list[np.ndarray] = field(default_factory=list)
    count: int = 0

    def add(self, pos: np.ndarray, nrm: np.ndarray, tri: np.ndarray, fid: int) -> None:
        self.positions.append(pos)
        self.normals.append(nrm)
        self.indices.append(tri + self.count)
        self.ids.append(np.full(len(pos), fid, dtype=np.uint32))
        self.count += len(pos)


def _walls(ring: np.ndarray, base: float, top: float):
    """Quads along a ring (CCW = outward normals), two triangles each."""
    a, b = ring[:-1], ring[1:]
    d = b - a
    length = np.hypot(d[:, 0], d[:, 1])
    keep = length > 1e-6
    a, b, d, length = a[keep], b[keep], d[keep], length[keep]
    n = len(a)
    lo, hi = np.full(n, base), np.full(n, top)
    quad = np.stack([np.column_stack([a, lo]), np.column_stack([b, lo]),
                     np.column_stack([b, hi]), np.column_stack([a, hi])], axis=1)
    normal = np.column_stack([d[:, 1] / length, -d[:, 0] / length, np.zeros(n)])
    normals = np.repeat(normal[:, None, :], 4, axis=1)
    start = (np.arange(n) * 4)[:, None]
    tris = np.concatenate([start + [0, 1, 2], start + [0, 2, 3]])
    return quad.reshape(-1, 3), normals.reshape(-1, 3), tris


def _roof(poly: Polygon, top: float):
    """The flat roof: the polygon (with holes) triangulated by earcut, facing up."""
    rings = [np.asarray(poly.exterior.coords)[:-1]]
    rings += [np.asarray(r.coords)[:-1] for r in poly.interiors]
    verts = np.concatenate(rings).astype(np.float64)
    ends = np.cumsum([len(r) for r in rings]).astype(np.uint32)
    tris = np.asarray(mapbox_earcut.triangulate_float64(verts, ends), dtype=np.int64).reshape(-1, 3)
    if len(tris):
        p = verts[tris]
        cross = ((p[:, 1, 0] - p[:, 0, 0]) * (p[:, 2, 1] - p[:, 0, 1])
                 - (p[:, 1, 1] - p[:, 0, 1]) * (p[:, 2, 0] - p[:, 0, 0]))
        tris = np.where((cross < 0)[:, None], tris[:, [0, 2, 1]], tris)
    pos = np.column_stack([verts, np.full(len(verts), top)])
    normals = np.tile([0.0, 0.0, 1.0], (len(verts), 1))
    return pos, normals, tris


def _parts(polygon: Polygon | MultiPolygon) -> list[Polygon]:
    parts = list(polygon.geoms) if isinstance(polygon, MultiPolygon) else [polygon]
    return [orient(p, 1.0) for p in parts if not p.is_empty and p.area > 1e-6]


def extrude_footprints(footprints: Iterable[Footprint], frame: GeoFrame,
                       colours: dict[str, tuple] | None = None) -> list[MeshBatch]:
    """Extrude each footprint from ``base`` to ``top``; one MeshBatch per group/use.

    Feature ids are the footprints' order (0, 1, ...), shared across the batches, and
    ``features[id]`` is the footprint's properties. Footprints with top <= base or no
    area are skipped (nothing to show), never half-written.
    """
    colours = {**USE_COLOURS, **(colours or {})}
    meshes: dict[str, _Mesh] = {}
    features: dict[str, dict[int, dict]] = {}
    for fid, fp in enumerate(footprints):
        if not fp.top > fp.base:
            continue
        group = fp.group or str(fp.properties.get("use", ""))
        mesh = meshes.setdefault(group, _Mesh())
        for part in _parts(fp.polygon):
            for ring in [part.exterior, *part.interiors]:
                mesh.add(*_walls(np.asarray(ring.coords)[:, :2], fp.base, fp.top), fid)
            mesh.add(*_roof(part, fp.top), fid)
        features.setdefault(group, {})[fid] = dict(fp.properties)
    batches = []
    for group in sorted(meshes):
        m = meshes[group]
        if not m.count:
            continue
        batches.append(MeshBatch(
            positions=np.concatenate(m.positions).astype(np.float64),
            indices=np.concatenate(m.indices).astype(np.uint32),
            frame=frame,
            material=Material(name=f"building-{group}",
                              base_color=colours.get(group, DEFAULT_COLOUR),
                              roughness=0.8, double_sided=False),
            feature_ids=np.concatenate(m.ids),
            features=features[group],
            normals=np.concatenate(m.normals).astype(np.float32)))
    return batches
