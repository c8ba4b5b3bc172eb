"""City models -> MeshBatch: CityJSON 1.1/2.0 and CityGML 1.0/2.0 buildings (LoD1/LoD2).

Each Building and BuildingPart with geometry is one feature carrying its attributes,
its LoD and the count of each semantic surface type; surfaces are batched by type
(RoofSurface, WallSurface, GroundSurface, other), each type its own material. The CRS
comes from CityJSON ``metadata.referenceSystem`` or a CityGML ``srsName`` (EPSG URIs,
URNs, compound CRSs, AdV URNs such as DE_DHDN_3GK4*DE_DHN92_NH) or from ``crs``; a
geographic CRS (lat/lon axis order, e.g. EPSG:6697) is projected to the UTM zone of the
data first. A file without a CRS is refused with a message naming ``--crs``. XML is
parsed without DTDs, entities or network access.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from tiles.errors import GeoreferenceError, InputError
from tiles.model import GeoFrame, Material, MeshBatch

SURFACE_COLOURS = {"RoofSurface": (0.80, 0.36, 0.30, 1.0), "WallSurface": (0.90, 0.88, 0.84, 1.0),
                   "GroundSurface": (0.45, 0.45, 0.45, 1.0), "other": (0.75, 0.75, 0.78, 1.0)}
#: AdV (German surveying) CRS names -> EPSG codes, as used in Bavarian and other LoD2 data.
ADV_CRS = {"DE_DHDN_3GK2": 31466, "DE_DHDN_3GK3": 31467, "DE_DHDN_3GK4": 31468,
           "DE_DHDN_3GK5": 31469, "ETRS89_UTM32": 25832, "ETRS89_UTM33": 25833,
           "DE_DHN92_NH": 5783, "DE_DHHN92_NH": 5783, "DE_DHHN2016_NH": 7837}
_BUILDINGS = ("Building", "BuildingPart")
_CHUNK = 400  # objects per batch: memory stays bounded on big files


@dataclass
class CityObject:
    """One Building/BuildingPart: attributes and [(semantic type, [ring (k, 3)...])]."""

    id: str
    type: str
    attributes: dict[str, Any]
    lod: str
    surfaces: list[tuple[str, list[np.ndarray]]]
    parent: str | None = None


@dataclass
class CityModel:
    """A read city model: where it is, what is in it, and its meshes (a generator)."""

    path: Path
    crs: str
    frame: GeoFrame
    objects: list[CityObject]
    stats: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def batches(self) -> Iterator[MeshBatch]:
        for start in range(0, len(self.objects), _CHUNK):
            yield from _chunk_batches(self.objects[start:start + _CHUNK], start, self.frame)


def read_citymodel(path: str | Path, crs: str | None = None, *, vertical: str = "ellipsoidal",
                   geoid_offset_m: float = 0.0) -> CityModel:
    """Read a .json/.city.json (CityJSON) or .gml/.xml (CityGML) file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such file: {path}")
    if path.suffix.lower() in (".json", ".cityjson", ".jsonl"):
        declared, objects = _read_cityjson(path)
    elif path.suffix.lower() in (".gml", ".xml", ".citygml"):
        declared, objects = _read_citygml(path)
    else:
        raise InputError(f"{path.name}: not a city model; give CityJSON (.json) or CityGML (.gml)")
    if not objects:
        raise InputError(f"{path.name} has no Building or BuildingPart with LoD1/LoD2 geometry")
    warnings = []
    if crs and declared and crs != declared:
        warnings.append(f"{path.name} declares {declared}; --crs {crs} was used instead")
    name = crs or declared
    if not name:
        raise GeoreferenceError(f"{path.name} declares no CRS (no referenceSystem/srsName); pass "
                                "--crs, e.g. --crs EPSG:4548 (CGCS2000 / GK CM 117E) or "
                                "--crs EPSG:4548+5773 with heights above the geoid")
    target, ortho = _place(objects, name, path.name)
    if ortho and vertical == "ellipsoidal" and not geoid_offset_m:
        warnings.append(f"{path.name}: heights are above a vertical datum ({name}); without a "
                        "geoid offset ([tiles] geoid_offset_m) they are placed as ellipsoidal")
    origin = _origin(objects)
    for obj in objects:
        obj.surfaces = [(kind, [r - origin for r in rings]) for kind, rings in obj.surfaces]
    mode = "orthometric" if (ortho and geoid_offset_m) else vertical
    frame = GeoFrame(crs=target, origin=tuple(float(v) for v in origin), vertical=mode,
                     geoid_offset_m=geoid_offset_m)
    return CityModel(path, name, frame, objects, _stats(objects), warnings)


# -- CRS --------------------------------------------------------------------------------
def crs_from_name(text: str) -> Any:
    """A pyproj CRS from an EPSG URI/URN, a compound URN, an AdV URN or 'EPSG:a+b'."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError
    value = text.strip()
    if value.lower().startswith("urn:adv:crs:"):
        codes = [ADV_CRS.get(part) for part in value[12:].split("*")]
        if None in codes:
            raise GeoreferenceError(f"srsName {text!r} is an AdV CRS cimtwin does not know; "
                                    "pass --crs with its EPSG code")
        value = "EPSG:" + "+".join(map(str, codes))
    compound = re.match(r"https?://www\.opengis\.net/def/crs-compound\?1=(.+)&2=(.+)$", value)
    if compound:
        value = "EPSG:{}+{}".format(*(s.rsplit("/", 1)[1] for s in compound.groups()))
    try:
        return CRS.from_user_input(value)
    except CRSError:
        raise GeoreferenceError(f"CRS {text!r} is not one pyproj knows; pass --crs, "
                                "e.g. --crs EPSG:4548") from None


def _place(objects: list[CityObject], name: str, source: str) -> tuple[str, bool]:
    """Put every ring in x=east, y=north metres; returns (frame CRS, heights orthometric)."""
    from pyproj import Transformer
    crs = crs_from_name(name)
    horizontal = crs.sub_crs_list[0] if crs.is_compound else crs
    ortho = crs.is_compound  # a vertical datum: heights above the geoid, not the ellipsoid
    north_first = horizontal.axis_info[0].direction == "north"
    if horizontal.is_geographic:
        pts = np.concatenate([r for o in objects for _, rings in o.surfaces for r in rings])
        lat, lon = (pts[:, 0], pts[:, 1]) if north_first else (pts[:, 1], pts[:, 0])
        if np.abs(lat).max() > 90 or np.abs(lon).max() > 180:
            raise GeoreferenceError(f"{source}: coordinates are not degrees of {name}; "
                                    "pass the right CRS with --crs")
        zone = int((float(np.median(lon)) + 180) // 6) + 1
        target = f"EPSG:{(32600 if np.median(lat) >= 0 else 32700) + zone}"
        to_metric = Transformer.from_crs(horizontal, target, always_xy=True)
        order = (1, 0) if north_first else (0, 1)
        for obj in objects:
            obj.surfaces = [(k, [_reproject(r, to_metric, order) for r in rings])
                            for k, rings in obj.surfaces]
        return target, ortho
    return horizontal.to_string(), ortho


def _reproject(ring: np.ndarray, transformer: Any, order: tuple[int, int]) -> np.ndarray:
    x, y = transformer.transform(ring[:, order[0]], ring[:, order[1]])
    return np.column_stack([x, y, ring[:, 2]])


def _origin(objects: list[CityObject]) -> np.ndarray:
    lo = np.full(3, np.inf)
    hi = np.full(3, -np.inf)
    for obj in objects:
        for _, rings in obj.surfaces:
            for ring in rings:
                lo, hi = np.minimum(lo, ring.min(0)), np.maximum(hi, ring.max(0))
    return np.round(np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2]]), 2)


# -- CityJSON ---------------------------------------------------------------------------
def _read_cityjson(path: Path) -> tuple[str | None, list[CityObject]]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path.name} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("type") != "CityJSON":
        raise InputError(f"{path.name} is not CityJSON (no \"type\": \"CityJSON\")")
    version = str(doc.get("version", ""))
    if version[:3] not in ("1.1", "2.0", "1.0"):
        raise InputError(f"{path.name}: CityJSON version {version!r} is not read; use 1.1 or 2.0")
    vertices = np.asarray(doc.get("vertices") or [], dtype=np.float64).reshape(-1, 3)
    transform = doc.get("transform")
    if transform:
        vertices = vertices * np.asarray(transform["scale"]) + np.asarray(transform["translate"])
    objects = []
    for oid, obj in (doc.get("CityObjects") or {}).items():
        if obj.get("type") not in _BUILDINGS or not obj.get("geometry"):
            continue
        geometries = [g for g in obj["geometry"] if str(g.get("lod", "0"))[:1] in "12"]
        if not geometries:
            continue
        best = max(geometries, key=lambda g: float(str(g.get("lod"))))
        surfaces = _cityjson_surfaces(best, vertices, path.name, oid)
        parents = obj.get("parents") or []
        objects.append(CityObject(oid, obj["type"], dict(obj.get("attributes") or {}),
                                  str(best.get("lod")), surfaces, parents[0] if parents else None))
    metadata = doc.get("metadata") or {}
    return metadata.get("referenceSystem") or None, objects


def _cityjson_surfaces(geometry: dict, vertices: np.ndarray, source: str, oid: str
                       ) -> list[tuple[str, list[np.ndarray]]]:
    """[(semantic type, rings)] of one geometry, whatever its nesting (surface/solid/multi)."""
    depth = {"MultiSurface": 0, "CompositeSurface": 0, "Solid": 1, "MultiSolid": 2,
             "CompositeSolid": 2}.get(geometry.get("type"))
    if depth is None:
        return []
    semantics = geometry.get("semantics") or {}
    kinds = [s.get("type", "other") for s in semantics.get("surfaces", [])]
    out: list[tuple[str, list[np.ndarray]]] = []

    def walk(bounds: Any, values: Any, level: int) -> None:
        for i, item in enumerate(bounds):
            value = values[i] if isinstance(values, list) and i < len(values) else None
            if level:
                walk(item, value, level - 1)
                continue
            try:
                rings = [vertices[np.asarray(r, dtype=np.int64)] for r in item if len(r) >= 3]
            except IndexError:
                raise InputError(f"{source}: object {oid} refers to a vertex that does not "
                                 "exist; the file is damaged") from None
            kind = kinds[value] if isinstance(value, int) and value < len(kinds) else "other"
            if rings:
                out.append((kind, rings))
    walk(geometry.get("boundaries") or [], semantics.get("values"), depth)
    return out


# -- CityGML ----------------------------------------------------------------------------
def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _read_citygml(path: Path) -> tuple[str | None, list[CityObject]]:
    from lxml import etree
    srs: str | None = None
    objects: list[CityObject] = []
    try:
        events = etree.iterparse(str(path), events=("start", "end"), resolve_entities=False,
                                 no_network=True, load_dtd=False, huge_tree=True)
        for event, elem in events:
            if event == "start":
                srs = srs or elem.get("srsName")
                continue
            if _local(elem.tag) == "Building":
                objects.extend(_gml_building(elem, None))
                elem.clear()
    except etree.XMLSyntaxError as exc:
        line = getattr(exc, "lineno", None) or exc.position[0]
        raise InputError(f"{path.name} is not well-formed XML: line {line}: {exc.msg}") from None
    return srs, objects


def _gml_building(elem: Any, parent: str | None) -> list[CityObject]:
    """The Building (or part) and its BuildingParts, each with its own geometry."""
    gid = elem.get("{http://www.opengis.net/gml}id") or f"building-{id(elem)}"
    parts = [p for c in elem if _local(c.tag) == "consistsOfBuildingPart"
             for p in c if _local(p.tag) == "BuildingPart"]
    own = [c for c in elem if _local(c.tag) != "consistsOfBuildingPart"]
    surfaces, lod = _gml_surfaces(own)
    out = []
    if surfaces:
        out.append(CityObject(gid, _local(elem.tag), _gml_attributes(own), lod, surfaces, parent))
    for part in parts:
        out.extend(_gml_building(part, gid))
    return out


def _gml_attributes(children: list[Any]) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for child in children:
        name = _local(child.tag)
        if name.endswith("Attribute") and child.get("name"):
            value = next((v.text for v in child if _local(v.tag) == "value"), None)
            attrs[child.get("name")] = _scalar(value, name)
        elif len(child) == 0 and child.text and child.text.strip():
            attrs[name] = _scalar(child.text, name)
    return attrs


_NUMBERS = {"intAttribute": int, "doubleAttribute": float, "measureAttribute": float,
            "measuredHeight": float, "storeysAboveGround": int, "storeysBelowGround": int,
            "yearOfConstruction": int}


def _scalar(text: str | None, kind: str) -> Any:
    """An attribute value: numbers for numeric attribute kinds, text otherwise (codes stay text)."""
    if text is None:
        return None
    convert = _NUMBERS.get(kind)
    try:
        return convert(text.strip()) if convert else text.strip()
    except ValueError:
        return text.strip()


def _gml_surfaces(children: list[Any]) -> tuple[list[tuple[str, list[np.ndarray]]], str]:
    """Semantic surfaces of the highest LoD present (boundedBy first, else lodN geometry)."""
    best: dict[str, list[tuple[str, list[np.ndarray]]]] = {}
    for child in children:
        name = _local(child.tag)
        if name == "boundedBy":
            for surface in child:
                for geom in surface:
                    lod = re.match(r"lod(\d)", _local(geom.tag))
                    if lod and lod.group(1) in "12":
                        best.setdefault(lod.group(1), []).extend(
                            (_local(surface.tag), rings) for rings in _polygons(geom))
        else:
            lod = re.match(r"lod(\d)(Solid|MultiSurface)", name)
            if lod and lod.group(1) in "12" and lod.group(1) not in best:
                best.setdefault(lod.group(1) + "g", []).extend(
                    ("other", rings) for rings in _polygons(child))
    for key in ("2", "2g", "1", "1g"):
        if best.get(key):
            return best[key], key[0]
    return [], ""


def _polygons(elem: Any) -> Iterator[list[np.ndarray]]:
    """Rings (exterior first) of every gml:Polygon under ``elem`` (xlinks are skipped:
    they point at polygons of boundedBy, which are read there)."""
    for poly in elem.iter("{*}Polygon"):
        rings = []
        for side in poly:
            for ring in side.iter("{*}LinearRing"):
                coords = _coords(ring)
                if coords is not None and len(coords) >= 3:
                    rings.append(coords)
        if rings:
            yield rings


def _coords(ring: Any) -> np.ndarray | None:
    pos_list = ring.find("{*}posList")
    if pos_list is not None and pos_list.text:
        dim = int(pos_list.get("srsDimension") or 3)
        values = np.array(pos_list.text.split(), dtype=np.float64)
        return values.reshape(-1, dim)[:, :3] if dim >= 3 else None
    points = [p.text.split() for p in ring.findall("{*}pos") if p.text]
    if points:
        return np.array(points, dtype=np.float64)[:, :3]
    text = ring.findtext("{*}coordinates")
    if text:
        return np.array([c.split(",") for c in text.split()], dtype=np.float64)[:, :3]
    return None


# -- meshes -----------------------------------------------------------------------------
def _triangulate(rings: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(positions, triangles, normal) of one planar polygon with holes (earcut in 2D)."""
    import mapbox_earcut
    rings = [r[:-1] if len(r) > 3 and (r[0] == r[-1]).all() else r for r in rings]
    ring = rings[0] - rings[0][0]
    nxt = np.concatenate([ring[1:], ring[:1]])
    (x, y, z), (xn, yn, zn) = ring.T, nxt.T
    normal = np.array([(y * zn - z * yn).sum(), (z * xn - x * zn).sum(),
                       (x * yn - y * xn).sum()])  # Newell's method
    length = float(np.sqrt(normal @ normal))
    if length < 1e-12:
        return None
    normal /= length
    drop = int(np.argmax(np.abs(normal)))
    keep = [i for i in range(3) if i != drop]
    verts = np.concatenate(rings) if len(rings) > 1 else rings[0]
    flat = verts[:, keep]
    ends = np.cumsum([len(r) for r in rings]).astype(np.uint32)
    tris = np.asarray(mapbox_earcut.triangulate_float64(flat, ends),
                      dtype=np.int64).reshape(-1, 3)
    if not len(tris):
        return None
    a, b, c = flat[tris[:, 0]], flat[tris[:, 1]], flat[tris[:, 2]]
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    # counter-clockwise in the kept axes faces +drop axis, except for (x, z), which faces -y
    want = np.sign(normal[drop]) * (-1 if drop == 1 else 1)
    tris = np.where((area * want < 0)[:, None], tris[:, [0, 2, 1]], tris)
    return verts, tris, normal


def _chunk_batches(objects: list[CityObject], first_id: int, frame: GeoFrame
                   ) -> Iterator[MeshBatch]:
    groups: dict[str, dict[str, list]] = {}
    features: dict[str, dict[int, dict]] = {}
    for offset, obj in enumerate(objects):
        fid = first_id + offset
        props = feature_properties(obj)
        for kind, rings in obj.surfaces:
            group = kind if kind in SURFACE_COLOURS else "other"
            mesh = _triangulate(rings)
            if mesh is None:
                continue
            g = groups.setdefault(group, {"pos": [], "tri": [], "nrm": [], "ids": [], "n": 0})
            verts, tris, normal = mesh
            g["pos"].append(verts)
            g["tri"].append(tris + g["n"])
            g["nrm"].append(np.broadcast_to(normal, (len(verts), 3)))
            g["ids"].append(np.full(len(verts), fid, dtype=np.uint32))
            g["n"] += len(verts)
            features.setdefault(group, {})[fid] = props
    for group, g in sorted(groups.items()):
        material = Material(name=f"citymodel-{group}", base_color=SURFACE_COLOURS[group],
                            roughness=0.9, double_sided=True)
        yield MeshBatch(positions=np.concatenate(g["pos"]),
                        indices=np.concatenate(g["tri"]).astype(np.uint32),
                        frame=frame, material=material,
                        feature_ids=np.concatenate(g["ids"]), features=features[group],
                        normals=np.concatenate(g["nrm"]).astype(np.float32))


def feature_properties(obj: CityObject) -> dict[str, Any]:
    """What a click on the object shows: id, type, parent, LoD, surfaces, attributes."""
    counts = Counter(kind for kind, _ in obj.surfaces)
    props: dict[str, Any] = {"id": obj.id, "type": obj.type, "parent": obj.parent or "",
                             "lod": obj.lod,
                             "surfaces": " ".join(f"{k}:{n}" for k, n in sorted(counts.items()))}
    for key, value in obj.attributes.items():
        props[key] = value if isinstance(value, (str, int, float, bool)) or value is None \
            else json.dumps(value, ensure_ascii=False)
    return props


def _stats(objects: list[CityObject]) -> dict[str, Any]:
    surfaces = Counter(kind for o in objects for kind, _ in o.surfaces)
    return {"objects": len(objects), "types": dict(Counter(o.type for o in objects)),
            "lods": dict(Counter(o.lod for o in objects)), "surfaces": dict(surfaces)}
