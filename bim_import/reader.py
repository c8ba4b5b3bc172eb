"""IFC file -> stream of :class:`tiles.model.MeshBatch`, one feature per element.

``read_ifc`` opens the file and settles the georeference up front (so bad input fails
before anything is written); :meth:`BimReader.batches` then meshes the elements and
yields batches grouped by look (colour + alpha), each bounded in size, so memory
stays flat however large the model.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from bim_import.appearance import material_group, to_material
from bim_import.errors import BimError
from bim_import.geometry import KERNELS, ElementShape, iter_shapes, meshable_products
from bim_import.georef import Georef, detect_georef
from bim_import.ifcfile import open_ifc, schema_family
from bim_import.semantics import SemanticsReader
from tiles.model import Material, MeshBatch

log = logging.getLogger(__name__)

#: A batch is flushed when it holds this many vertices (bounded memory per batch).
MAX_BATCH_VERTICES = 200_000

#: Shared geometries kept for reuse, in vertices (~50 MB): bounded whatever the model.
MAX_CACHED_VERTICES = 1_000_000

Progress = Callable[[dict], None] | None


@dataclass
class _Group:
    """Faces of one look waiting to become a MeshBatch."""

    material: Material
    positions: list = field(default_factory=list)
    normals: list = field(default_factory=list)
    indices: list = field(default_factory=list)
    fids: list = field(default_factory=list)
    vertex_count: int = 0


class BimReader:
    """One IFC model being read: georeference, elements, features, what was skipped."""

    def __init__(self, path: str | os.PathLike, *, crs: str | None = None,
                 origin: tuple[float, float, float] | None = None, rotation: float | None = None,
                 include_spaces: bool = False, geoid_offset_m: float = 0.0,
                 threads: int | None = None, kernels: tuple[str, ...] = KERNELS):
        self.path = Path(path)
        self.model = open_ifc(self.path)
        self.schema = schema_family(self.model.schema)
        self.georef: Georef = detect_georef(self.model, crs=crs, origin=origin, rotation=rotation,
                                            geoid_offset_m=geoid_offset_m)
        self.products = meshable_products(self.model, include_spaces=include_spaces)
        self.threads = threads
        self.kernels = tuple(kernels)
        self.semantics = SemanticsReader(self.model)
        self.features: dict[int, dict[str, Any]] = {}
        self.skipped: list[str] = []
        self.triangles = 0
        self.warnings: list[str] = list(self.georef.warnings)
        self._pieces: dict[tuple, list[tuple]] = {}
        self._cached_vertices = 0

    def batches(self, progress: Progress = None) -> Iterator[MeshBatch]:
        """Mesh every element; yield MeshBatches; fill ``features`` and ``skipped``."""
        groups: dict[tuple, _Group] = {}
        done: set[int] = set()
        for shape in iter_shapes(self.model, self.products, self.threads, self.kernels):
            gid = shape.product.GlobalId
            try:
                fid = len(self.features)
                parts = self._split_by_style(shape, fid)
                self.features[fid] = self.semantics.properties(shape.product)
            except Exception as exc:  # one bad element must not sink the model
                log.warning("skipping %s (%s): %s", gid, shape.product.is_a(), exc)
                self.features.pop(fid, None)
                continue
            done.add(shape.product.id())
            for key, material, part in parts:
                group = groups.setdefault(key, _Group(material))
                self._append(group, part, fid)
                if group.vertex_count >= MAX_BATCH_VERTICES:
                    yield self._flush(groups.pop(key))
            if progress is not None:
                progress({"stage": "mesh", "done": len(done), "total": len(self.products)})
        for key in list(groups):
            yield self._flush(groups.pop(key))
        self.skipped = [p.GlobalId for p in self.products if p.id() not in done]
        if self.skipped:
            self.warnings.append(
                f"{len(self.skipped)} element(s) had geometry that could not be meshed and "
                f"were skipped (see 'skipped' for their GlobalIds)")
        if not self.features:
            raise BimError(f"{self.path.name}: no element could be meshed; the model has "
                           f"{len(self.products)} element(s) with 3D body geometry")

    def _split_by_style(self, shape: ElementShape, fid: int) -> list[tuple]:
        """The element's triangles cut by style: [(group key, Material, arrays)].

        The cut is done once per geometry id (shared representations, type instances)
        and kept in ``self._pieces``; each product then only transforms it.
        """
        pieces = self._local_pieces(shape)
        rotation, offset = shape.matrix[:3, :3], shape.matrix[:3, 3]
        out = []
        for key, material, local, local_normals, faces in pieces:
            positions = local @ rotation.T + offset
            if not np.isfinite(positions).all():
                raise BimError("non-finite vertex coordinates")
            normals = None
            if local_normals is not None:
                normals = local_normals @ rotation.T
                length = np.linalg.norm(normals, axis=1, keepdims=True)
                normals /= np.where(length > 0, length, 1.0)
            out.append((key, material, (positions, normals, faces)))
        return out

    def _local_pieces(self, shape: ElementShape) -> list[tuple]:
        """[(group key, Material, local positions, local normals, faces)] of a geometry."""
        cache_key = (shape.geometry_id, len(shape.vertices), len(shape.faces),
                     tuple(str(getattr(style, "name", "")) for style in shape.styles))
        pieces = self._pieces.get(cache_key)
        if pieces is not None:
            return pieces
        pieces = []
        for style_index in np.unique(shape.face_styles):
            faces = shape.faces[shape.face_styles == style_index]
            used, inverse = np.unique(faces, return_inverse=True)
            style = shape.styles[style_index] if 0 <= style_index < len(shape.styles) else None
            material = to_material(style) if style is not None else Material()
            pieces.append((material_group(material), material, shape.vertices[used],
                           None if shape.normals is None else shape.normals[used],
                           inverse.reshape(-1, 3)))
        if self._cached_vertices < MAX_CACHED_VERTICES:
            self._pieces[cache_key] = pieces
            self._cached_vertices += len(shape.vertices)
        return pieces

    def _append(self, group: _Group, part, fid: int) -> None:
        positions, normals, faces = part
        group.indices.append(faces + group.vertex_count)
        group.positions.append(positions)
        group.normals.append(normals)
        group.fids.append(np.full(len(positions), fid, dtype=np.uint32))
        group.vertex_count += len(positions)
        self.triangles += len(faces)

    def _flush(self, group: _Group) -> MeshBatch:
        fids = np.concatenate(group.fids)
        normals = None
        if all(n is not None for n in group.normals):
            normals = np.concatenate(group.normals).astype(np.float32)
        return MeshBatch(
            positions=np.concatenate(group.positions),
            indices=np.concatenate(group.indices).astype(np.uint32),
            frame=self.georef.frame, material=group.material, feature_ids=fids,
            features={int(f): self.features[int(f)] for f in np.unique(fids)},
            normals=normals)

    def summary(self) -> dict[str, Any]:
        """What the import found: counts, skipped GlobalIds, georeference, warnings."""
        return {"schema": self.schema, "products": len(self.products),
                "elements": len(self.features), "skipped": list(self.skipped),
                "triangles": self.triangles, "georef_source": self.georef.source,
                "georef": self.georef.describe(), "warnings": list(self.warnings)}


def read_ifc(path: str | os.PathLike, **options) -> BimReader:
    """Open ``path`` and settle its georeference; see :class:`BimReader` for options."""
    return BimReader(path, **options)
