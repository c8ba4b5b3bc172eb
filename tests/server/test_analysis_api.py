"""The planning checks over HTTP and as `cimtwin check project`: who may see what, limits
taken from the project a model belongs to, bad input, and the JSON report."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from server.app import create_app
from server.bim_imports import import_bim_file
from server.config import ConfigError
from tests.conftest import require_shared_data

ROOT = Path(__file__).resolve().parents[2]
ADMIN = {"Authorization": "Bearer admin-secret"}
#: The FZK-Haus is 7.32 m from its lowest point to its ridge (ifcopenshell, test_analysis).
FZK_HEIGHT_M = 7.318


def lot_around(bounds, margin=0.0005):
    w, s, e, n = bounds
    ring = [[w - margin, s - margin], [e + margin, s - margin], [e + margin, n + margin],
            [w - margin, n + margin], [w - margin, s - margin]]
    return {"type": "Polygon", "coordinates": [ring]}


def far_away(bounds):
    w, s, e, n = bounds
    return lot_around([w + 0.01, s + 0.01, e + 0.01, n + 0.01])


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """FZK-Haus (internal) and a public projects layer: P-LOW (a 5 m limit, on the
    house's lot), P-LINK (linked by bim_tileset, far away, generous limits), P-NONE."""
    from layers.importer import import_layer
    data = tmp_path_factory.mktemp("analysis-api")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CIMTWIN_ADMIN_TOKEN", "admin-secret")
        app = create_app({"data": {"dir": str(data)}})
        services = app.extensions["cimtwin"]
        summary = import_bim_file(services, require_shared_data("ifc", "AC20-FZK-Haus.ifc"),
                                  tileset_id="fzk")
        features = [
            {"type": "Feature", "geometry": lot_around(summary["bounds"]),
             "properties": {"project_id": "P-LOW", "name": "低限高项目", "stage": "approved",
                            "max_height_m": 5.0, "far": 0.2, "site_area_m2": 1000.0}},
            {"type": "Feature", "geometry": far_away(summary["bounds"]),
             "properties": {"project_id": "P-LINK", "name": "linked", "stage": "planned",
                            "max_height_m": 30.0, "far": 2.5, "site_area_m2": 800.0,
                            "bim_tileset": "fzk"}},
            {"type": "Feature", "geometry": far_away([b + 0.02 for b in summary["bounds"]]),
             "properties": {"project_id": "P-NONE", "name": "no model", "stage": "planned",
                            "max_height_m": 30.0}}]
        path = data / "projects.geojson"
        path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
        import_layer(services.layers, path, layer_id="projects", kind="projects",
                     classification="public")
        app.config["data_dir"] = data
        yield app


@pytest.fixture
def client(app):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CIMTWIN_ADMIN_TOKEN", "admin-secret")
        yield app.test_client()


def test_hidden_model_answers_404_like_a_missing_one(client):
    hidden = client.get("/api/analysis/height-check?tileset=fzk&limit_m=10")
    missing = client.get("/api/analysis/height-check?tileset=nope&limit_m=10", headers=ADMIN)
    assert hidden.status_code == 404 and missing.status_code == 404
    assert client.get("/api/analysis/floor-area?tileset=fzk").status_code == 404


def test_height_check_with_a_given_limit(client):
    body = client.get("/api/analysis/height-check?tileset=fzk&limit_m=10", headers=ADMIN).json
    assert body["pass"] is True and body["exceeding"] == []
    assert body["limit_m"] == 10.0 and body["base"] == "geometry"
    assert body["height_m"] == pytest.approx(FZK_HEIGHT_M, abs=0.01)
    low = client.get("/api/analysis/height-check?tileset=fzk&limit_m=7", headers=ADMIN).json
    assert low["pass"] is False
    assert low["exceeding"] and all(e["top_m"] > 7 for e in low["exceeding"])
    assert set(low["exceeding"][0]) >= {"GlobalId", "top_m"}


def test_height_check_takes_the_linked_projects_limit(client):
    """No limit_m: the project linked by bim_tileset (P-LINK, 30 m) wins over the lot."""
    body = client.get("/api/analysis/height-check?tileset=fzk", headers=ADMIN).json
    assert body["project_id"] == "P-LINK" and body["limit_m"] == 30.0 and body["pass"] is True


def test_ground_given_is_the_base(client):
    top = client.get("/api/analysis/height-check?tileset=fzk&limit_m=10", headers=ADMIN).json
    ground = top["base_m"] - 3.0
    body = client.get(f"/api/analysis/height-check?tileset=fzk&limit_m=10&ground_m={ground}",
                      headers=ADMIN).json
    assert body["base"] == "given"
    assert body["height_m"] == pytest.approx(FZK_HEIGHT_M + 3.0, abs=0.01)
    assert body["pass"] is False


@pytest.mark.parametrize("query, word", [
    ("limit_m=ten", "limit_m"), ("limit_m=-3", "limit_m"), ("", "tileset"),
    ("limit_m=5&ground_m=low", "ground_m")])
def test_bad_parameters_say_what_to_pass(client, query, word):
    tileset = "tileset=fzk&" if word != "tileset" else ""
    response = client.get(f"/api/analysis/height-check?{tileset}{query}", headers=ADMIN)
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert word in response.json["detail"]


def test_floor_area_against_far_times_site_area(client):
    body = client.get("/api/analysis/floor-area?tileset=fzk&far=0.2&site_area_m2=1000",
                      headers=ADMIN).json
    assert body["method"].startswith("IfcSlab quantities")
    assert body["permitted_m2"] == pytest.approx(200.0)
    assert body["floor_area_m2"] > 200 and body["pass"] is False
    linked = client.get("/api/analysis/floor-area?tileset=fzk", headers=ADMIN).json
    assert linked["far"] == 2.5 and linked["site_area_m2"] == 800.0 and linked["pass"] is True


def run_cli(data_dir, *args):
    env = dict(os.environ, CIMTWIN_DATA_DIR=str(data_dir), PYTHONPATH=str(ROOT))
    env.pop("CIMTWIN_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "server.cli", "check", "project", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
                          check=False)


def test_cli_report_for_a_project_over_its_height_limit(app, tmp_path):
    out = tmp_path / "P-LOW.json"
    done = run_cli(app.config["data_dir"], "P-LOW", "--out", str(out))
    assert done.returncode == 3, done.stderr
    report = json.loads(done.stdout)
    assert json.loads(out.read_text()) == report
    assert report["project_id"] == "P-LOW" and report["tileset"] == "fzk"
    assert report["pass"] is False
    height = report["checks"]["height"]
    assert height["limit_m"] == 5.0 and height["pass"] is False and height["exceeding"]
    assert report["checks"]["floor_area"]["pass"] is False  # ~236 m2 > 0.2 x 1000 m2


def test_cli_report_for_a_project_within_its_limits(app):
    done = run_cli(app.config["data_dir"], "P-LINK")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["pass"] is True and report["tileset"] == "fzk"
    assert report["checks"]["height"]["height_m"] == pytest.approx(FZK_HEIGHT_M, abs=0.01)


def test_cli_project_without_model_and_unknown_project(app):
    none = run_cli(app.config["data_dir"], "P-NONE")
    assert none.returncode == 0
    assert json.loads(none.stdout)["pass"] is None
    unknown = run_cli(app.config["data_dir"], "P-MISSING")
    assert unknown.returncode == 1
    assert "P-MISSING" in unknown.stderr


def test_config_names_the_gauss_kruger_zone(client, tmp_path):
    zone = client.get("/api/config").json["gauss_kruger"]
    assert zone["central_meridian"] == 117.0 and zone["false_easting"] == 500000.0
    with pytest.raises(ConfigError, match="gauss_kruger_crs"):
        create_app({"data": {"dir": str(tmp_path)},
                    "analysis": {"gauss_kruger_crs": "EPSG:4326"}})
