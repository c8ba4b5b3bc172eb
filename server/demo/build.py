"""build_demo: generate the demo district and import it through the normal import paths.

Everything a user could import goes through the import registry
(``server.imports.run_import``), exactly as ``cimtwin import`` does: kind ``layer`` for
the four GIS layers, ``photo`` for the terrain (a ContextCapture-style OBJ production)
and ``bim`` for the IFC building. The 3D buildings are extruded here
(:mod:`server.demo.extrude`) and built with ``build_tileset``, then registered with
``server.tileset_imports.register_tileset``.

Running it again is harmless: ids are fixed, and when the recorded source hash (generator
version + parameters) matches and every part is still there, nothing is rebuilt.
Classification: everything is public except the BIM model of project P02, which is
"internal" (a design institute's model before completion); anonymous users still see the
terrain, the buildings and all layers.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Callable

from shapely import affinity
from shapely.geometry import shape

from server.imports import run_import
from server.tileset_imports import build_options, register_tileset
from tiles.model import GeoFrame
from tiles.pipeline import build_tileset

from . import layout
from .extrude import Footprint, extrude_footprints
from .generate import DEFAULT_PARAMS, generate_demo, params_hash

Progress = Callable[[dict], None] | None

TERRAIN_ID = "demo-terrain"
BUILDINGS_ID = "demo-buildings"
#: The demo streams meshopt-compressed glb (Cesium decodes it in Cesium.js, no extra
#: request): 2.6-5.8x smaller geometry, so the initial view stays within its byte budget.
DEMO_COMPRESSION = "meshopt"
#: layer id -> (file, kind, Chinese/English title)
LAYERS = {
    "demo-buildings": ("buildings.geojson", "buildings", "建筑轮廓 Building footprints"),
    "demo-facilities": ("facilities.geojson", "facilities", "公共设施 Public facilities"),
    "demo-projects": ("projects.geojson", "projects", "建设项目 Construction projects"),
    "demo-sensors": ("sensors.geojson", "sensors", "监测设备 Sensors"),
}
STEPS = ("generate", "layers", "terrain", "buildings", "bim")


def demo_frame(services) -> GeoFrame:
    """The frame of every demo source: EPSG:4548 around ``layout.ORIGIN``.

    Heights are orthometric; with the configured geoid offset N they are converted, and
    without one (N = 0) they are used as ellipsoidal, the same rule the BIM importer
    applies to the IFC's OrthogonalHeight, so terrain, buildings and BIM stay level.
    """
    n = float(services.config["tiles"]["geoid_offset_m"] or 0.0)
    return GeoFrame(crs=layout.CRS, origin=layout.ORIGIN,
                    vertical="orthometric" if n else "ellipsoidal", geoid_offset_m=n)


def _state_path(services) -> Path:
    return services.data_dir / "demo" / "state.json"


def _read_state(services) -> dict:
    try:
        return json.loads(_state_path(services).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _is_complete(services, state: dict, digest: str) -> bool:
    """True when the recorded build used these sources and every part still exists."""
    if state.get("hash") != digest:
        return False
    ids = [TERRAIN_ID, BUILDINGS_ID, state.get("bim_id")]
    if any(not i or services.catalog.get(i) is None for i in ids):
        return False
    known = {info.id for info in services.layers.list_layers()}
    return set(LAYERS) <= known


def _generate(services, params: dict, digest: str) -> Path:
    """Generate the sources into data_dir/demo/source-<hash> (atomically renamed)."""
    root = services.data_dir / "demo"
    final = root / f"source-{digest}"
    if (final / "manifest.json").is_file():
        return final
    partial = root / f"source-{digest}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    generate_demo(partial, params)
    shutil.rmtree(final, ignore_errors=True)
    partial.rename(final)
    for old in root.glob("source-*"):  # sources of earlier generator versions
        if old != final:
            shutil.rmtree(old, ignore_errors=True)
    return final


def _import_layers(services, src: Path) -> dict:
    out = {}
    for layer_id, (filename, kind, title) in LAYERS.items():
        info = run_import(services, "layer", src / filename, id=layer_id, name=title,
                          kind=kind, classification="public",
                          description="演示数据 demo data (cimtwin generator)")
        out[layer_id] = {"kind": kind, "count": info.get("count")}
    return out


def _build_terrain(services, src: Path, progress: Progress) -> dict:
    """The terrain production through the registry's ``photo`` kind (heights as demo_frame)."""
    n = float(services.config["tiles"]["geoid_offset_m"] or 0.0)
    result = run_import(services, "photo", src / "terrain", progress=progress, id=TERRAIN_ID,
                        name="历下CBD实景三维（演示） Lixia CBD reality mesh",
                        classification="public", geoid_offset=n or None,
                        compression=DEMO_COMPRESSION)
    return {"id": TERRAIN_ID, "triangles": result.get("triangles")}


def footprints_from_geojson(path: Path) -> list:
    """Read buildings.geojson into extrusion footprints in the demo's local frame."""
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    out = []
    for feat in doc["features"]:
        p = feat["properties"]
        poly = affinity.translate(shape(feat["geometry"]), -layout.ORIGIN[0], -layout.ORIGIN[1])
        props = {k: p[k] for k in ("id", "name", "use", "floors", "height_m", "year")}
        ground = float(p["ground_m"])
        out.append(Footprint(poly, ground, ground + float(p["height_m"]), props))
    return out


def _build_buildings(services, src: Path, progress: Progress) -> dict:
    batches = extrude_footprints(footprints_from_geojson(src / "buildings.geojson"),
                                 demo_frame(services))
    options = build_options(services, name="历下CBD建筑白模（演示） Lixia CBD buildings",
                            kind="buildings", enum_properties=("use",),
                            compression=DEMO_COMPRESSION)
    summary = build_tileset(batches, services.store, BUILDINGS_ID, options, progress=progress)
    entry = register_tileset(services, summary, classification="public",
                             source=str(src / "buildings.geojson"))
    return {"id": BUILDINGS_ID, "features": entry["summary"].get("features")}


def _import_bim(services, src: Path, previous_id: str | None, progress: Progress) -> dict:
    """Import the IFC through the registry's ``bim`` kind; the id stays the same across runs."""
    manifest = json.loads((src / "manifest.json").read_text(encoding="utf-8"))
    result = run_import(services, "bim", src / manifest["ifc"]["path"], progress=progress,
                        id=previous_id or "demo-bim-p02", name="CBD智慧城市运营中心 BIM",
                        classification="internal")
    return {"id": result["id"], "elements": result.get("elements"),
            "warnings": result.get("warnings", [])}


def _step(progress: Progress, name: str) -> Progress:
    """Tell the caller which step runs; forward the engine's events tagged with it."""
    if progress is None:
        return None
    progress({"stage": name, "done": STEPS.index(name), "total": len(STEPS)})
    return lambda event: progress({**event, "stage": name, "done": STEPS.index(name),
                                   "total": len(STEPS)})


def build_demo(services, progress: Progress = None, params: dict | None = None,
               force: bool = False) -> dict:
    """Build the demo district into ``services``' data dir; returns what was built.

    The result names the tileset ids (terrain, buildings, bim), the layer ids and counts,
    the source hash and ``skipped`` (True when everything was already up to date).
    """
    params = {**DEFAULT_PARAMS, **(params or {})}
    digest = params_hash(params)
    state = _read_state(services)
    if not force and _is_complete(services, state, digest):
        return {**state["result"], "skipped": True}
    _step(progress, "generate")
    src = _generate(services, params, digest)
    _step(progress, "layers")
    layers = _import_layers(services, src)
    from server.demo.simulator import register_demo_sensors  # metrics: sensors of the layer
    register_demo_sensors(services)
    result = {"hash": digest, "source": str(src), "layers": layers,
              "terrain": _build_terrain(services, src, _step(progress, "terrain")),
              "buildings": _build_buildings(services, src, _step(progress, "buildings")),
              "bim": _import_bim(services, src, state.get("bim_id"), _step(progress, "bim"))}
    new_state = {"hash": digest, "bim_id": result["bim"]["id"], "result": result}
    path = _state_path(services)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(new_state, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(path)
    if progress is not None:
        progress({"stage": "done", "done": len(STEPS), "total": len(STEPS)})
    return {**result, "skipped": False}
