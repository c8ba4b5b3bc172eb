"""The import registry: one entry per kind drives the CLI, the upload jobs API and the demo."""
import io
import json
import zipfile

import pytest
from pyproj import Transformer

from server import imports
from server.app import create_app
from server.cli import build_parser, main
from server.demo.build import build_demo
from server.imports import COMMON, ImportKind, Inputs, Option, register, run_import
from server.config import load_config
from server.services import open_services

ADMIN = {"Authorization": "Bearer admin-secret"}


@pytest.fixture
def registry(monkeypatch):
    """A copy of the registry for this test (kinds added here vanish afterwards)."""
    monkeypatch.setattr(imports, "_KINDS", dict(imports._KINDS))
    return imports


def dummy_kind(calls: list) -> ImportKind:
    """A kind that records what it was called with and checks a placement in Jinan."""
    def run(services, source, *, progress, placement, **options):
        placement.lonlat_bounds("EPSG:4548", (117.0, 36.6, 117.1, 36.7))
        calls.append({"source": source.name, **options})
        return {"id": "dummy-1", "name": options["name"] or source.stem}
    colour = Option("colour", choices=("red", "blue"), default="red", help="a dummy choice")
    return ImportKind("dummy", Inputs(suffixes=(".dum",)), (*COMMON, colour), run,
                      help="a dummy kind", title="imported dummy")


def test_a_registered_kind_is_a_cli_command_with_its_options(registry, tmp_path, monkeypatch,
                                                             capsys):
    calls = []
    register(dummy_kind(calls))
    monkeypatch.setenv("CIMTWIN_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "a.dum").write_text("x")
    assert main(["import", "dummy", str(tmp_path / "a.dum"), "--colour", "blue",
                 "--geoid-offset", "-2.5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == "dummy-1"
    assert calls == [{"source": "a.dum", "colour": "blue", "geoid_offset_m": -2.5,
                      "name": None, "tileset_id": None, "classification": "internal",
                      "compression": None}]
    with pytest.raises(SystemExit):  # a choice outside the declared ones is a usage error
        build_parser().parse_args(["import", "dummy", "a.dum", "--colour", "green"])


def test_a_registered_kind_is_an_upload_job(registry, tmp_path, monkeypatch):
    calls = []
    register(dummy_kind(calls))
    monkeypatch.setenv("CIMTWIN_ADMIN_TOKEN", "admin-secret")
    app = create_app({"data": {"dir": str(tmp_path / "data")}})
    client = app.test_client()
    response = client.post("/api/imports/dummy", headers=ADMIN,
                           data={"file": (io.BytesIO(b"x"), "b.dum"), "colour": "blue",
                                 "force": "true", "name": "B"},
                           content_type="multipart/form-data")
    assert response.status_code == 202
    job = app.extensions["cimtwin.jobs"].wait(response.get_json()["id"])
    assert job["state"] == "done", job
    assert calls[0]["colour"] == "blue" and calls[0]["name"] == "B"
    refused = client.post("/api/imports/dummy", headers=ADMIN,
                          data={"file": (io.BytesIO(b"x"), "b.txt")},
                          content_type="multipart/form-data")
    assert refused.status_code == 400 and ".dum" in refused.get_json()["detail"]
    listed = {k["name"]: k for k in client.get("/api/imports", headers=ADMIN).get_json()}
    colour = next(o for o in listed["dummy"]["options"] if o["name"] == "colour")
    assert listed["dummy"]["accepts"] == [".dum"] and colour["choices"] == ["red", "blue"]
    assert listed["photo"]["accepts"] == [".zip"] and listed["photo"]["folder"] is True
    bad = client.post("/api/imports/dummy", headers=ADMIN,
                      data={"file": (io.BytesIO(b"x"), "b.dum"), "colour": "green"},
                      content_type="multipart/form-data")
    assert bad.status_code == 400 and "--colour" in bad.get_json()["detail"]


def test_the_demo_build_imports_through_the_registry(registry, tmp_path):
    """Kinds registered in place of photo, bim and layer are the ones the demo runs."""
    calls = []

    def spy(name):
        def run(services, source, *, progress, placement, **options):
            placement.checked = True
            calls.append((name, source.name, options.get("classification")))
            return {"id": options.get("tileset_id") or options.get("layer_id"), "count": 1}
        return run
    for name in ("photo", "bim", "layer"):
        real = imports.get_kind(name)
        register(ImportKind(name, real.inputs, real.options, spy(name)), replace=True)
    services = open_services(load_config({"data": {"dir": str(tmp_path / "data")}}))
    try:
        result = build_demo(services, params={"texture_px": 256, "terrain_tiles": 1})
    finally:
        services.close()
    kinds_run = sorted({c[0] for c in calls})
    assert kinds_run == ["bim", "layer", "photo"]
    assert [c for c in calls if c[0] == "photo"] == [("photo", "terrain", "public")]
    assert len([c for c in calls if c[0] == "layer"]) == 4
    assert result["bim"]["id"] == "demo-bim-p02"


def test_a_kind_that_skips_the_placement_check_is_refused(registry, tmp_path):
    def careless(services, source, *, progress, placement, **options):
        return {"id": "x"}
    register(ImportKind("careless", Inputs(suffixes=(".x",)), COMMON, careless))
    services = open_services(load_config({"data": {"dir": str(tmp_path / "data")}}))
    with pytest.raises(RuntimeError, match="placement"):
        run_import(services, "careless", tmp_path / "a.x")


def test_every_kind_has_the_common_options():
    for kind in imports.kinds():
        names = {o.name for o in kind.options}
        assert {"name", "id", "classification", "force"} <= names, kind.name
        if kind.name != "layer":
            assert {"compression", "geoid_offset"} <= names, kind.name


def test_a_contextcapture_production_can_be_uploaded_as_a_zip(tmp_path, monkeypatch,
                                                              shared_data):
    production = shared_data("photogrammetry", "cc_obj_production5")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        for path in production.rglob("*"):
            if path.is_file():
                zf.write(path, "production5/" + str(path.relative_to(production)))
    monkeypatch.setenv("CIMTWIN_ADMIN_TOKEN", "admin-secret")
    app = create_app({"data": {"dir": str(tmp_path / "data")}})
    response = app.test_client().post(
        "/api/imports/photo", headers=ADMIN, content_type="multipart/form-data",
        data={"file": (io.BytesIO(archive.getvalue()), "production5.zip"),
              "name": "照片 Photo", "classification": "public"})
    assert response.status_code == 202, response.get_json()
    job = app.extensions["cimtwin.jobs"].wait(response.get_json()["id"], timeout=600)
    assert job["state"] == "done", job["error"]
    entry = app.extensions["cimtwin"].catalog.get(job["result"]["id"])
    assert entry["kind"] == "reality" and entry["classification"] == "public"
    # Independently (as tests/server/test_cli.py): tile +016 lies 1600..1700 m north of
    # SRSOrigin in the production's Gauss-Kruger frame, CM 113.37, FN 90.
    to_lonlat = Transformer.from_crs(
        "+proj=tmerc +lat_0=0 +lon_0=113.37 +k=1 +x_0=500000 +y_0=90 +ellps=GRS80 +units=m",
        "EPSG:4490", always_xy=True)
    lon, lat = to_lonlat.transform(501027.524 + 50, 2488718.808 + 1650)
    w, s, e, n = entry["bounds"]
    assert w < lon < e and s < lat < n
    assert not list((tmp_path / "data" / "uploads").rglob("*.zip"))  # unpacked, not kept twice


def test_a_zip_with_an_escaping_path_is_refused(tmp_path, monkeypatch):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../../evil.txt", "x")
    monkeypatch.setenv("CIMTWIN_ADMIN_TOKEN", "admin-secret")
    app = create_app({"data": {"dir": str(tmp_path / "data")}})
    response = app.test_client().post(
        "/api/imports/photo", headers=ADMIN, content_type="multipart/form-data",
        data={"file": (io.BytesIO(archive.getvalue()), "p.zip")})
    assert response.status_code == 400 and "unsafe" in response.get_json()["detail"]
    assert not (tmp_path / "evil.txt").exists()
    assert not list((tmp_path / "data" / "uploads").rglob("*.txt"))
