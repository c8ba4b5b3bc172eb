"""Planning checks of a project's BIM model: height control (控高) and floor area (容积率).

Plain functions over the published tiles (``server.analysis_geometry``), the element
index (``bim_import.ElementIndex``) and the project's planning limits; the HTTP routes
(``server.analysis_api``) and ``cimtwin check project`` (``server.analysis_cli``) are thin
wrappers over :func:`height_check`, :func:`floor_area_check` and :func:`check_project`.
Heights are in the model's own vertical datum (ellipsoidal, or orthometric when its
frame says so), like the ``ground_m`` a user passes.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import numpy as np

from server.analysis_errors import AnalysisError, NotCheckable
from server.analysis_geometry import ElementGeometry, read_element_geometry

__all__ = [
    "AnalysisError",
    "NotCheckable",
    "check_project",
    "coverage_check",
    "find_project",
    "floor_area_check",
    "gauss_kruger_zone",
    "height_check",
    "index_records",
    "model_geometry",
    "project_limits",
    "storey_levels",
]

#: Property names a project may carry its planning limits under (first found wins).
LIMIT_KEYS = {
    "max_height_m": ("max_height_m", "height_limit_m", "max_height", "limit_height_m"),
    "far": ("far", "max_far", "floor_area_ratio", "plot_ratio"),
    "coverage": ("coverage", "max_coverage", "building_coverage"),
    "site_area_m2": ("site_area_m2", "site_area"),
    "ground_m": ("ground_m", "site_ground_m", "ground_elevation_m"),
    "bim_tileset": ("bim_tileset", "bim_tileset_id", "tileset_id", "bim"),
}
#: Slab types that are floors (a roof slab is not floor area).
FLOOR_SLAB_TYPES = {"FLOOR", "BASESLAB", None, "", "NOTDEFINED", "USERDEFINED"}
NOT_BUILDING_CLASSES = ("IfcSite", "IfcGeographicElement")
ENCLOSING_CLASSES = ("IfcWall", "IfcColumn", "IfcCurtainWall")
SPACE_AREA_KEYS = (".GrossFloorArea", ".NetFloorArea")
SLAB_AREA_KEYS = (".GrossArea", ".NetArea")


def model_geometry(services, tileset_id: str) -> ElementGeometry:
    """The BIM tileset's element geometry, in its frame's vertical datum."""
    entry = services.catalog.get(tileset_id)
    if entry is None or entry.get("kind") != "bim":
        raise NotCheckable(f"no BIM model '{tileset_id}' (see 'cimtwin tilesets list')")
    geometry = read_element_geometry(services.store, tileset_id)
    frame = entry.get("frame") or {}
    if frame.get("vertical") == "orthometric":  # ellipsoidal h = H + N
        geometry.height = geometry.height - float(frame.get("geoid_offset_m") or 0.0)
    return geometry


def height_check(geometry: ElementGeometry, limit_m: float, *, ground_m: float | None = None,
                 site_ground_m: float | None = None) -> dict[str, Any]:
    """The model's height above its base against ``limit_m``; which elements stick out.

    The base is ``ground_m`` when given ("given"), else the site's ground elevation when
    known ("site"), else the lowest point of the model's geometry ("geometry").
    ``top_m`` of an element is its highest point above that base.
    """
    limit_m = _positive(limit_m, "limit_m")
    if ground_m is not None:
        base, base_m = "given", float(ground_m)
    elif site_ground_m is not None:
        base, base_m = "site", float(site_ground_m)
    else:
        base, base_m = "geometry", float(geometry.height.min())
    tops = geometry.element_tops() - base_m
    top = float(np.nanmax(tops))
    order = np.argsort(-np.nan_to_num(tops, nan=-np.inf))
    exceeding = [{"GlobalId": geometry.elements[i].get("GlobalId"),
                  "top_m": round(float(tops[i]), 3),
                  **{k: geometry.elements[i].get(k) for k in ("IfcClass", "Name", "Storey")}}
                 for i in order if tops[i] > limit_m]
    return {"pass": top <= limit_m, "limit_m": limit_m, "height_m": round(top, 3),
            "base": base, "base_m": round(base_m, 3),
            "top_elevation_m": round(top + base_m, 3), "elements": len(geometry.elements),
            "exceeding": exceeding}


def _positive(value, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise AnalysisError(f"{name} must be a number of metres, got {value!r}") from None
    if not np.isfinite(number) or number <= 0:
        raise AnalysisError(f"{name} must be a positive number, got {value!r}")
    return number


def _quantity(props: dict, suffixes: Iterable[str]) -> float | None:
    """The first quantity whose key ends with one of ``suffixes`` (in that order)."""
    for suffix in suffixes:
        for key, value in props.items():
            if key.endswith(suffix) and isinstance(value, (int, float)) \
                    and not isinstance(value, bool) and value > 0:
                return float(value)
    return None


def _outline_area(geometry: ElementGeometry, members: list[int], upward_only: bool) -> float:
    """Area (m2) of the outline (holes filled) of the members' triangles seen from above."""
    from shapely import Polygon, union_all  # shapely comes with geopandas (layers)
    tris = geometry.triangles[np.isin(geometry.element[geometry.triangles[:, 0]], members)]
    if not len(tris):
        return 0.0
    xyz = geometry.enu[tris]
    normal_z = np.cross(xyz[:, 1] - xyz[:, 0], xyz[:, 2] - xyz[:, 0])[:, 2] / 2
    keep = normal_z > 1e-4 if upward_only else np.abs(normal_z) > 1e-4
    union = union_all([Polygon(t[:, :2]) for t in xyz[keep]])
    parts = getattr(union, "geoms", [union])
    return float(sum(Polygon(p.exterior).area for p in parts if not p.is_empty))


def _storey_members(geometry: ElementGeometry) -> dict[str, list[int]]:
    """Element indices per storey (elements outside any storey are not floor area)."""
    storeys: dict[str, list[int]] = {}
    for i, props in enumerate(geometry.elements):
        if props.get("Storey"):
            storeys.setdefault(str(props["Storey"]), []).append(i)
    return storeys


def _is_floor_slab(props: dict) -> bool:
    return props.get("IfcClass", "").startswith("IfcSlab") and \
        props.get("PredefinedType") in FLOOR_SLAB_TYPES


def _by_quantities(records: list[dict], wanted, suffixes) -> tuple[dict[str, float], int]:
    """Per-storey sums of a quantity over the wanted records; how many lacked it."""
    sums: dict[str, float] = {}
    missing = 0
    for props in filter(wanted, records):
        value = _quantity(props, suffixes)
        if value is None:
            missing += 1
            continue
        storey = str(props.get("Storey", ""))
        sums[storey] = sums.get(storey, 0.0) + value
    return sums, missing


def _by_outlines(geometry: ElementGeometry) -> dict[str, float]:
    """Per storey: the outline of its floor slabs (upward faces), else of its walls and
    columns; a storey with neither (foundations, roof) has no floor area."""
    areas = {}
    for storey, members in _storey_members(geometry).items():
        slabs = [i for i in members if _is_floor_slab(geometry.elements[i])]
        if slabs:
            areas[storey] = _outline_area(geometry, slabs, True)
            continue
        frame = [i for i in members if str(geometry.elements[i].get("IfcClass", ""))
                 .startswith(ENCLOSING_CLASSES)]
        if frame:
            areas[storey] = _outline_area(geometry, frame, False)
    return areas


def floor_area(geometry: ElementGeometry, records: list[dict]) -> dict[str, Any]:
    """Gross floor area estimate and the method used.

    IfcSpace floor-area quantities when every space has one; else IfcSlab (floor) area
    quantities; else storey outlines from the geometry. Quantities in mm2 (a millimetre
    model without an area unit of m2) are recognised against the slab outline and scaled.
    """
    notes = []
    spaces, missing = _by_quantities(records, lambda p: p.get("IfcClass") == "IfcSpace",
                                     SPACE_AREA_KEYS)
    if spaces and not missing:
        method, storeys = "IfcSpace quantities (GrossFloorArea, else NetFloorArea)", spaces
    else:
        storeys, missing = _by_quantities(records, _is_floor_slab, SLAB_AREA_KEYS)
        method = "IfcSlab quantities (GrossArea, else NetArea) of floor slabs"
        if missing:
            notes.append(f"{missing} floor slab(s) without an area quantity: outlines used")
            storeys = {}
        if storeys:
            outline = sum(_by_outlines(geometry).values())
            if outline > 0 and sum(storeys.values()) / outline > 1e4:
                storeys = {k: v / 1e6 for k, v in storeys.items()}
                notes.append("slab quantities are in mm2 (millimetre model): divided by 10^6")
        if not storeys:
            method = "storey outlines (floor slabs seen from above, else walls and " \
                     "columns, holes filled)"
            storeys = _by_outlines(geometry)
    total = sum(storeys.values())
    return {"floor_area_m2": round(total, 2), "method": method, "notes": notes,
            "storeys": [{"storey": k, "area_m2": round(v, 2)} for k, v in storeys.items()]}


def floor_area_check(geometry: ElementGeometry, records: list[dict], *, far: float | None,
                     site_area_m2: float | None) -> dict[str, Any]:
    """Floor area against the permitted floor-area ratio x site area (pass None if unknown)."""
    result = floor_area(geometry, records)
    result.update({"far": far, "site_area_m2": site_area_m2, "permitted_m2": None,
                   "pass": None, "far_m": None})
    if site_area_m2 is not None:
        site = _positive(site_area_m2, "site_area_m2")
        result["far_m"] = round(result["floor_area_m2"] / site, 3)
        if far is not None:
            permitted = _positive(far, "far") * site
            result["permitted_m2"] = round(permitted, 2)
            result["pass"] = result["floor_area_m2"] <= permitted
    return result


def coverage_check(geometry: ElementGeometry, *, coverage: float | None,
                   site_area_m2: float) -> dict[str, Any]:
    """Building coverage (建筑密度): the model's footprint (every element but the site's
    terrain, seen from above, holes filled) over the site area, against the limit (a
    fraction; above 1: percent)."""
    members = [i for i, e in enumerate(geometry.elements)
               if e.get("IfcClass") not in NOT_BUILDING_CLASSES]
    footprint = _outline_area(geometry, members, False)
    site = _positive(site_area_m2, "site_area_m2")
    limit = None if coverage is None else _positive(coverage, "coverage")
    limit = limit / 100 if limit is not None and limit > 1 else limit
    achieved = footprint / site
    return {"footprint_m2": round(footprint, 2), "site_area_m2": site,
            "coverage": round(achieved, 4), "limit": limit,
            "method": "outline of every element but the site seen from above, holes filled",
            "pass": None if limit is None else achieved <= limit}


def project_limits(properties: dict[str, Any]) -> dict[str, Any]:
    """A project's planning limits from its properties (also a nested ``planning_limits``)."""
    merged = dict(properties)
    nested = properties.get("planning_limits") or properties.get("limits")
    if isinstance(nested, str) and nested.strip().startswith("{"):
        nested = json.loads(nested)
    if isinstance(nested, dict):
        merged.update(nested)
    limits: dict[str, Any] = {}
    for name, keys in LIMIT_KEYS.items():
        value = next((merged[k] for k in keys if merged.get(k) not in (None, "")), None)
        if value is not None and name != "bim_tileset":
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise AnalysisError(f"project limit {name} is {value!r}, not a number") from None
        limits[name] = value
    return limits


def _project_features(layers, levels) -> Iterable[tuple[str, dict]]:
    """(layer id, GeoJSON feature) of every project the caller may see."""
    for info in layers.list_layers(levels):
        if info.kind != "projects":
            continue
        offset = 0
        while True:
            page = layers.query(info.id, limit=1000, offset=offset, levels=levels)
            for feature in page.features:
                yield info.id, feature
            offset += len(page.features)
            if not page.features or offset >= page.number_matched:
                break


def _contains(feature: dict, lon: float, lat: float) -> bool:
    from shapely.geometry import Point, shape
    geometry = feature.get("geometry")
    return geometry is not None and shape(geometry).contains(Point(lon, lat))


def find_project(services, *, project_id: str | None = None, tileset: dict | None = None,
                 levels=None) -> dict | None:
    """A project feature by its ``project_id`` (or feature id), or the one linked to the
    BIM ``tileset`` (its ``bim_tileset`` property, else the lot holding its centre)."""
    features = list(_project_features(services.layers, levels))
    if project_id is not None:
        return next((f for _, f in features
                     if str(f["properties"].get("project_id", f.get("id"))) == project_id
                     or str(f.get("id")) == project_id), None)
    linked = [f for _, f in features if project_limits(f["properties"])["bim_tileset"]
              == tileset["id"]]
    if linked or not tileset.get("bounds"):
        return linked[0] if linked else None
    w, s, e, n = tileset["bounds"]
    return next((f for _, f in features if _contains(f, (w + e) / 2, (s + n) / 2)), None)


def _bim_for_project(services, project: dict, levels) -> dict | None:
    """The BIM tileset a project links to, else the one whose centre lies on its lot."""
    wanted = project_limits(project["properties"])["bim_tileset"]
    bims = [e for e in services.catalog.list(levels) if e["kind"] == "bim"]
    if wanted:
        return next((e for e in bims if e["id"] == wanted), None)
    for entry in bims:
        w, s, e, n = entry.get("bounds") or (None,) * 4
        if w is not None and _contains(project, (w + e) / 2, (s + n) / 2):
            return entry
    return None


def check_project(services, project_id: str, *, levels=None) -> dict[str, Any]:
    """Every check of one project's BIM model against its planning limits (a JSON report)."""
    from bim_import import ElementIndex
    from server.bim_imports import element_index_path
    project = find_project(services, project_id=project_id, levels=levels)
    if project is None:
        raise NotCheckable(f"no project '{project_id}' in any projects layer")
    limits = project_limits(project["properties"])
    entry = _bim_for_project(services, project, levels)
    report = {"project_id": project_id, "name": project["properties"].get("name"),
              "limits": limits, "tileset": entry and entry["id"], "checks": {}}
    if entry is None:
        report["pass"] = None
        report["notes"] = ["no BIM model linked to or standing on this project's lot"]
        return report
    geometry = model_geometry(services, entry["id"])
    checks = report["checks"]
    if limits["max_height_m"] is not None:
        checks["height"] = height_check(geometry, limits["max_height_m"],
                                        site_ground_m=limits["ground_m"])
    records = index_records(ElementIndex(element_index_path(services, entry["id"])))
    checks["floor_area"] = floor_area_check(geometry, records, far=limits["far"],
                                            site_area_m2=limits["site_area_m2"])
    if limits["coverage"] is not None and limits["site_area_m2"] is not None:
        checks["coverage"] = coverage_check(geometry, coverage=limits["coverage"],
                                            site_area_m2=limits["site_area_m2"])
    verdicts = [c["pass"] for c in checks.values() if c.get("pass") is not None]
    report["pass"] = all(verdicts) if verdicts else None
    report["notes"] = [f"no {k} limit on the project: not checked"
                       for k in ("max_height_m", "far", "coverage") if limits[k] is None]
    return report


def index_records(index) -> list[dict]:
    """Every element record of a model's index (properties with quantities)."""
    records, offset = [], 0
    while True:
        page = index.query(limit=1000, offset=offset)
        records += page["elements"]
        offset += len(page["elements"])
        if not page["elements"] or offset >= page["total"]:
            return records


def gauss_kruger_zone(crs_text: str) -> dict[str, Any]:
    """Parameters of the configured Gauss-Kruger zone, for the viewer's own conversion:
    ``{"crs", "name", "central_meridian", "false_easting", "false_northing", "scale",
    "latitude_of_origin", "a", "inverse_flattening"}``. Not transverse Mercator: error."""
    import pyproj  # already loaded by the tiles engine; deferred for a cheap import here
    try:
        crs = pyproj.CRS.from_user_input(crs_text)
    except pyproj.exceptions.CRSError as exc:
        raise AnalysisError(f"[analysis] gauss_kruger_crs {crs_text!r} is not a CRS: {exc}") \
            from None
    operation = crs.coordinate_operation
    if operation is None or "transverse mercator" not in operation.method_name.lower():
        raise AnalysisError(f"[analysis] gauss_kruger_crs {crs_text!r} is not a transverse "
                            "Mercator (Gauss-Kruger) CRS; use e.g. EPSG:4548 (CM 117E)")
    params = {p.name: p.value for p in operation.params}
    return {"crs": crs_text, "name": crs.name,
            "central_meridian": params["Longitude of natural origin"],
            "latitude_of_origin": params.get("Latitude of natural origin", 0.0),
            "scale": params.get("Scale factor at natural origin", 1.0),
            "false_easting": params.get("False easting", 0.0),
            "false_northing": params.get("False northing", 0.0),
            "a": crs.ellipsoid.semi_major_metre,
            "inverse_flattening": crs.ellipsoid.inverse_flattening}


def storey_levels(geometry: ElementGeometry, storeys: list[dict]) -> list[dict[str, Any]]:
    """Each storey (index order, lowest first) with the lowest and highest point of its
    elements: ``bottom_local_m``/``top_local_m`` in the tileset's root frame (z up, the
    frame CesiumJS clipping planes use), ``bottom_m``/``top_m`` as elevations."""
    members = _storey_members(geometry)
    out = []
    for storey in storeys:
        indices = members.get(str(storey["name"]))
        if not indices:
            continue
        mask = np.isin(geometry.element, indices)
        z, h = geometry.enu[mask, 2], geometry.height[mask]
        out.append({"name": storey["name"], "elevation": storey.get("elevation"),
                    "bottom_local_m": round(float(z.min()), 3),
                    "top_local_m": round(float(z.max()), 3),
                    "bottom_m": round(float(h.min()), 3), "top_m": round(float(h.max()), 3)})
    return out
