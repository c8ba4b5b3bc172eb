"""BIM import end to end: IFC -> published tileset + element index + catalog, over HTTP."""
from __future__ import annotations


import ifcopenshell
import ifcopenshell.util.element
import pytest

from bim_import import BimError
from bim_import.sample import write_sample_ifc
from server.app import create_app
from server.bim_imports import element_index_path, import_bim_file
from tiles.glb.builder import read_glb
from tiles.glb.metadata import decode_property_table
from tiles.validate import validate_glb

ADMIN = {"Authorization": "Bearer admin-secret"}


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("CIMTWIN_ADMIN_TOKEN", "admin-secret")
    return create_app({"data": {"dir": str(tmp_path / "data")}})


@pytest.fixture
def services(app):
    return app.extensions["cimtwin"]


def _same(glb_value, value) -> bool:
    """A glb value equals the IFC value; sparse booleans are stored as "true"/"false"
    (EXT_structural_metadata BOOLEAN has no noData), see docs/bim.md."""
    if isinstance(value, bool):
        return glb_value is value or glb_value == ("true" if value else "false")
    if isinstance(value, float):
        return glb_value == pytest.approx(value)
    return glb_value == value


def _glb_rows(services, tileset_id):
    """Every property-table row of every glb, keyed by the original property names."""
    rows, paths = [], []
    for name in services.store.list(tileset_id):
        if not name.endswith(".glb"):
            continue
        data = services.store.get(tileset_id, name)
        paths.append(data)
        gltf, binary = read_glb(data)
        props = gltf["extensions"]["EXT_structural_metadata"]["schema"]["classes"]
        names = {pid: p.get("name", pid) for cls in props.values()
                 for pid, p in cls["properties"].items()}
        for row in decode_property_table(gltf, binary):
            rows.append({names[k]: v for k, v in row.items() if v is not None})
    return rows, paths


def test_sample_import_publishes_tiles_index_and_catalog(services, tmp_path):
    ifc = write_sample_ifc(tmp_path / "s.ifc", broken_element=True)
    broken = ifcopenshell.open(str(ifc)).by_type("IfcBuildingElementProxy")[0].GlobalId
    summary = import_bim_file(services, ifc, name="示例 Sample", classification="public")
    assert summary["georef_source"] == "IfcMapConversion"
    assert summary["skipped"] == [broken]
    assert summary["elements"] == summary["products"] - 1 == 20
    entry = services.catalog.get(summary["id"])
    assert entry["kind"] == "bim" and entry["classification"] == "public"
    w, s, e, n = entry["bounds"]
    assert 117.0 < w < e < 117.3 and 36.5 < s < n < 36.8  # Jinan, EPSG:4548
    assert element_index_path(services, summary["id"]).is_file()
    rows, glbs = _glb_rows(services, summary["id"])
    assert glbs and all(r.ok for r in validate_glb(glbs)), [r.summary() for r in validate_glb(glbs)]
    assert len({r["GlobalId"] for r in rows}) == summary["elements"]
    walls = [r for r in rows if r["IfcClass"] == "IfcWall"]
    assert walls and all(_same(r["Pset_WallCommon.IsExternal"], True) for r in walls)
    assert all(_same(r["Qto_WallBaseQuantities.Height"], 3.0) for r in walls)


def test_routes_answer_the_viewer(app, services, tmp_path):
    tid = import_bim_file(services, write_sample_ifc(tmp_path / "s.ifc"),
                          classification="public")["id"]
    client = app.test_client()
    classes = client.get(f"/api/bim/{tid}/classes").get_json()["classes"]
    assert {c["class"]: c["elements"] for c in classes}["IfcWall"] == 8
    storeys = client.get(f"/api/bim/{tid}/storeys").get_json()["storeys"]
    assert [(s["name"], s["elevation"]) for s in storeys] == [("1F", 0.0), ("2F", 3.0)]
    tree = client.get(f"/api/bim/{tid}/tree").get_json()["storeys"]
    counts = [(s["name"], s["elements"]) for s in storeys]
    assert [(s["name"], s["elements"]) for s in tree] == counts
    assert {c["class"]: c["elements"] for c in tree[0]["classes"]}["IfcWall"] == 4
    found = client.get(f"/api/bim/{tid}/elements", query_string={
        "class": "IfcWall", "storey": "2F",
        "property": "Pset_WallCommon.LoadBearing=true"}).get_json()
    assert found["total"] == 2 and all(e["Storey"] == "2F" for e in found["elements"])
    gid = found["elements"][0]["GlobalId"]
    one = client.get(f"/api/bim/{tid}/elements/{gid}")
    assert one.status_code == 200 and one.get_json()["Pset_WallCommon.FireRating"] == "REI 90"
    assert client.get(f"/api/bim/{tid}/elements/nope").status_code == 404
    bad = client.get(f"/api/bim/{tid}/elements", query_string={"property": "noequals"})
    assert bad.status_code == 400 and "Pset_WallCommon.IsExternal=true" in bad.get_json()["detail"]
    assert client.get(f"/api/bim/{tid}").get_json()["georef_source"] == "IfcMapConversion"


def test_restricted_models_are_404_to_anonymous_users(app, services, tmp_path):
    tid = import_bim_file(services, write_sample_ifc(tmp_path / "s.ifc"),
                          classification="restricted")["id"]
    client = app.test_client()
    for url in (f"/api/bim/{tid}/classes", f"/api/bim/{tid}/storeys", f"/api/bim/{tid}/elements"):
        assert client.get(url).status_code == 404
        assert client.get(url, headers=ADMIN).status_code == 200


def test_bad_input_publishes_nothing(services, tmp_path):
    not_ifc = tmp_path / "x.ifc"
    not_ifc.write_text("hello", encoding="utf-8")
    with pytest.raises(BimError):
        import_bim_file(services, not_ifc)
    with pytest.raises(BimError, match="--crs"):
        import_bim_file(services, write_sample_ifc(tmp_path / "nogeo.ifc", crs=None))
    assert services.catalog.list() == []
    bim_dir = services.data_dir / "bim"
    assert not bim_dir.exists() or not any(bim_dir.iterdir())
    assert not any((services.data_dir / "tiles").glob("*/tileset.json"))


def test_override_flags_as_the_cli_passes_them(services, tmp_path):
    summary = import_bim_file(services, write_sample_ifc(tmp_path / "nogeo.ifc", crs=None),
                              crs="EPSG:4548", origin="510800,4057300,40", rotation=15.0)
    assert summary["georef_source"] == "override"
    assert summary["georef"]["frame"]["rotation_deg"] == 15.0


def _validated_features(services, summary: dict, path):
    """The IFC model and the glb feature rows by GlobalId, after checking every glb with
    gltf-validator and that features = products with geometry - skipped."""
    rows, glbs = _glb_rows(services, summary["id"])
    reports = validate_glb(glbs)
    assert all(r.ok for r in reports), [r.summary() for r in reports if not r.ok]
    by_gid = {r["GlobalId"]: r for r in rows}
    assert len(by_gid) == summary["elements"] == summary["products"] - len(summary["skipped"])
    return ifcopenshell.open(str(path)), by_gid


def test_fzk_haus_properties_round_trip_through_glb_metadata(services, shared_data):
    path = shared_data("ifc", "AC20-FZK-Haus.ifc")
    summary = import_bim_file(services, path, classification="public")
    assert summary["georef_source"].startswith("IfcSite")
    model, by_gid = _validated_features(services, summary, path)
    for wall in model.by_type("IfcWall"):
        row = by_gid[wall.GlobalId]
        assert row["IfcClass"] == wall.is_a() and row["Name"] == wall.Name
        for pset, values in ifcopenshell.util.element.get_psets(wall).items():
            for prop, value in values.items():
                if prop != "id" and value not in (None, ""):
                    assert _same(row[f"{pset}.{prop}"], value), (pset, prop, value)


def test_truncated_reimport_keeps_the_published_model(services, tmp_path):
    """A truncated upload over an existing model: error, and the old model still serves."""
    good = write_sample_ifc(tmp_path / "s.ifc")
    first = import_bim_file(services, good, classification="public")
    index_before = element_index_path(services, first["id"]).read_bytes()
    tiles_before = sorted(services.store.list(first["id"]))
    truncated = tmp_path / "cut.ifc"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(BimError, match="truncated"):
        import_bim_file(services, truncated, tileset_id=first["id"])
    assert sorted(services.store.list(first["id"])) == tiles_before
    assert element_index_path(services, first["id"]).read_bytes() == index_before
    assert [e["id"] for e in services.catalog.list()] == [first["id"]]


def test_duplex_features_and_properties_round_trip_with_the_fallback_kernel(services, shared_data):
    """The Duplex needs both kernels: every product with geometry is a pickable feature."""
    path = shared_data("ifc", "Duplex_A_20110907_georeferenced.ifc")
    summary = import_bim_file(services, path, classification="public", validate_glb=True)
    model, by_gid = _validated_features(services, summary, path)
    cabinets = [p for p in model.by_type("IfcFurnishingElement")
                if (p.Name or "").startswith("M_Tall Cabinet")]
    assert cabinets and all(c.GlobalId in by_gid for c in cabinets)
    for cabinet in cabinets:
        assert by_gid[cabinet.GlobalId]["IfcClass"] == "IfcFurnishingElement"
        assert by_gid[cabinet.GlobalId]["Name"] == cabinet.Name


def test_element_units_come_from_the_files_unit_assignment(app, services, shared_data):
    """A millimetre Revit model: lengths in mm, angles in degrees, U-values as derived
    units, each as the file's IfcUnitAssignment (or the property's own unit) says."""
    path = shared_data("ifc", "Revit_example_IFC2X3.ifc")
    tid = import_bim_file(services, path, classification="public")["id"]
    model = ifcopenshell.open(str(path))
    length = next(u for u in model.by_type("IfcUnitAssignment")[0].Units
                  if getattr(u, "UnitType", None) == "LENGTHUNIT")
    assert (length.Prefix, length.Name) == ("MILLI", "METRE")
    client = app.test_client()
    wall = next(w for w in model.by_type("IfcWall")
                if "Pset_ElementShading" in ifcopenshell.util.element.get_psets(w))
    body = client.get(f"/api/bim/{tid}/elements/{wall.GlobalId}").get_json()
    assert body["units"]["Pset_ElementShading.Roughness"] == "mm", body["units"]
    assert body["units"]["Pset_WallCommon.ThermalTransmittance"] == "W/(m²·K)"
    assert set(body["units"]) <= set(body) and "Pset_WallCommon.IsExternal" not in body["units"]
    psets = ifcopenshell.util.element.get_psets
    slab = next(s for s in model.by_type("IfcSlab")
                if "PitchAngle" in psets(s).get("Pset_SlabCommon", {}))
    assert client.get(f"/api/bim/{tid}/elements/{slab.GlobalId}").get_json()["units"][
        "Pset_SlabCommon.PitchAngle"] == "°"
