"""Write a small, real-looking, georeferenced IFC4 building for tests and examples.

Two storeys of walls and slabs, glazed windows (a transparent style), columns that share
one mapped representation (a column type: what instancing is for), property and
quantity sets, and an IfcMapConversion to EPSG:4548 (CGCS2000 / 3-degree GK CM 117E,
the Jinan zone). Everything is authored through ``ifcopenshell.api`` so the file is what
an authoring tool would write; ``broken_element`` adds one element whose geometry
cannot be meshed, to exercise the "skip it and report it" path.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import ifcopenshell
import ifcopenshell.api
import numpy as np

#: Lixia CBD, Jinan, in EPSG:4548 (about 117.12 E, 36.66 N).
JINAN_ORIGIN = (510800.0, 4057300.0, 45.0)


def write_sample_ifc(path: str | os.PathLike, *, crs: str | None = "EPSG:4548",
                     origin: tuple[float, float, float] = JINAN_ORIGIN, rotation_deg: float = 30.0,
                     storeys: int = 2, columns_per_storey: int = 4,
                     broken_element: bool = False) -> Path:
    """Write the sample to ``path``; ``crs=None`` writes no georeference at all."""
    run = ifcopenshell.api.run
    f = ifcopenshell.file(schema="IFC4")
    project = run("root.create_entity", f, ifc_class="IfcProject", name="cimtwin sample")
    run("unit.assign_unit", f, length={"is_metric": True, "raw": "METERS"},
        area={"is_metric": True, "raw": "METERS"}, volume={"is_metric": True, "raw": "METERS"})
    model = run("context.add_context", f, context_type="Model")
    body = run("context.add_context", f, context_type="Model", context_identifier="Body",
               target_view="MODEL_VIEW", parent=model)
    if crs:
        a = math.radians(rotation_deg)
        run("georeference.add_georeferencing", f, name=crs)
        run("georeference.edit_georeferencing", f, projected_crs={"Name": crs},
            coordinate_operation={"Eastings": origin[0], "Northings": origin[1],
                                  "OrthogonalHeight": origin[2], "XAxisAbscissa": math.cos(a),
                                  "XAxisOrdinate": math.sin(a), "Scale": 1.0})
    site = run("root.create_entity", f, ifc_class="IfcSite", name="示例地块 Sample site")
    building = run("root.create_entity", f, ifc_class="IfcBuilding", name="示例楼 Sample building")
    run("aggregate.assign_object", f, products=[site], relating_object=project)
    run("aggregate.assign_object", f, products=[building], relating_object=site)
    styles = {"concrete": _style(f, "Concrete 混凝土", (0.75, 0.74, 0.70), 0.0),
              "glass": _style(f, "Glass 玻璃", (0.55, 0.75, 0.85), 0.6)}
    column_type = _column_type(f, body, styles["concrete"])
    for level in range(storeys):
        z = 3.0 * level
        storey = run("root.create_entity", f, ifc_class="IfcBuildingStorey", name=f"{level + 1}F")
        storey.Elevation = z
        run("aggregate.assign_object", f, products=[storey], relating_object=building)
        _storey_elements(f, body, storey, z, styles, column_type, columns_per_storey)
    if broken_element:
        _broken(f, body, storey)
    path = Path(path)
    f.write(str(path))
    return path


def _storey_elements(f, body, storey, z, styles, column_type, columns) -> None:
    """Four walls (one per side, the south one glazed), a slab, columns."""
    run = ifcopenshell.api.run
    corners = [(0.0, 0.0), (12.0, 0.0), (12.0, 8.0), (0.0, 8.0)]
    for i, (p1, p2) in enumerate(zip(corners, corners[1:] + corners[:1])):
        wall = run("root.create_entity", f, ifc_class="IfcWall", name=f"Wall {i + 1}",
                   predefined_type="SOLIDWALL")
        length = math.dist(p1, p2)
        rep = run("geometry.add_wall_representation", f, context=body, length=length,
                  height=3.0, thickness=0.2)
        angle = math.atan2(p2[1] - p1[1], p2[0] - p1[0])
        _place(f, wall, rep, storey, _matrix(p1[0], p1[1], z, angle), styles["concrete"])
        _pset(f, wall, "Pset_WallCommon", {"IsExternal": True, "LoadBearing": i % 2 == 0,
                                           "FireRating": "REI 90"})
        _qto(f, wall, "Qto_WallBaseQuantities", {"Length": length, "Height": 3.0, "Width": 0.2})
        if i == 0:
            window = run("root.create_entity", f, ifc_class="IfcWindow", name="Window S",
                         predefined_type="WINDOW")
            rep = run("geometry.add_wall_representation", f, context=body, length=4.0,
                      height=1.5, thickness=0.05)
            _place(f, window, rep, storey, _matrix(4.0, -0.1, z + 0.9, 0.0), styles["glass"])
            _pset(f, window, "Pset_WindowCommon", {"IsExternal": True, "GlazingAreaFraction": 0.8})
    slab = run("root.create_entity", f, ifc_class="IfcSlab", name="Floor", predefined_type="FLOOR")
    rep = run("geometry.add_slab_representation", f, context=body, depth=0.25,
              polyline=corners + corners[:1])
    _place(f, slab, rep, storey, _matrix(0.0, 0.0, z - 0.25, 0.0), styles["concrete"])
    _pset(f, slab, "Pset_SlabCommon", {"IsExternal": False, "LoadBearing": True})
    for c in range(columns):
        column = run("root.create_entity", f, ifc_class="IfcColumn", name=f"Column {c + 1}",
                     predefined_type="COLUMN")
        run("type.assign_type", f, related_objects=[column], relating_type=column_type)
        run("geometry.edit_object_placement", f, product=column,
            matrix=_matrix(2.0 + 2.5 * c, 4.0, z, 0.0))
        run("spatial.assign_container", f, products=[column], relating_structure=storey)


def _column_type(f, body, style):
    """A column type whose body every occurrence maps (IfcMappedItem)."""
    run = ifcopenshell.api.run
    ctype = run("root.create_entity", f, ifc_class="IfcColumnType", name="C300x300",
                predefined_type="COLUMN")
    rep = run("geometry.add_profile_representation", f, context=body,
              profile=f.createIfcRectangleProfileDef("AREA", None, None, 0.3, 0.3), depth=3.0)
    run("geometry.assign_representation", f, product=ctype, representation=rep)
    run("style.assign_representation_styles", f, shape_representation=rep, styles=[style])
    _pset(f, ctype, "Pset_ColumnCommon", {"LoadBearing": True, "Reference": "C300x300"})
    return ctype


def _broken(f, body, storey) -> None:
    """A proxy whose extrusion has a zero-area profile: the kernel cannot mesh it."""
    run = ifcopenshell.api.run
    proxy = run("root.create_entity", f, ifc_class="IfcBuildingElementProxy", name="Broken")
    rep = run("geometry.add_profile_representation", f, context=body,
              profile=f.createIfcRectangleProfileDef("AREA", None, None, 0.0, 0.0), depth=1.0)
    _place(f, proxy, rep, storey, _matrix(1.0, 1.0, 0.0, 0.0), None)


def _place(f, product, rep, storey, matrix, style) -> None:
    run = ifcopenshell.api.run
    run("geometry.assign_representation", f, product=product, representation=rep)
    run("geometry.edit_object_placement", f, product=product, matrix=matrix)
    run("spatial.assign_container", f, products=[product], relating_structure=storey)
    if style is not None:
        run("style.assign_representation_styles", f, shape_representation=rep, styles=[style])


def _style(f, name, rgb, transparency):
    run = ifcopenshell.api.run
    style = run("style.add_style", f, name=name)
    run("style.add_surface_style", f, style=style, ifc_class="IfcSurfaceStyleShading",
        attributes={"SurfaceColour": {"Name": None, "Red": rgb[0], "Green": rgb[1], "Blue": rgb[2]},
                    "Transparency": transparency})
    return style


def _pset(f, product, name, values) -> None:
    pset = ifcopenshell.api.run("pset.add_pset", f, product=product, name=name)
    ifcopenshell.api.run("pset.edit_pset", f, pset=pset, properties=values)


def _qto(f, product, name, values) -> None:
    qto = ifcopenshell.api.run("pset.add_qto", f, product=product, name=name)
    ifcopenshell.api.run("pset.edit_qto", f, qto=qto, properties=values)


def _matrix(x: float, y: float, z: float, angle: float) -> np.ndarray:
    m = np.eye(4)
    c, s = math.cos(angle), math.sin(angle)
    m[:2, :2] = [[c, -s], [s, c]]
    m[:3, 3] = (x, y, z)
    return m
