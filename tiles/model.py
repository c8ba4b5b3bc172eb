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
    ``"orthometric"`` means z is above the geoid (or a national height datum) and
    ``geoid_offset_m`` (N, ellipsoidal = orthometric + N) must be supplied by the user.
    """

    crs: str
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rotation_deg: float = 0.0
    scale: float = 1.0
    vertical: str = "ellipsoidal"
    geoid_offset_m: float = 0.0

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly record for the catalog (what was assumed, stated)."""
        return {
            "crs": self.crs if len(self.crs) < 200 else self.crs[:200] + "...",
            "origin": list(self.origin),
            "rotation_deg": self.rotation_deg,
            "scale": self.scale,
            "vertical": self.vertical,
            "geoid_offset_m": self.geoid_offset_m,
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


@dataclass(frozen=True)
class BoundingBox:
    """An axis-aligned box in the tileset's ENU frame (metres): a 3D Tiles ``box``."""

    lo: tuple[float, float, float]
    hi: tuple[float, float, float]

    @classmethod
    def of(cls, lo, hi) -> "BoundingBox":
        return cls(tuple(float(v) for v in lo), tuple(float(v) for v in hi))

    def union(self, other: "BoundingBox | None") -> "BoundingBox":
        if other is None:
            return self
        return BoundingBox.of(np.minimum(self.lo, other.lo), np.maximum(self.hi, other.hi))

    @property
    def diagonal(self) -> float:
        return float(np.linalg.norm(np.subtract(self.hi, self.lo)))

    def to_json(self) -> list[float]:
        """3D Tiles ``box``: centre and three half-axes (degenerate axes get 1 mm)."""
        lo, hi = np.asarray(self.lo, float), np.asarray(self.hi, float)
        centre, half = (lo + hi) / 2.0, np.maximum((hi - lo) / 2.0, 1e-3)
        return [float(v) for v in centre] + [float(half[0]), 0.0, 0.0,
                                             0.0, float(half[1]), 0.0,
                                             0.0, 0.0, float(half[2])]


@dataclass
class TileNode:
    """One built tile and its subtree: what tileset.json says about it.

    ``bounds`` covers the content and every child (None: nothing below holds geometry,
    the tile is left out); ``geometric_error`` is measured (REPLACE: the simplification's
    deviation plus the children's error; ADD: the largest feature below that this tile
    lacks), 0 at leaves; ``content`` is the store path of the glb (None: no content).
    """

    key: str
    refine: str
    bounds: BoundingBox | None = None
    geometric_error: float = 0.0
    content: str | None = None
    content_bounds: BoundingBox | None = None
    triangles: int = 0
    children: list["TileNode"] = field(default_factory=list)

    def walk(self) -> Iterator["TileNode"]:
        """This tile and every tile below it, parents first."""
        yield self
        for child in self.children:
            yield from child.walk()


class TileStore(Protocol):
    """Where tilesets live; one contract (tests/tiles/test_store_contract.py) for all.

    Writes go to an unpublished ``version`` of a tileset (a build's key: a re-run with
    the same key finds what an interrupted one wrote); ``publish`` makes a version live
    in one atomic step, so readers see the old tileset or the new one, never a mix.
    ``version=None`` reads the live tileset. Paths are relative POSIX paths; '..',
    absolute, '%'-encoded and backslash paths raise ``tiles.errors.UnsafePathError``,
    a missing tileset or file ``tiles.errors.StoreError``.
    """

    def put(self, tileset_id: str, path: str, data: bytes, *, version: str) -> None: ...

    def get(self, tileset_id: str, path: str, *, version: str | None = None) -> bytes: ...

    def exists(self, tileset_id: str, path: str, *, version: str | None = None) -> bool: ...

    def list(self, tileset_id: str, *, version: str | None = None) -> Iterator[str]: ...

    def publish(self, tileset_id: str, version: str) -> None: ...

    def delete(self, tileset_id: str, *, version: str | None = None) -> None: ...

    def tilesets(self) -> list[str]: ...
