"""One IFC4 building for the demo, authored with ifcopenshell.api and georeferenced.

The building is project P02's "CBD smart-city operations centre": four storeys, external
and internal walls with windows (glass style) and doors in openings, floor slabs, a flat
roof, common property sets (Pset_WallCommon.IsExternal, ...) and base quantities. It is
placed by IfcMapConversion + IfcProjectedCRS (EPSG:4548) on the P02 lot, turned a little
off grid north so a wrong rotation would show. GlobalIds come from the seeded generator
and the header time stamp is fixed, so the file has the same bytes on every run.
"""
from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import ifcopenshell
import ifcopenshell.ifcopenshell_wrapper
import ifcopenshell.api
import ifcopenshell.api.unit
import ifcopenshell.guid

FIXED_TIMESTAMP = "2025-06-01T00:00:00"


@dataclass(frozen=True)
class Placement:
    """Where the building stands: EPSG:4548 easting/northing/height and grid rotation."""

    eastings: float
    northings: float
    height: float
    rotation_deg: float


#: Building size (metres), storeys and their height.
WIDTH, DEPTH, STOREYS, STOREY_H = 42.0, 24.0, 4, 4.2
WALL_T, SLAB_T = 0.3, 0.25
WINDOW_W, WINDOW_H, SILL = 1.8, 2.0, 0.9


def _matrix(x: float, y: float, z: float, angle_deg: float = 0.0) -> np.ndarray:
    """A placement matrix: rotate about z by ``angle_deg``, then move to (x, y, z)."""
    a = math.radians(angle_deg)
    m = np.eye(4)
    m[:2, :2] = [[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]]
    m[:3, 3] = [x, y, z]
    return m


def _run(usecase: str, f: ifcopenshell.file, **kwargs):
    return ifcopenshell.api.run(usecase, f, **kwargs)


class _Author:
    """Holds the file, the body context and the shared styles while the model is built."""

    def __init__(self, name: str, placement: Placement):
        f = ifcopenshell.file(schema="IFC4")
        self.f = f
        project = _run("root.create_entity", f, ifc_class="IfcProject", name=name)
        self.metre = ifcopenshell.api.unit.add_si_unit(f, unit_type="LENGTHUNIT")
        _run("unit.assign_unit", f, units=[
            self.metre, ifcopenshell.api.unit.add_si_unit(f, unit_type="AREAUNIT"),
            ifcopenshell.api.unit.add_si_unit(f, unit_type="VOLUMEUNIT"),
            ifcopenshell.api.unit.add_si_unit(f, unit_type="PLANEANGLEUNIT")])
        model = _run("context.add_context", f, context_type="Model")
        self.body = _run("context.add_context", f, context_type="Model",
                         context_identifier="Body", target_view="MODEL_VIEW", parent=model)
        self._georeference(placement)
        site = _run("root.create_entity", f, ifc_class="IfcSite", name="P02地块")
        self.building = _run("root.create_entity", f, ifc_class="IfcBuilding", name=name)
        _run("aggregate.assign_object", f, products=[site], relating_object=project)
        _run("aggregate.assign_object", f, products=[self.building], relating_object=site)
        for product in (site, self.building):
            _run("geometry.edit_object_placement", f, product=product, matrix=np.eye(4))
        self.glass = self._style("玻璃 Glass", (0.55, 0.75, 0.85), 0.6)
        self.concrete = self._style("混凝土 Concrete", (0.78, 0.77, 0.74), 0.0)
        self.frame = self._style("铝合金 Aluminium", (0.35, 0.36, 0.38), 0.0)
        self.timber = self._style("木门 Timber", (0.55, 0.38, 0.22), 0.0)

    def _georeference(self, p: Placement) -> None:
        _run("georeference.add_georeferencing", self.f, name="EPSG:4548")
        a = math.radians(p.rotation_deg)
        _run("georeference.edit_georeferencing", self.f,
             projected_crs={"Name": "EPSG:4548",
                            "Description": "CGCS2000 / 3-degree Gauss-Kruger CM 117E",
                            "GeodeticDatum": "CGCS2000", "MapUnit": self.metre},
             coordinate_operation={"Eastings": p.eastings, "Northings": p.northings,
                                   "OrthogonalHeight": p.height,
                                   "XAxisAbscissa": math.cos(a), "XAxisOrdinate": math.sin(a),
                                   "Scale": 1.0})

    def _style(self, name, rgb, transparency):
        style = _run("style.add_style", self.f, name=name)
        _run("style.add_surface_style", self.f, style=style, ifc_class="IfcSurfaceStyleShading",
             attributes={"SurfaceColour": {"Name": None, "Red": rgb[0], "Green": rgb[1],
                                           "Blue": rgb[2]},
                         "Transparency": transparency})
        return style

    def element(self, ifc_class, name, rep, matrix, container, style=None, predefined=None):
        """Create a product with a representation and placement, contained in a storey."""
        el = _run("root.create_entity", self.f, ifc_class=ifc_class, name=name,
                  predefined_type=predefined)
        _run("geometry.assign_representation", self.f, product=el, representation=rep)
        _run("geometry.edit_object_placement", self.f, product=el, matrix=matrix)
        if container is not None:
            _run("spatial.assign_container", self.f, products=[el], relating_structure=container)
        if style is not None:
            _run("style.assign_representation_styles", self.f, shape_representation=rep,
                 styles=[style])
        return el

    def props(self, product, pset: str, values: dict, qto: str | None = None,
              quantities: dict | None = None) -> None:
        p = _run("pset.add_pset", self.f, product=product, name=pset)
        _run("pset.edit_pset", self.f, pset=p, properties=values)
        if qto:
            q = _run("pset.add_qto", self.f, product=product, name=qto)
            _run("pset.edit_qto", self.f, qto=q, properties=quantities)


def _walls(a: _Author, storey, level: int, z: float) -> list:
    """Four external walls (running counter-clockwise, thickness inwards) and one internal."""
    runs = [((-WIDTH / 2, -DEPTH / 2), 0.0, WIDTH, "南"),
            ((WIDTH / 2, -DEPTH / 2), 90.0, DEPTH, "东"),
            ((WIDTH / 2, DEPTH / 2), 180.0, WIDTH, "北"),
            ((-WIDTH / 2, DEPTH / 2), 270.0, DEPTH, "西")]
    walls = []
    for (x, y), angle, length, side in runs:
        rep = _run("geometry.add_wall_representation", a.f, context=a.body, length=length,
                   height=STOREY_H - SLAB_T, thickness=WALL_T)
        wall = a.element("IfcWall", f"{level}F {side}外墙", rep, _matrix(x, y, z, angle), storey,
                         a.concrete)
        a.props(wall, "Pset_WallCommon", {"IsExternal": True, "LoadBearing": True,
                                          "FireRating": "REI 120"},
                "Qto_WallBaseQuantities", {"Length": length, "Height": STOREY_H - SLAB_T,
                                           "Width": WALL_T,
                                           "GrossVolume": length * (STOREY_H - SLAB_T) * WALL_T})
        walls.append((wall, (x, y), angle, length, side))
    rep = _run("geometry.add_wall_representation", a.f, context=a.body, length=WIDTH - 2 * WALL_T,
               height=STOREY_H - SLAB_T, thickness=0.2)
    inner = a.element("IfcWall", f"{level}F 走廊内墙", rep,
                      _matrix(-WIDTH / 2 + WALL_T, -1.5, z), storey, a.concrete)
    a.props(inner, "Pset_WallCommon", {"IsExternal": False, "LoadBearing": False},
            "Qto_WallBaseQuantities", {"Length": WIDTH - 2 * WALL_T, "Height": STOREY_H - SLAB_T,
                                       "Width": 0.2})
    return walls


def _opening_in(a: _Author, wall, storey, origin, angle, along, width, height, sill, z):
    """Cut an opening ``along`` metres down a wall; returns (opening, its matrix)."""
    rad = math.radians(angle)
    ox = origin[0] + along * math.cos(rad) + 0.1 * math.sin(rad)
    oy = origin[1] + along * math.sin(rad) - 0.1 * math.cos(rad)
    matrix = _matrix(ox, oy, z + sill, angle)
    rep = _run("geometry.add_wall_representation", a.f, context=a.body, length=width,
               height=height, thickness=WALL_T + 0.2)
    opening = a.element("IfcOpeningElement", "洞口", rep, matrix, None, predefined="OPENING")
    _run("feature.add_feature", a.f, feature=opening, element=wall)
    return opening, _matrix(origin[0] + along * math.cos(rad), origin[1] + along * math.sin(rad),
                            z + sill, angle)


def _windows_and_doors(a: _Author, storey, level: int, z: float, walls) -> None:
    for wall, origin, angle, length, side in walls:
        count = int(length // 5.5)
        spacing = length / count
        for k in range(count):
            along = spacing * (k + 0.5) - WINDOW_W / 2
            door = level == 1 and side in ("南", "北") and k == count // 2
            w, h, sill = (2.4, 2.7, 0.0) if door else (WINDOW_W, WINDOW_H, SILL)
            opening, matrix = _opening_in(a, wall, storey, origin, angle, along, w, h, sill, z)
            if door:
                rep = _run("geometry.add_door_representation", a.f, context=a.body,
                           overall_height=h, overall_width=w,
                           operation_type="DOUBLE_DOOR_SINGLE_SWING")
                el = a.element("IfcDoor", f"{side}入口大门", rep, matrix, storey, a.timber, "DOOR")
                a.props(el, "Pset_DoorCommon", {"IsExternal": True, "FireExit": True},
                        "Qto_DoorBaseQuantities", {"Width": w, "Height": h, "Area": w * h})
            else:
                rep = _run("geometry.add_window_representation", a.f, context=a.body,
                           overall_height=h, overall_width=w)
                el = a.element("IfcWindow", f"{level}F {side}窗{k + 1}", rep, matrix, storey,
                               a.glass, "WINDOW")
                a.props(el, "Pset_WindowCommon", {"IsExternal": True, "ThermalTransmittance": 2.2},
                        "Qto_WindowBaseQuantities", {"Width": w, "Height": h, "Area": w * h})
            _run("feature.add_filling", a.f, opening=opening, element=el)


def _slab(a: _Author, storey, name: str, z: float, predefined: str, ifc_class="IfcSlab"):
    outline = [(-WIDTH / 2, -DEPTH / 2), (WIDTH / 2, -DEPTH / 2), (WIDTH / 2, DEPTH / 2),
               (-WIDTH / 2, DEPTH / 2)]
    rep = _run("geometry.add_slab_representation", a.f, context=a.body, depth=SLAB_T,
               polyline=outline)
    slab = a.element(ifc_class, name, rep, _matrix(0, 0, z), storey, a.concrete, predefined)
    pset = "Pset_RoofCommon" if ifc_class == "IfcRoof" else "Pset_SlabCommon"
    qto = "Qto_RoofBaseQuantities" if ifc_class == "IfcRoof" else "Qto_SlabBaseQuantities"
    values = {"IsExternal": predefined != "FLOOR"}
    quantities = ({"GrossArea": WIDTH * DEPTH} if ifc_class == "IfcRoof" else
                  {"Width": SLAB_T, "GrossArea": WIDTH * DEPTH,
                   "GrossVolume": WIDTH * DEPTH * SLAB_T})
    a.props(slab, pset, values, qto, quantities)
    return slab


def _stable_ids(f: ifcopenshell.file, rng: np.random.Generator) -> None:
    """Seeded GlobalIds, a fixed time stamp and sorted relationship sets: same bytes."""
    for entity in sorted(f.by_type("IfcRoot"), key=lambda e: e.id()):
        entity.GlobalId = ifcopenshell.guid.compress(uuid.UUID(bytes=rng.bytes(16)).hex)
    f.header.file_name.time_stamp = FIXED_TIMESTAMP
    # ifcopenshell.api fills SETs (relationships, unit assignments, ...) in an order that
    # depends on what the process wrote before; a SET has no order, so sort by entity id.
    schema = ifcopenshell.ifcopenshell_wrapper.schema_by_name(f.schema)
    set_attributes: dict[str, list[int]] = {}
    for entity in f:
        name = entity.is_a()
        if name not in set_attributes:
            set_attributes[name] = _set_attribute_indices(schema.declaration_by_name(name))
        for i in set_attributes[name]:
            value = entity[i]
            if value and all(isinstance(v, ifcopenshell.entity_instance) for v in value):
                entity[i] = tuple(sorted(value, key=lambda e: e.id()))


def _set_attribute_indices(declaration) -> list[int]:
    """Positions of the attributes declared as SET OF ... in an entity declaration."""
    indices = []
    for i, attribute in enumerate(declaration.all_attributes()):
        kind = attribute.type_of_attribute()
        if getattr(kind, "type_of_aggregation_string", lambda: "")() == "set":
            indices.append(i)
    return indices


def write_ifc(path: Path, placement: Placement, rng: np.random.Generator,
              name: str = "CBD智慧城市运营中心", project_id: str = "P02") -> dict:
    """Author the building and write it to ``path``; returns a short summary."""
    a = _Author(name, placement)
    a.props(a.building, "Pset_BuildingCommon", {"NumberOfStoreys": STOREYS,
                                                "YearOfConstruction": "2026"})
    a.props(a.building, "Cimtwin_Project", {"ProjectId": project_id})
    storey = None
    for level in range(1, STOREYS + 1):
        z = (level - 1) * STOREY_H
        storey = _run("root.create_entity", a.f, ifc_class="IfcBuildingStorey", name=f"{level}F")
        storey.Elevation = z
        _run("aggregate.assign_object", a.f, products=[storey], relating_object=a.building)
        _run("geometry.edit_object_placement", a.f, product=storey, matrix=_matrix(0, 0, z))
        _slab(a, storey, f"{level}F 楼板", z - SLAB_T, "FLOOR")
        walls = _walls(a, storey, level, z)
        _windows_and_doors(a, storey, level, z, walls)
    _slab(a, storey, "屋面", STOREYS * STOREY_H - SLAB_T, "FLAT_ROOF", "IfcRoof")
    _stable_ids(a.f, rng)
    path.parent.mkdir(parents=True, exist_ok=True)
    a.f.write(str(path))
    return {"path": str(path), "storeys": STOREYS, "walls": len(a.f.by_type("IfcWall")),
            "windows": len(a.f.by_type("IfcWindow")), "doors": len(a.f.by_type("IfcDoor"))}
