"""Deterministic generator of the demo district's source data (same bytes every run).

``generate_demo(out_dir)`` writes what survey contractors and design institutes would
deliver for a 2 km x 2 km patch of the Lixia CBD, Jinan, all in CGCS2000 / 3-degree
Gauss-Kruger CM 117E (EPSG:4548, x = easting with 500 km false easting, y = northing):

    terrain/            ContextCapture-style OBJ production (metadata.xml + Data/Tile_*)
    buildings.geojson   ~200 footprints: id, name, use, floors, height_m, year, ground_m
    facilities.geojson  ~30 public facilities (points)
    projects.geojson    10 construction projects with lifecycle stage and dates
    sensors.geojson     20 sensors (air, traffic, energy, construction site)
    bim/cbd_operations_centre.ifc   one georeferenced IFC4 building (project P02)
    manifest.json       what was written, the parameters and their hash

GeoJSON files carry the (RFC 7946-obsolete but GDAL-read) ``crs`` member naming
EPSG:4548, because these are projected coordinates, like a real delivery.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from . import buildings, features, ifc_building, layout, terrain

#: Bump when the generator's output changes, so build_demo rebuilds.
GENERATOR_VERSION = "2"
DEFAULT_PARAMS = {"seed": 20210601, "texture_px": 2048, "terrain_tiles": 2,
                  "terrain_step_m": 10.0}
IFC_NAME = "cbd_operations_centre.ifc"
#: The IFC building's rotation off grid north (degrees, counter-clockwise).
IFC_ROTATION_DEG = 12.0


#: JPEG quality of the terrain textures (aerial photographs are delivered as JPEG).
TEXTURE_JPEG_QUALITY = 85


def _textures_as_jpeg(objs: list[Path]) -> None:
    """Re-encode each terrain tile's PNG texture as JPEG, as ContextCapture delivers
    photographs: 4 x 1.4 MB of PNG become ~4 x 0.2 MB, which is what the viewer's
    first request of the district costs. Deterministic (same Pillow, same bytes)."""
    for obj in objs:
        png = obj.with_suffix(".png")
        with Image.open(png) as image:
            image.convert("RGB").save(obj.with_suffix(".jpg"), "JPEG",
                                      quality=TEXTURE_JPEG_QUALITY, optimize=False)
        png.unlink()
        mtl = obj.with_suffix(".mtl")
        mtl.write_text(mtl.read_text(encoding="utf-8").replace(png.name, obj.stem + ".jpg"),
                       encoding="utf-8")


def params_hash(params: dict[str, Any] | None = None) -> str:
    """Hash of the generator version and parameters: equal hashes, equal sources."""
    full = {**DEFAULT_PARAMS, **(params or {}), "version": GENERATOR_VERSION}
    return hashlib.sha256(json.dumps(full, sort_keys=True).encode()).hexdigest()[:16]


def _coords(geom) -> Any:
    """GeoJSON coordinates of a local shapely geometry, moved to EPSG:4548 (cm precision)."""
    ox, oy = layout.ORIGIN[0], layout.ORIGIN[1]
    if geom.geom_type == "Point":
        return [round(geom.x + ox, 2), round(geom.y + oy, 2)]
    ring = [[round(x + ox, 2), round(y + oy, 2)] for x, y in geom.exterior.coords]
    return [ring]


def write_geojson(path: Path, items: list[dict], name: str) -> int:
    """Write a FeatureCollection in EPSG:4548 with stable formatting; returns the count."""
    feats = [{"type": "Feature", "properties": it["properties"],
              "geometry": {"type": it["geometry"].geom_type,
                           "coordinates": _coords(it["geometry"])}}
             for it in items]
    doc = {"type": "FeatureCollection", "name": name,
           "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4548"}},
           "features": feats}
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return len(feats)


def _ifc_placement(projects: list[dict]) -> ifc_building.Placement:
    """The IFC building stands at the centre of project P02's lot, on the ground."""
    lot = next(p for p in projects if p["properties"]["project_id"] == "P02")["geometry"]
    c = lot.centroid
    half = np.hypot(ifc_building.WIDTH, ifc_building.DEPTH) / 2
    xs = np.array([c.x - half, c.x + half, c.x, c.x])
    ys = np.array([c.y, c.y, c.y - half, c.y + half])
    ground = float(np.min(layout.ground_height(xs, ys)))
    return ifc_building.Placement(layout.ORIGIN[0] + c.x, layout.ORIGIN[1] + c.y,
                                  round(ground, 2), IFC_ROTATION_DEG)


def plan_district(params: dict[str, Any] | None = None):
    """The district's vector content (projects, buildings, facilities, sensors) and the
    seeded generator positioned after them; no files are written."""
    p = {**DEFAULT_PARAMS, **(params or {})}
    rng = np.random.default_rng(p["seed"])
    projects = features.make_projects(rng)
    keep_clear = [x["geometry"] for x in projects if x["properties"]["stage"] != "completed"]
    blds = buildings.make_buildings(rng, keep_clear)
    facilities = features.make_facilities(rng)
    sensors = features.make_sensors(rng, projects, blds)
    return {"projects": projects, "buildings": blds, "facilities": facilities,
            "sensors": sensors}, rng


def generate_demo(out_dir: Path | str, params: dict[str, Any] | None = None) -> dict:
    """Write every source file of the demo district into ``out_dir``; returns the manifest.

    One seeded generator drives all random choices in a fixed order, so the same
    parameters give the same bytes on every run and machine (same library versions).
    """
    p = {**DEFAULT_PARAMS, **(params or {})}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plan, rng = plan_district(p)
    projects, blds = plan["projects"], plan["buildings"]
    counts = {name: write_geojson(out / f"{name}.geojson", plan[name], name)
              for name in ("buildings", "facilities", "projects", "sensors")}
    image = terrain.paint_texture(p["texture_px"], blds, projects, rng)
    objs = terrain.write_terrain(out / "terrain", image, p["terrain_tiles"], p["terrain_step_m"])
    _textures_as_jpeg(objs)
    placement = _ifc_placement(projects)
    ifc = ifc_building.write_ifc(out / "bim" / IFC_NAME, placement, rng)
    manifest = {
        "generator_version": GENERATOR_VERSION, "params": p, "hash": params_hash(params),
        "crs": layout.CRS, "origin": list(layout.ORIGIN), "vertical": layout.VERTICAL,
        "counts": counts,
        "terrain": {"metadata": "terrain/metadata.xml",
                    "objs": [str(o.relative_to(out)) for o in objs]},
        "ifc": {"path": f"bim/{IFC_NAME}", "project_id": "P02", "storeys": ifc["storeys"],
                "eastings": placement.eastings, "northings": placement.northings,
                "orthogonal_height": placement.height, "rotation_deg": placement.rotation_deg},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n",
                                       encoding="utf-8")
    return manifest
