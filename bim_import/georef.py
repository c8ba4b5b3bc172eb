"""Find where an IFC model lies on Earth, and say how we know.

Sources, in the order they are tried (unless the user overrides, see
:func:`detect_georef`):

1. IFC4/IFC4X3 ``IfcMapConversion`` with ``IfcProjectedCRS``;
2. IFC2X3 ``ePSet_MapConversion`` + ``ePSet_ProjectedCRS`` (on IfcSite or IfcProject);
3. ``IfcSite.RefLatitude/RefLongitude/RefElevation`` with the context's ``TrueNorth``,
   placed in a transverse-Mercator frame centred on that point.

Local coordinates are the geometry iterator's world coordinates, always in metres.
Map-conversion heights (``OrthogonalHeight``) and ``RefElevation`` are orthometric
(above the height datum); the configured geoid offset turns them ellipsoidal.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import ifcopenshell
import ifcopenshell.util.element
import ifcopenshell.util.placement
import ifcopenshell.util.unit
import pyproj

from bim_import.errors import GeoreferenceMissingError
from tiles.model import GeoFrame

#: Distance (m) beyond which IfcSite lat/lon and the map conversion "contradict".
CONTRADICTION_M = 100.0

SOURCE_MAP_CONVERSION = "IfcMapConversion"
SOURCE_EPSET = "ePSet_MapConversion"
SOURCE_SITE = "IfcSite.RefLatitude/RefLongitude"
SOURCE_OVERRIDE = "override"


@dataclass
class Georef:
    """The frame an import uses, which source it came from, and what to tell the user."""

    frame: GeoFrame
    source: str
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {"source": self.source, "frame": self.frame.describe(),
                "warnings": list(self.warnings), "notes": list(self.notes)}


@dataclass
class _MapConversion:
    """A map conversion read from either convention, in map units."""

    crs: str | None
    eastings: float
    northings: float
    height: float
    rotation_deg: float
    scale: float  # map units per local metre
    source: str


def detect_georef(model: ifcopenshell.file, *, crs: str | None = None,
                  origin: tuple[float, float, float] | None = None,
                  rotation: float | None = None, geoid_offset_m: float = 0.0) -> Georef:
    """Work out the model's :class:`GeoFrame`.

    Overrides: ``origin`` (E, N, H in ``crs``) replaces whatever the file says (a user
    passes it to correct or supply a georeference); ``crs`` alone names the CRS of the
    file's own map conversion. With neither and nothing in the file,
    :class:`GeoreferenceMissingError` names the flags to pass.
    """
    conversion = _read_map_conversion(model)
    site = _site_reference(model)
    if origin is not None:
        return _override(conversion, crs, origin, rotation, geoid_offset_m)
    if conversion is not None:
        return _from_conversion(conversion, crs, site, geoid_offset_m)
    if site is not None:
        return _from_site(model, site, geoid_offset_m)
    if crs is not None:
        raise GeoreferenceMissingError(
            "the model has no map conversion for --crs to apply to; also pass "
            "--origin E,N,H (where the model's origin lies in that CRS) and, if needed, "
            "--rotation DEG")
    raise GeoreferenceMissingError(
        "the model carries no georeference (no IfcMapConversion, no ePSet_MapConversion, "
        "no IfcSite RefLatitude/RefLongitude); pass --crs (e.g. EPSG:4548) and "
        "--origin E,N,H (where the model's origin lies), and --rotation DEG if its x axis "
        "is not grid east")


def _override(conversion, crs, origin, rotation, geoid_offset_m) -> Georef:
    """The user's --crs/--origin/--rotation, stated as such."""
    name = crs or (conversion.crs if conversion else None)
    if name is None:
        raise GeoreferenceMissingError(
            "--origin needs --crs: name the CRS the origin is in (e.g. EPSG:4548)")
    placed = (float(origin[0]), float(origin[1]), float(origin[2]))
    frame = _frame(_check_crs(name, "--crs"), placed, float(rotation or 0.0), 1.0, geoid_offset_m)
    georef = Georef(frame, SOURCE_OVERRIDE)
    if conversion is not None:
        georef.warnings.append(
            f"the file's own {conversion.source} "
            f"(E {conversion.eastings:.3f}, N {conversion.northings:.3f}) "
            f"was replaced by the --origin given")
    _height_note(georef, "--origin height", geoid_offset_m)
    return georef


def _from_conversion(conv: _MapConversion, crs, site, geoid_offset_m) -> Georef:
    """Frame from a map conversion; warn when the site lat/lon lies elsewhere."""
    name = crs or conv.crs
    if name is None:
        raise GeoreferenceMissingError(
            f"the model's {conv.source} names no projected CRS; pass --crs (e.g. EPSG:4548)")
    if crs and conv.crs and crs != conv.crs:
        warning = f"--crs {crs} replaces the file's CRS {conv.crs}"
    else:
        warning = None
    resolved = _check_crs(name, "the file's projected CRS" if not crs else "--crs")
    frame = _frame(resolved, (conv.eastings, conv.northings, conv.height),
                   conv.rotation_deg, conv.scale, geoid_offset_m)
    georef = Georef(frame, conv.source, warnings=[warning] if warning else [])
    _height_note(georef, "OrthogonalHeight", geoid_offset_m)
    if site is not None:
        _check_contradiction(georef, site)
    return georef


def _from_site(model, site: dict, geoid_offset_m: float) -> Georef:
    """Transverse Mercator centred on the site's lat/lon, turned by TrueNorth."""
    lat, lon = site["lat"], site["lon"]
    rotation = _true_north_rotation(model)
    crs = (f"+proj=tmerc +lat_0={lat:.10f} +lon_0={lon:.10f} +k=1 +x_0=0 +y_0=0 "
           f"+datum=WGS84 +units=m +no_defs +type=crs")
    # world = origin + R(local); the site's placement origin must land on (0, 0, elev).
    sx, sy, sz = site["local_origin"]
    c, s = math.cos(math.radians(rotation)), math.sin(math.radians(rotation))
    origin = (-(c * sx - s * sy), -(s * sx + c * sy), site["elevation"] - sz)
    frame = _frame(crs, origin, rotation, 1.0, geoid_offset_m)
    georef = Georef(frame, SOURCE_SITE)
    georef.notes.append(
        f"placed by IfcSite RefLatitude {lat:.7f}, RefLongitude {lon:.7f}, RefElevation "
        f"{site['elevation']:.3f} m, TrueNorth rotation {rotation:.3f} deg; this is an "
        f"approximate georeference: a surveyed IfcMapConversion is better")
    _height_note(georef, "RefElevation", geoid_offset_m)
    return georef


def _frame(crs: str, origin, rotation, scale, geoid_offset_m) -> GeoFrame:
    """Heights are orthometric; without a configured N they are used as ellipsoidal
    (and :func:`_height_note` warns), because tiles refuses orthometric without N."""
    vertical = "orthometric" if geoid_offset_m else "ellipsoidal"
    return GeoFrame(crs=crs, origin=tuple(float(v) for v in origin), rotation_deg=float(rotation),
                    scale=float(scale), vertical=vertical, geoid_offset_m=float(geoid_offset_m))


def _height_note(georef: Georef, what: str, geoid_offset_m: float) -> None:
    """State the vertical datum assumption, as every import must."""
    if geoid_offset_m:
        georef.notes.append(
            f"{what} is an orthometric height; geoid offset N = {geoid_offset_m} m applied")
    else:
        georef.notes.append(f"{what} is an orthometric height")
        georef.warnings.append(
            f"{what} is an orthometric height but no geoid offset is configured "
            f"(--geoid-offset N or config tiles.geoid_offset_m); heights are used as "
            f"ellipsoidal and may be off by tens of metres")


def _check_crs(name: str, what: str) -> str:
    """Return a CRS string pyproj understands, or raise naming what to fix."""
    text = str(name).strip()
    if text.isdigit():
        text = f"EPSG:{text}"
    try:
        pyproj.CRS.from_user_input(text)
    except pyproj.exceptions.CRSError as exc:
        raise GeoreferenceMissingError(
            f"{what} {name!r} is not a CRS pyproj knows; pass --crs with an EPSG code "
            f"(e.g. EPSG:4548)") from exc
    return text


def _check_contradiction(georef: Georef, site: dict) -> None:
    """Warn when IfcSite lat/lon is more than CONTRADICTION_M from the map conversion."""
    frame = georef.frame
    sx, sy, _ = site["local_origin"]
    c, s = math.cos(math.radians(frame.rotation_deg)), math.sin(math.radians(frame.rotation_deg))
    e = frame.origin[0] + frame.scale * (c * sx - s * sy)
    n = frame.origin[1] + frame.scale * (s * sx + c * sy)
    try:
        horizontal = pyproj.CRS.from_user_input(frame.crs)
        if horizontal.is_compound:
            horizontal = horizontal.sub_crs_list[0]
        to_ll = pyproj.Transformer.from_crs(horizontal, "EPSG:4326", always_xy=True)
        lon, lat = to_ll.transform(e, n)
        _, _, dist = pyproj.Geod(ellps="WGS84").inv(lon, lat, site["lon"], site["lat"])
    except Exception as exc:  # a CRS without an inverse: say so rather than guess
        georef.warnings.append(f"could not compare IfcSite lat/lon with the map conversion: {exc}")
        return
    if dist > CONTRADICTION_M:
        georef.warnings.append(
            f"IfcSite RefLatitude/RefLongitude ({site['lat']:.6f}, {site['lon']:.6f}) lie "
            f"{dist / 1000:.1f} km from the {georef.source} ({lat:.6f}, {lon:.6f}); "
            f"the map conversion was used. Fix the site's lat/lon in the authoring tool")


def _read_map_conversion(model: ifcopenshell.file) -> _MapConversion | None:
    """IfcMapConversion (IFC4+) or the IFC2X3 ePSet convention, or None."""
    if model.schema != "IFC2X3":
        for op in model.by_type("IfcMapConversion"):
            target = op.TargetCRS
            crs = getattr(target, "Name", None) if target is not None else None
            map_unit = _unit_scale(getattr(target, "MapUnit", None)) if target is not None else None
            return _conversion(model, crs, op.Eastings, op.Northings, op.OrthogonalHeight,
                               op.XAxisAbscissa, op.XAxisOrdinate, op.Scale, map_unit,
                               SOURCE_MAP_CONVERSION)
    for holder in model.by_type("IfcSite") + model.by_type("IfcProject"):
        conv = ifcopenshell.util.element.get_pset(holder, "ePSet_MapConversion")
        if conv and conv.get("Eastings") is not None and conv.get("Northings") is not None:
            crs_pset = ifcopenshell.util.element.get_pset(holder, "ePSet_ProjectedCRS") or {}
            return _conversion(model, crs_pset.get("Name"), conv.get("Eastings"),
                               conv.get("Northings"),
                               conv.get("OrthogonalHeight"), conv.get("XAxisAbscissa"),
                               conv.get("XAxisOrdinate"), conv.get("Scale"), None, SOURCE_EPSET)
    return None


def _conversion(model, crs, e, n, h, xaa, xao, scale, map_unit_m, source) -> _MapConversion:
    """Normalise a map conversion to the CRS's units: rotation in degrees, scale in CRS
    units per local metre.

    Eastings/Northings/Height are in MapUnit, or (when absent) taken to be in the CRS's
    own unit, which is what exporters mean in practice. IFC4 says Scale includes the
    project-unit -> map-unit conversion, IFC4X3 says it does not; exporters follow
    one or the other, so we take the reading whose real scale is nearer 1 (a model is
    never drawn at 1:1000 of its site).
    """
    project_unit_m = ifcopenshell.util.unit.calculate_unit_scale(model)
    crs_unit_m = _crs_unit_m(crs)
    map_unit_m = map_unit_m or crs_unit_m
    scale = float(scale) if scale else 1.0
    literal, implied = scale / project_unit_m, scale / map_unit_m  # map units per metre
    chosen = min((literal, implied), key=lambda s: abs(math.log(s * map_unit_m)))
    k = map_unit_m / crs_unit_m  # map units -> CRS units
    xaa, xao = float(xaa or 0.0), float(xao or 0.0)
    if xaa == 0.0 and xao == 0.0:
        xaa = 1.0
    rotation = math.degrees(math.atan2(xao, xaa))
    return _MapConversion(crs=crs, eastings=float(e) * k, northings=float(n) * k,
                          height=float(h or 0.0) * k, rotation_deg=rotation, scale=chosen * k,
                          source=source)


def _crs_unit_m(crs) -> float:
    """Metres per unit of the CRS's first axis (1.0 when unknown or unreadable)."""
    if not crs:
        return 1.0
    try:
        text = f"EPSG:{crs}" if str(crs).strip().isdigit() else str(crs)
        axes = pyproj.CRS.from_user_input(text).axis_info
        return float(axes[0].unit_conversion_factor) if axes else 1.0
    except (pyproj.exceptions.CRSError, AttributeError, IndexError, TypeError):
        return 1.0


def _unit_scale(unit) -> float | None:
    """Metres per map unit for an IfcNamedUnit (SI with prefix, or conversion based), or None."""
    if unit is None:
        return None
    try:
        return _named_unit_m(unit)
    except (AttributeError, TypeError, ValueError):
        return None


def _named_unit_m(unit) -> float | None:
    """Metres per unit for an IfcSIUnit (with prefix) or IfcConversionBasedUnit."""
    if unit.is_a("IfcSIUnit"):
        return ifcopenshell.util.unit.get_prefix_multiplier(unit.Prefix) if unit.Prefix else 1.0
    if unit.is_a("IfcConversionBasedUnit"):
        return float(unit.ConversionFactor.ValueComponent.wrappedValue)
    return None


def _site_reference(model: ifcopenshell.file) -> dict | None:
    """The first IfcSite's lat/lon/elevation and its placement origin (metres), or None."""
    for site in model.by_type("IfcSite"):
        if site.RefLatitude is None or site.RefLongitude is None:
            continue
        lat, lon = _dms(site.RefLatitude), _dms(site.RefLongitude)
        if lat == 0.0 and lon == 0.0:
            continue  # an exporter's default, not a location
        unit_m = ifcopenshell.util.unit.calculate_unit_scale(model)
        local = (0.0, 0.0, 0.0)
        if site.ObjectPlacement is not None:
            matrix = ifcopenshell.util.placement.get_local_placement(site.ObjectPlacement)
            local = tuple(float(v) * unit_m for v in matrix[:3, 3])
        elevation = float(site.RefElevation or 0.0) * unit_m
        return {"lat": lat, "lon": lon, "elevation": elevation, "local_origin": local}
    return None


def _dms(value) -> float:
    """IfcCompoundPlaneAngleMeasure (deg, min, sec[, millionths]) -> decimal degrees."""
    parts = list(value) + [0, 0, 0, 0]
    d, m, s, us = (float(p) for p in parts[:4])
    return d + m / 60.0 + s / 3600.0 + us / 3.6e9


def _true_north_rotation(model: ifcopenshell.file) -> float:
    """Degrees turning the model's axes so TrueNorth points to grid north (CCW positive)."""
    for ctx in model.by_type("IfcGeometricRepresentationContext", include_subtypes=False):
        north = getattr(ctx, "TrueNorth", None)
        if north is not None:
            x, y = (list(north.DirectionRatios) + [0.0, 0.0])[:2]
            if x or y:
                return 90.0 - math.degrees(math.atan2(y, x))
    return 0.0
