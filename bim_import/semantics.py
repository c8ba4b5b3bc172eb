"""One properties dict per IFC element: identity, spatial place, materials, property sets.

The keys (documented in docs/bim.md, which the viewer's inspector reads):
``GlobalId``, ``IfcClass``, ``PredefinedType``, ``Name``, ``ObjectType``, ``Storey``,
``Building``, ``Materials``, then every property and quantity flattened as
``"<Pset or Qto name>.<property name>"`` with a typed value (bool, int, float, str).
Missing values are left out rather than stored as None.
"""
from __future__ import annotations

from typing import Any

import ifcopenshell
import ifcopenshell.util.element

#: Identity keys, always in this order, before the flattened property sets.
IDENTITY_KEYS = ("GlobalId", "IfcClass", "PredefinedType", "Name", "ObjectType",
                 "Storey", "Building", "Materials")

_SPATIAL_STOREY = "IfcBuildingStorey"
_SPATIAL_BUILDING = "IfcBuilding"


class SemanticsReader:
    """Properties of elements of one model, caching the spatial tree walks."""

    def __init__(self, model: ifcopenshell.file):
        self.model = model
        self._place_cache: dict[int, tuple[Any, Any]] = {}
        self._parent_map: dict[int, Any] | None = None
        #: "<Pset>.<Prop>" -> unit symbol ("" for none), from the first element having it
        self._units: dict[str, str] = {}

    def properties(self, element) -> dict[str, Any]:
        """The flat, typed properties dict of ``element`` (see module docstring)."""
        storey, building = self.spatial_place(element)
        props: dict[str, Any] = {
            "GlobalId": element.GlobalId,
            "IfcClass": element.is_a(),
            "PredefinedType": _text(ifcopenshell.util.element.get_predefined_type(element)),
            "Name": _text(getattr(element, "Name", None)),
            "ObjectType": _text(getattr(element, "ObjectType", None)),
            "Storey": spatial_name(storey),
            "Building": spatial_name(building),
            "Materials": material_names(element),
        }
        props = {k: v for k, v in props.items() if v not in (None, "")}
        flat = flatten_property_sets(element)
        if any(key not in self._units for key in flat):
            self._units.update({k: u for k, u in property_units(element, self.model).items()
                                if k not in self._units})
            self._units.update({k: "" for k in flat if k not in self._units})
        props.update(flat)
        return props

    def units(self) -> dict[str, str]:
        """``{"Qto_WallBaseQuantities.Length": "m", ...}`` of the properties seen that
        have a unit: the property's own, else the project's (IfcUnitAssignment)."""
        return {k: u for k, u in sorted(self._units.items()) if u}

    def spatial_place(self, element):
        """(storey, building) containing ``element``; either may be None.

        Follows containment (IfcRelContainedInSpatialStructure), aggregation (a flight
        in a stair, a storey in a building) and nesting upwards.
        """
        key = element.id()
        if key in self._place_cache:
            return self._place_cache[key]
        parents = self._parents()
        storey = building = None
        node, seen = element, set()
        while node is not None and node.id() not in seen:
            seen.add(node.id())
            if storey is None and node.is_a(_SPATIAL_STOREY):
                storey = node
            if node.is_a(_SPATIAL_BUILDING):
                building = node
                break
            node = parents.get(node.id())
        self._place_cache[key] = (storey, building)
        return storey, building

    def _parents(self) -> dict[int, Any]:
        """Child id -> parent, from the relationship tables, built once per model.

        Walking inverse attributes per element is ~10x slower on the sample files.
        """
        if self._parent_map is None:
            parents: dict[int, Any] = {}
            for rel in self.model.by_type("IfcRelNests"):
                for child in rel.RelatedObjects or ():
                    parents[child.id()] = rel.RelatingObject
            for rel in self.model.by_type("IfcRelAggregates"):
                for child in rel.RelatedObjects or ():
                    parents[child.id()] = rel.RelatingObject
            for rel in self.model.by_type("IfcRelContainedInSpatialStructure"):
                for child in rel.RelatedElements or ():
                    parents[child.id()] = rel.RelatingStructure
            self._parent_map = parents
        return self._parent_map

    def storeys(self) -> list[dict[str, Any]]:
        """Every storey with its name, GlobalId and elevation (m), lowest first."""
        import ifcopenshell.util.unit
        unit_m = ifcopenshell.util.unit.calculate_unit_scale(self.model)
        rows = []
        for storey in self.model.by_type(_SPATIAL_STOREY):
            elevation = storey.Elevation
            rows.append({"name": spatial_name(storey),
                         "global_id": storey.GlobalId,
                         "elevation": None if elevation is None else float(elevation) * unit_m})
        rows.sort(key=lambda r: (r["elevation"] is None, r["elevation"] or 0.0, r["name"]))
        return rows


def flatten_property_sets(element) -> dict[str, Any]:
    """``{"Pset_WallCommon.IsExternal": True, "Qto_WallBaseQuantities.Length": 5.0, ...}``.

    Type-level property sets are inherited (occurrence values win), as the IFC
    specification says. Values keep their type: IfcBoolean -> bool, IfcInteger -> int,
    measures -> float, labels/identifiers -> str; lists become a "; "-joined string so
    every property stays a scalar the 3D Tiles metadata can carry.
    """
    flat: dict[str, Any] = {}
    psets = ifcopenshell.util.element.get_psets(element, should_inherit=True)
    for pset_name, values in psets.items():
        for prop, value in values.items():
            if prop == "id":
                continue
            typed = _typed(value)
            if typed is not None:
                flat[f"{pset_name}.{prop}"] = typed
    return flat


#: Readable symbols of derived units (ifcopenshell spells them from SI dimensions).
_DERIVED_SYMBOLS = {
    "THERMALTRANSMITTANCEUNIT": "W/(m²·K)", "THERMALCONDUCTANCEUNIT": "W/(m·K)",
    "MASSDENSITYUNIT": "kg/m³", "VOLUMETRICFLOWRATEUNIT": "m³/s", "LINEARVELOCITYUNIT": "m/s",
    "HEATFLUXDENSITYUNIT": "W/m²", "SPECIFICHEATCAPACITYUNIT": "J/(kg·K)",
    "MOMENTOFINERTIAUNIT": "m⁴", "MASSFLOWRATEUNIT": "kg/s", "LINEARFORCEUNIT": "N/m",
    "PLANARFORCEUNIT": "N/m²", "AREADENSITYUNIT": "kg/m²",
}


def unit_symbol(unit) -> str:
    """A short symbol for an IFC unit: "mm", "m²", "°", "W/(m²·K)" ("" if unknown)."""
    import ifcopenshell.util.unit
    if unit is None:
        return ""
    kind = getattr(unit, "UnitType", None)
    if unit.is_a("IfcDerivedUnit") and kind in _DERIVED_SYMBOLS:
        return _DERIVED_SYMBOLS[kind]
    if unit.is_a("IfcMonetaryUnit"):
        return _text(getattr(unit, "Currency", None)) or ""
    try:
        symbol = ifcopenshell.util.unit.get_unit_symbol(unit) or ""
    except Exception:  # an odd unit must not sink the element
        symbol = ""
    if unit.is_a("IfcConversionBasedUnit") and (unit.Name or "").upper() == "DEGREE":
        return "°"
    symbol = symbol.replace("2", "²").replace("3", "³") if symbol[:1].isalpha() else symbol
    return "" if "?" in symbol else symbol


def property_units(element, model) -> dict[str, str]:
    """``{"<Pset>.<Prop>": symbol}`` of the element's measured properties and quantities."""
    import ifcopenshell.util.unit
    out: dict[str, str] = {}
    psets = ifcopenshell.util.element.get_psets(element, should_inherit=True, verbose=True)
    for pset_name, values in psets.items():
        for prop, value in values.items():
            if not isinstance(value, dict) or "id" not in value:
                continue
            try:
                unit = ifcopenshell.util.unit.get_property_unit(model.by_id(value["id"]), model,
                                                                use_cache=True)
            except Exception:  # no unit is better than no element
                unit = None
            symbol = unit_symbol(unit)
            if symbol:
                out[f"{pset_name}.{prop}"] = symbol
    return out


def material_names(element) -> str | None:
    """Material names of an element (layers, profiles, constituents), "; "-joined."""
    names: list[str] = []
    try:
        materials = ifcopenshell.util.element.get_materials(element, should_inherit=True)
    except Exception:  # a malformed material association must not drop the element
        materials = []
    for material in materials:
        name = _text(getattr(material, "Name", None))
        if name and name not in names:
            names.append(name)
    return "; ".join(names) if names else None


def _typed(value) -> Any:
    """A scalar JSON/metadata-friendly value, or None when there is nothing to keep."""
    if value is None:
        return None
    if isinstance(value, (bool, int, float)):
        if isinstance(value, float) and value != value:  # NaN carries nothing
            return None
        return value
    if isinstance(value, str):
        return value if value != "" else None
    if isinstance(value, (list, tuple)):
        parts = [str(_typed(v)) for v in value if _typed(v) is not None]
        return "; ".join(parts) if parts else None
    if isinstance(value, ifcopenshell.entity_instance):
        inner = getattr(value, "wrappedValue", None)
        if inner is not None:
            return _typed(inner)
        name = getattr(value, "Name", None) if hasattr(value, "Name") else None
        return _text(name) or f"{value.is_a()}#{value.id()}"
    return str(value)


def spatial_name(node) -> str | None:
    """A storey's or building's display name: Name, else LongName, else GlobalId."""
    if node is None:
        return None
    return _text(node.Name) or _text(getattr(node, "LongName", None)) or node.GlobalId


def _text(value) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None
