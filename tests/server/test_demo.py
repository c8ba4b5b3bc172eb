"""The demo district: deterministic sources at real Lixia coordinates, a georeferenced IFC,
consistent project lifecycles, extrusion that faces outward, a build that fills the
catalog and layers (and is harmless twice), and a simulator whose readings the metrics
API accepts."""
from __future__ import annotations

import hashlib
import json
import re
import threading
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from pyproj import Transformer
from shapely.geometry import Polygon, shape

from server.demo import features, generate, simulator
from server.demo.extrude import Footprint, extrude_footprints
from tiles.model import GeoFrame

#: Small texture and a coarse terrain grid keep the tests fast; the layout is the same.
SMALL = {"texture_px": 256, "terrain_step_m": 50.0}
#: The Lixia CBD / Hanyu Jingu area the data must lie in (lon/lat degrees).
LIXIA = (117.11, 36.645, 117.145, 36.672)
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def demo_src(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo-src")
    generate.generate_demo(out, SMALL)
    return out


def _load(src: Path, name: str) -> list[dict]:
    return json.loads((src / f"{name}.geojson").read_text(encoding="utf-8"))["features"]


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_generator_writes_the_same_bytes_every_run(tmp_path, demo_src):
    generate.generate_demo(tmp_path / "again", SMALL)
    first, second = _digests(demo_src), _digests(tmp_path / "again")
    assert len(first) >= 14  # 4 layers, manifest, IFC, metadata.xml, 4 x (obj, mtl, png)
    assert first == second


def test_generator_output_does_not_depend_on_what_the_process_wrote_before(tmp_path, demo_src):
    """ifcopenshell fills SETs in an order that depends on earlier files in the process."""
    from bim_import.sample import write_sample_ifc
    generate.generate_demo(tmp_path / "before", SMALL)
    write_sample_ifc(tmp_path / "other.ifc")
    generate.generate_demo(tmp_path / "after", SMALL)
    assert _digests(tmp_path / "before") == _digests(tmp_path / "after")


def test_every_source_lies_in_the_lixia_cbd(demo_src):
    to_lonlat = Transformer.from_crs("EPSG:4548", "EPSG:4326", always_xy=True)
    points = []
    for name in ("buildings", "facilities", "projects", "sensors"):
        for feat in _load(demo_src, name):
            geom = shape(feat["geometry"])
            points += (list(geom.exterior.coords) if geom.geom_type == "Polygon"
                       else [geom.coords[0]])
    manifest = json.loads((demo_src / "manifest.json").read_text(encoding="utf-8"))
    ifc = manifest["ifc"]
    points.append((ifc["eastings"], ifc["northings"]))
    ox, oy, _ = manifest["origin"]
    obj = demo_src / manifest["terrain"]["objs"][-1]
    verts = np.array([[float(v) for v in line.split()[1:3]]
                      for line in obj.read_text().splitlines() if line.startswith("v ")])
    points += [(x + ox, y + oy) for x, y in (verts.min(0), verts.max(0))]
    lon, lat = to_lonlat.transform(*np.array(points).T)
    assert LIXIA[0] < lon.min() and lon.max() < LIXIA[2]
    assert LIXIA[1] < lat.min() and lat.max() < LIXIA[3]
    assert "<SRS>EPSG:4548</SRS>" in (demo_src / "terrain" / "metadata.xml").read_text()


def test_counts_and_building_properties(demo_src):
    blds = _load(demo_src, "buildings")
    assert 180 <= len(blds) <= 220
    assert 25 <= len(_load(demo_src, "facilities")) <= 35
    assert len(_load(demo_src, "projects")) == 10
    assert len(_load(demo_src, "sensors")) == 20
    ids = [b["properties"]["id"] for b in blds]
    assert len(set(ids)) == len(ids)
    for b in blds:
        p = b["properties"]
        assert CJK.search(p["name"]) and p["use"] in {"住宅", "办公", "商业", "教育", "医疗"}
        assert p["floors"] >= 1 and 2.8 * p["floors"] <= p["height_m"] <= 5.5 * p["floors"] + 2
        assert 1990 <= p["year"] <= 2025 and shape(b["geometry"]).is_valid


def test_buildings_keep_off_unfinished_project_sites(demo_src):
    sites = [shape(p["geometry"]) for p in _load(demo_src, "projects")
             if p["properties"]["stage"] != "completed"]
    for b in _load(demo_src, "buildings"):
        footprint = shape(b["geometry"])
        assert not any(footprint.intersects(site) for site in sites), b["properties"]["name"]


def test_project_stages_and_dates_agree(demo_src):
    keys = ("planned_date", "approved_date", "start_date", "completion_date")
    stages = set()
    for feat in _load(demo_src, "projects"):
        p = feat["properties"]
        stages.add(p["stage"])
        reached = features.STAGES.index(p["stage"])
        given = [p[k] for k in keys]
        assert all(given[: reached + 1]) and not any(given[reached + 1:]), p
        days = [date.fromisoformat(d) for d in given[: reached + 1]]
        assert days == sorted(days) and days[-1] <= features.AS_OF
        assert bool(p["expected_completion"]) == (p["stage"] == "under_construction")
        if p["expected_completion"]:
            assert date.fromisoformat(p["expected_completion"]) > features.AS_OF
        assert p["investment_wan"] > 0 and CJK.search(p["developer"])
    assert stages == set(features.STAGES)


def test_ifc_building_is_georeferenced_on_its_project_lot(demo_src):
    import ifcopenshell
    import ifcopenshell.util.element as element
    model = ifcopenshell.open(str(demo_src / "bim" / generate.IFC_NAME))
    assert model.schema == "IFC4"
    conversion = model.by_type("IfcMapConversion")[0]
    assert conversion.TargetCRS.Name == "EPSG:4548"
    lot = next(shape(p["geometry"]) for p in _load(demo_src, "projects")
               if p["properties"]["project_id"] == "P02")
    assert lot.contains(shape({"type": "Point",
                               "coordinates": [conversion.Eastings, conversion.Northings]}))
    assert 40 < conversion.OrthogonalHeight < 90
    assert len(model.by_type("IfcBuildingStorey")) >= 3 and model.by_type("IfcRoof")
    assert model.by_type("IfcDoor") and model.by_type("IfcSlab")
    external = {element.get_pset(w, "Pset_WallCommon", "IsExternal")
                for w in model.by_type("IfcWall")}
    assert external == {True, False}
    assert element.get_pset(model.by_type("IfcWall")[0], "Qto_WallBaseQuantities", "Length") > 0
    windows = model.by_type("IfcWindow")
    assert windows and all(w.FillsVoids for w in windows)
    shading = [s for s in model.by_type("IfcSurfaceStyleShading") if (s.Transparency or 0) > 0.3]
    assert shading, "windows need a transparent glass style"
    guids = [e.GlobalId for e in model.by_type("IfcRoot")]
    assert len(set(guids)) == len(guids)


def test_layers_importer_accepts_every_demo_layer(tmp_path, demo_src):
    from layers import open_layer_store
    from layers.importer import import_layer
    store = open_layer_store("gpkg://layers.gpkg", tmp_path)
    for name, kind in (("buildings", "buildings"), ("facilities", "facilities"),
                       ("projects", "projects"), ("sensors", "sensors")):
        info = import_layer(store, demo_src / f"{name}.geojson", layer_id=name, kind=kind,
                            classification="public")
        assert info.count == len(_load(demo_src, name))
        assert info.source_crs.endswith("4548")
    facilities = store.query("facilities", limit=100).features
    assert {f["properties"]["category"] for f in facilities} >= {"school", "hospital", "park",
                                                                 "police", "fire_station"}


def _l_footprint() -> Footprint:
    poly = Polygon([(0, 0), (30, 0), (30, 10), (10, 10), (10, 25), (0, 25)])
    return Footprint(poly, base=50.0, top=80.0, properties={"id": "B1", "use": "办公"})


def test_extrusion_faces_outward_with_a_flat_roof_on_top():
    fp = _l_footprint()
    skip = Footprint(fp.polygon, base=5.0, top=5.0, properties={"id": "flat", "use": "办公"})
    (batch,) = extrude_footprints([fp, skip], GeoFrame(crs="EPSG:4548"))
    tri = batch.positions[batch.indices]
    winding = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    area = np.linalg.norm(winding, axis=1) / 2
    winding /= np.linalg.norm(winding, axis=1, keepdims=True)
    assert np.allclose(winding, batch.normals[batch.indices[:, 0]], atol=1e-6)
    roof = winding[:, 2] > 0.99
    assert np.allclose(tri[roof][:, :, 2], 80.0)
    assert area[roof].sum() == pytest.approx(fp.polygon.area)
    walls = np.abs(winding[:, 2]) < 1e-9
    assert area[walls].sum() == pytest.approx(fp.polygon.length * 30.0)
    assert (roof | walls).all()
    assert set(batch.features) == {0} and (batch.feature_ids == 0).all()  # the flat one skipped
    south = walls & (tri[:, :, 1].max(axis=1) < 1e-9)  # the wall along y = 0 faces south
    assert south.any() and (winding[south][:, 1] < -0.99).all()


def test_readings_follow_the_day_and_spike_now_and_then():
    def median(metric: str, hour: int) -> float:
        start = datetime(2025, 6, 2, hour, 0, tzinfo=simulator.BEIJING)
        return float(np.median([simulator.reading("S-x", metric, start.replace(second=s))
                                for s in range(0, 60, 2)]))
    assert median("traffic_flow", 8) > 3 * median("traffic_flow", 3)
    when = datetime(2025, 6, 2, 1, 0, tzinfo=timezone.utc)
    assert simulator.reading("S-a", "pm25", when) == simulator.reading("S-a", "pm25", when)
    values = [simulator.reading("S-site", "dust", when.replace(minute=m, second=s))
              for m in range(60) for s in range(0, 60, 2)]
    assert max(values) > 400 and np.median(values) < 250


def test_simulator_rounds_pass_the_metrics_api_validation(tmp_path):
    from server.app import create_app
    services = create_app({"data": {"dir": str(tmp_path)}}).extensions["cimtwin"]
    simulator.register_demo_sensors(services)
    sensors = simulator.demo_sensors()
    got: list[list[dict]] = []

    def ingest(observations):
        got.append(observations)
        return len(services.metrics.parser.parse(
            {"observations": observations}, int(datetime.now(timezone.utc).timestamp() * 1000)))
    stored = simulator.run_simulator(ingest, sensors, threading.Event(), interval_s=0.01, rounds=2)
    per_round = sum(len(simulator.sensor_metrics(s)) for s in sensors)
    assert len(got) == 2 and stored == 2 * per_round
    assert {o["sensor_id"] for o in got[0]} == {s["sensor_id"] for s in sensors}


def test_build_demo_fills_catalog_and_layers_and_twice_is_harmless(tmp_path):
    from server.app import create_app
    from server.demo.build import BUILDINGS_ID, LAYERS, TERRAIN_ID, build_demo
    from tiles.validate import validate_glb
    app = create_app({"data": {"dir": str(tmp_path)}})
    services = app.extensions["cimtwin"]
    stages = []
    first = build_demo(services, progress=lambda e: stages.append(e["stage"]), params=SMALL)
    assert not first["skipped"] and stages[0] == "generate" and stages[-1] == "done"
    entries = {e["id"]: e for e in services.catalog.list()}
    bim_id = first["bim"]["id"]
    assert set(entries) == {TERRAIN_ID, BUILDINGS_ID, bim_id}
    assert entries[TERRAIN_ID]["kind"] == "reality" and entries[BUILDINGS_ID]["kind"] == "buildings"
    assert entries[bim_id]["kind"] == "bim" and entries[bim_id]["classification"] == "internal"
    features = entries[BUILDINGS_ID]["summary"]["features"]
    assert features == first["layers"]["demo-buildings"]["count"]
    w, s, e, n = entries[BUILDINGS_ID]["bounds"]
    assert LIXIA[0] < w < e < LIXIA[2] and LIXIA[1] < s < n < LIXIA[3]
    assert {i.id for i in services.layers.list_layers()} >= set(LAYERS)
    anonymous = {t["id"] for t in app.test_client().get("/api/tilesets").get_json()}
    assert anonymous == {TERRAIN_ID, BUILDINGS_ID}
    glbs = sorted(p for p in (tmp_path / "tiles").rglob("*.glb"))
    assert glbs and all(r.ok for r in validate_glb(glbs))

    again = build_demo(services, params=SMALL)
    assert again["skipped"] and again["bim"]["id"] == bim_id
    forced = build_demo(services, params=SMALL, force=True)
    assert not forced["skipped"] and forced["bim"]["id"] == bim_id
    assert {e["id"] for e in services.catalog.list()} == set(entries)


def test_in_process_simulator_feeds_the_metrics_runtime(tmp_path):
    from server.app import create_app
    services = create_app({"data": {"dir": str(tmp_path)}}).extensions["cimtwin"]
    thread, stop = simulator.start_simulator_thread(services, interval_s=0.05)
    try:
        deadline = datetime.now(timezone.utc).timestamp() + 20
        while not services.metrics.latest() and datetime.now(timezone.utc).timestamp() < deadline:
            stop.wait(0.05)
    finally:
        stop.set()
        thread.join(timeout=10)
    latest = services.metrics.latest()
    assert not thread.is_alive()
    assert {o["sensor_id"] for o in latest} <= {s["sensor_id"] for s in simulator.demo_sensors()}
    assert {o["metric"] for o in latest} & {"pm25", "traffic_flow", "power_kw", "noise_db"}
    services.close()
