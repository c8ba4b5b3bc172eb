"""Core types shared by every reader, the tiling engine and the importers.

Readers are generators of :class:`MeshBatch`; the pipeline places each batch on Earth
once (``tiles.georef``) and tiles it. Nothing here imports anything of the project, so
``bim_import`` may depend on this module alone.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Protocol

import numpy as np

#: Vertical datums a :class:`GeoFrame` may declare.
VERTICAL_DATUMS = ("ellipsoidal", "orthometric")


@dataclass(frozen=True)
class GeoFrame:
    """How to place coordinates on Earth.

    ``crs`` is anything pyproj understands (``"EPSG:4548"``, a PROJ string or WKT).
    Source positions are local: ``world = origin + scale * Rz(rotation_deg) @ local``,
    where ``world`` is in the CRS's easting/northing/height (always x=east, y=north,
    whatever the CRS's own axis order) and ``rotation_deg`` turns the local x axis
    counter-clockwise from grid east (IfcMapConversion's XAxisAbscissa/Ordinate).

    Heights: ``vertical="ellipsoidal"`` means z is already ellipsoidal height;
    ``"orthometric"`` means z is above the geoid (or a national height datum) and N
    (ellipsoidal = orthometric + N) comes from ``geoid`` (a geoid model such as
    ``"egm96"`` or a site grid's path, :mod:`tiles.geoid`) or, without one, from the
    constant ``geoid_offset_m`` the user supplied.
    """

    crs: str
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rotation_deg: float = 0.0
    scale: float = 1.0
    vertical: str = "ellipsoidal"
    geoid_offset_m: float = 0.0
    geoid: str = ""

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly record for the catalog (what was assumed, stated)."""
        return {
            "crs": self.crs if len(self.crs) < 200 else self.crs[:200] + "...",
            "origin": list(self.origin),
            "rotation_deg": self.rotation_deg,
            "scale": self.scale,
            "vertical": self.vertical,
            "geoid_offset_m": self.geoid_offset_m,
            "geoid": self.geoid,
        }


@dataclass
class Material:
    """A PBR material. ``texture`` holds encoded image bytes (PNG or JPEG) or None."""

    name: str = "default"
    base_color: tuple[float, float, float, float] = (0.8, 0.8, 0.8, 1.0)
    texture: bytes | None = None
    texture_mime: str = "image/png"
    metallic: float = 0.0
    roughness: float = 1.0
    double_sided: bool = True
    unlit: bool = False

    @property
    def transparent(self) -> bool:
        return self.base_color[3] < 0.999

    def key(self) -> tuple:
        """Identity used to merge batches that share a material."""
        tex = None if self.texture is None else (len(self.texture), hash(self.texture[:4096]))
        return (self.name, tuple(round(c, 4) for c in self.base_color), tex,
                self.metallic, self.roughness, self.double_sided, self.unlit)


@dataclass
class MeshBatch:
    """One chunk of triangles in a known frame, with one material.

    positions: float64 (N, 3) in ``frame`` (local coordinates, see GeoFrame)
    indices:   uint32 (M, 3)
    feature_ids: uint32 (N,) or None. Ids are unique within one import (the reader
        assigns them); ``features[id]`` holds that feature's properties. The same id may
        appear in several batches (an element with two materials); its properties need
        only be given once.
    normals: float32 (N, 3) or None; uvs: float32 (N, 2) or None;
    colors: uint8 (N, 4) or None (per-vertex RGBA).
    instances: optional (K, 4, 4) float64 transforms in ``frame``; when given, the
        batch geometry is a prototype drawn once per transform (IFC mapped items).
    instance_feature_ids: optional (K,) uint32 with ``instances``: instance k is feature
        ``instance_feature_ids[k]`` (every instance pickable on its own); without it all
        instances carry ``feature_ids``. The glb stores repeated geometry once
        (EXT_mesh_gpu_instancing + EXT_instance_features, see docs/tiling.md).
    """

    positions: np.ndarray
    indices: np.ndarray
    frame: GeoFrame
    material: Material = field(default_factory=Material)
    feature_ids: np.ndarray | None = None
    features: dict[int, dict[str, Any]] = field(default_factory=dict)
    normals: np.ndarray | None = None
    uvs: np.ndarray | None = None
    colors: np.ndarray | None = None
    instances: np.ndarray | None = None
    instance_feature_ids: np.ndarray | None = None

    @property
    def triangle_count(self) -> int:
        n = int(len(self.indices))
        return n if self.instances is None else n * len(self.instances)


@dataclass
class BoundingBox:
    """3D Tiles ``box`` volume: centre and three half-axis vectors (12 numbers)."""

    center: np.ndarray
    half_axes: np.ndarray  # (3, 3), rows are the half-axis vectors

    def to_json(self) -> list[float]:
        return [float(v) for v in list(self.center) + list(self.half_axes.reshape(-1))]


@dataclass
class TileNode:
    """One tile of the tree: volume, measured geometric error, refine, content, children."""

    key: str
    box: BoundingBox
    geometric_error: float
    refine: str = "REPLACE"
    content_uri: str | None = None
    children: list["TileNode"] = field(default_factory=list)
    transform: np.ndarray | None = None  # (4, 4) column-major like 3D Tiles, or None


class TileStore(Protocol):
    """Where tilesets live. Writes go to a staging area and are published atomically."""

    def get(self, tileset_id: str, path: str) -> bytes: ...

    def exists(self, tileset_id: str, path: str) -> bool: ...

    def list(self, tileset_id: str) -> Iterator[str]: ...

    def delete(self, tileset_id: str) -> None: ...
