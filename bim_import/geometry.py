"""Triangles of IFC elements, from ifcopenshell's multi-threaded geometry iterator.

Each product is meshed in its own placement (``use-world-coords`` off): the iterator
then tessellates a representation shared by several products (mapped items, type
instances) once and hands out the same geometry id with a per-product placement
matrix, applied here in float64. Openings are subtracted by the iterator.
Positions come out in metres whatever the file's length unit.

Kernels are tried in order (:data:`KERNELS`): the fast hybrid CGAL kernel first, then
OpenCASCADE for exactly the products the first returned nothing for (the Duplex's
mapped furniture). On the four sample files the hybrid result matches OpenCASCADE's
within 5 mm per bounding-box side and 2 % of surface area, element by element
(``tests/bim_import/test_bim_geometry.py``), at 2-3x the speed.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
from dataclasses import dataclass
from typing import Iterable, Iterator

import ifcopenshell
import ifcopenshell.geom
import numpy as np

log = logging.getLogger(__name__)

#: Geometry kernels in the order tried. ifcopenshell 0.9's hybrid kernel is 2-3x faster
#: than OpenCASCADE but meshes some mapped items (the Duplex's furniture) to nothing in
#: local coordinates; those products are meshed again by OpenCASCADE.
KERNELS = ("hybrid-cgal-simple-opencascade", "opencascade")

#: Representations worth meshing: 3D model contexts, body-like identifiers.
BODY_IDENTIFIERS = {"Body", "Facetation", "Body-FallBack", "", None}

#: Never meshed: voids (subtracted from their host) and 2D annotation.
ALWAYS_EXCLUDED = ("IfcOpeningElement", "IfcAnnotation", "IfcVirtualElement")


def default_threads() -> int:
    """One geometry thread per idle core (at least one).

    ifcopenshell 0.9's iterator spends about twice the CPU with two threads as with one
    (on the samples: Duplex 2.0-2.3 vs 0.95-1.3 s, FZK-Haus 3.4-5.2 vs 2.3 s) for a
    7 % shorter wall time on an idle 2-core machine; on a busy one (load 5-6 on 2 cores)
    the second thread doubles the wall time instead. So threads go to idle cores only.
    """
    cores = multiprocessing.cpu_count()
    try:
        busy = os.getloadavg()[0]
    except OSError:  # not available on this platform
        busy = 0.0
    return max(1, min(cores, int(cores - busy + 0.5)))


@dataclass
class ElementShape:
    """One product's triangles: local vertices, its placement, per-face style index."""

    product: ifcopenshell.entity_instance
    geometry_id: str
    vertices: np.ndarray      # (N,3) float64, element local, metres
    normals: np.ndarray | None  # (N,3) float64 or None
    faces: np.ndarray         # (M,3) int64
    face_styles: np.ndarray   # (M,) int64, index into styles, -1 = none
    styles: list              # ifcopenshell style objects
    matrix: np.ndarray        # (4,4) float64 placement, metres

    def world_vertices(self) -> np.ndarray:
        return self.vertices @ self.matrix[:3, :3].T + self.matrix[:3, 3]

    def world_normals(self) -> np.ndarray | None:
        if self.normals is None:
            return None
        n = self.normals @ self.matrix[:3, :3].T
        length = np.linalg.norm(n, axis=1, keepdims=True)
        return n / np.where(length > 0, length, 1.0)


def meshable_products(model: ifcopenshell.file, *, include_spaces: bool) -> list:
    """Products with a 3D body representation: what a viewer should show."""
    out = []
    for product in model.by_type("IfcProduct"):
        if any(product.is_a(cls) for cls in ALWAYS_EXCLUDED):
            continue
        if product.is_a("IfcSpace") and not include_spaces:
            continue
        if _has_body(product):
            out.append(product)
    return out


def iter_shapes(model: ifcopenshell.file, products: list, threads: int | None = None,
                kernels: Iterable[str] = KERNELS) -> Iterator[ElementShape]:
    """Mesh ``products`` in parallel; yields an :class:`ElementShape` per success.

    Each kernel in ``kernels`` gets the products that the ones before it could not
    mesh (an error or no triangles). Elements no kernel can mesh are simply not
    yielded; the caller compares with ``products`` to report them.
    """
    remaining = {p.id(): p for p in products}
    for kernel in kernels:
        if not remaining:
            return
        for element in _iterate(model, list(remaining.values()), threads, kernel):
            remaining.pop(element.product.id(), None)
            yield element


def _iterate(model, products: list, threads: int | None, kernel: str) -> Iterator[ElementShape]:
    """One pass of the geometry iterator with one kernel over ``products``."""
    settings = ifcopenshell.geom.settings()
    settings.set("use-world-coords", False)
    settings.set("use-material-names", True)
    settings.set("apply-default-materials", True)
    try:
        iterator = ifcopenshell.geom.iterator(
            settings, model, threads or default_threads(), include=products,
            geometry_library=kernel)
    except RuntimeError as exc:  # a kernel this ifcopenshell build lacks: try the next
        log.warning("geometry kernel %r unavailable (%s); using the next one", kernel, exc)
        return
    if not iterator.initialize():
        return
    while True:
        element = _to_element_shape(model, iterator.get())
        if element is not None:
            yield element
        if not iterator.next():
            break


def _to_element_shape(model, shape) -> ElementShape | None:
    geometry = shape.geometry
    faces = np.frombuffer(geometry.faces_buffer, dtype=np.int32).reshape(-1, 3).astype(np.int64)
    if len(faces) == 0:
        return None
    vertices = np.frombuffer(geometry.verts_buffer, dtype=np.float64).reshape(-1, 3)
    normals = None
    try:
        normals = np.frombuffer(geometry.normals_buffer, dtype=np.float64).reshape(-1, 3)
        if len(normals) != len(vertices):
            normals = None
    except (AttributeError, ValueError):
        normals = None
    face_styles = np.frombuffer(geometry.material_ids_buffer, dtype=np.int32).astype(np.int64)
    if len(face_styles) != len(faces):
        face_styles = np.full(len(faces), -1, dtype=np.int64)
    matrix = np.frombuffer(shape.transformation_buffer, dtype=np.float64).reshape((4, 4), order="F")
    return ElementShape(product=model.by_id(shape.id), geometry_id=str(geometry.id),
                        vertices=vertices, normals=normals, faces=faces,
                        face_styles=face_styles, styles=list(geometry.materials),
                        matrix=matrix.copy())


def _has_body(product) -> bool:
    representation = getattr(product, "Representation", None)
    if representation is None:
        return False
    for rep in representation.Representations or ():
        context = rep.ContextOfItems
        while context is not None and context.is_a("IfcGeometricRepresentationSubContext"):
            context = context.ParentContext
        if context is None or (context.ContextType or "Model") != "Model":
            continue
        if rep.RepresentationIdentifier in BODY_IDENTIFIERS and rep.Items:
            return True
    return False
