"""The `cimtwin` command as a user runs it: imports print a summary or one JSON object."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pyproj import Transformer

from server.cli import main
from tiles.store import write_tileset
from tiles.validate import validate_glb

OBJ_PRODUCTION = ("photogrammetry", "cc_obj_production5")


def run_cli(tmp_path, *args, env_extra=None):
    """Run the installed console script in a fresh process, data dir under tmp_path."""
    env = os.environ | {"CIMTWIN_DATA_DIR": str(tmp_path / "data")} | (env_extra or {})
    exe = Path(sys.executable).with_name("cimtwin")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=env,
                          timeout=600)


def test_mesh_import_without_crs_names_the_flags(tmp_path):
    obj = tmp_path / "m.obj"
    obj.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    result = run_cli(tmp_path, "import", "mesh", str(obj))
    assert result.returncode == 1
    assert "--crs" in result.stderr and "--origin" in result.stderr
    assert not (tmp_path / "data" / "tiles").exists() or \
        not any((tmp_path / "data" / "tiles").iterdir())


def test_import_real_contextcapture_obj_check_and_list(tmp_path, shared_data):
    """A real ContextCapture OBJ tile, its WKT CRS and SRSOrigin given on the command line."""
    production = shared_data(*OBJ_PRODUCTION)
    metadata = (production / "metadata.xml").read_text()
    wkt = re.search(r"<SRS>(.*?)</SRS>", metadata, re.S).group(1)
    origin = re.search(r"<SRSOrigin>(.*?)</SRSOrigin>", metadata).group(1)
    obj = production / "Data" / "Tile_+000_+016" / "Tile_+000_+016.obj"
    result = run_cli(tmp_path, "import", "mesh", str(obj), "--crs", wkt, "--origin", origin,
                     "--name", "Zhongshan tile 16", "--classification", "public", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["id"] == "zhongshan-tile-16"
    assert summary["triangles"] >= 23_000
    # The tile is 100 m x 100 m at local y 1600..1700 north of the origin; independently:
    # the parameters of the WKT (CM 113.37, FN 90) place it near 113.38 E, 22.51 N.
    to_lonlat = Transformer.from_crs(
        "+proj=tmerc +lat_0=0 +lon_0=113.37 +k=1 +x_0=500000 +y_0=90 +ellps=GRS80 +units=m",
        "EPSG:4490", always_xy=True)
    ox, oy = (float(v) for v in origin.split(",")[:2])
    lon0, lat0 = to_lonlat.transform(ox + 0, oy + 1600)
    lon1, lat1 = to_lonlat.transform(ox + 100, oy + 1700)
    w, s, e, n = summary["bounds"]
    tolerance = 2e-5  # about 2 m
    assert w == pytest.approx(lon0, abs=tolerance) and e == pytest.approx(lon1, abs=tolerance)
    assert s == pytest.approx(lat0, abs=tolerance) and n == pytest.approx(lat1, abs=tolerance)

    check = run_cli(tmp_path, "tilesets", "check", "zhongshan-tile-16")
    assert check.returncode == 0, check.stdout + check.stderr
    listed = run_cli(tmp_path, "tilesets", "list", "--json")
    assert [e["id"] for e in json.loads(listed.stdout)] == ["zhongshan-tile-16"]
    glbs = list((tmp_path / "data" / "tiles" / "zhongshan-tile-16").rglob("*.glb"))
    assert glbs and all(r.ok for r in validate_glb(glbs))


def test_check_fails_on_a_broken_tileset_and_unknown_id(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CIMTWIN_DATA_DIR", str(tmp_path / "data"))
    assert main(["tilesets", "check", "nope"]) == 2
    from server.config import load_config
    from server.services import open_services
    services = open_services(load_config())
    tileset = {"asset": {"version": "1.1"}, "geometricError": 5, "root": {
        "boundingVolume": {"box": [0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1]}, "geometricError": 5,
        "refine": "REPLACE", "children": [{
            "boundingVolume": {"box": [50, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1]},
            "geometricError": 0}]}}
    write_tileset(services.store, "broken", {"tileset.json": json.dumps(tileset).encode()})
    services.catalog.add({"id": "broken", "name": "broken", "kind": "mesh",
                          "classification": "public"})
    capsys.readouterr()
    assert main(["tilesets", "check", "broken", "--no-gltf"]) == 1
    assert "ERROR" in capsys.readouterr().out.upper()


def test_bad_config_is_reported_with_the_key(tmp_path):
    result = run_cli(tmp_path, "tilesets", "list", env_extra={"CIMTWIN_TILES__COMPRESSION": "zip"})
    assert result.returncode == 2
    assert "tiles.compression" in result.stderr and "draco" in result.stderr


def test_import_contextcapture_production_folder(tmp_path, shared_data):
    """`cimtwin import photo FOLDER`: CRS and origin from metadata.xml, a checked tileset."""
    production = shared_data(*OBJ_PRODUCTION)
    result = run_cli(tmp_path, "import", "photo", str(production), "--name", "中山 实景",
                     "--classification", "public", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["kind"] == "reality" and summary["triangles"] >= 23_000
    # Independently: tile +016 spans local y 1600..1700 north of SRSOrigin, CM 113.37, FN 90.
    to_lonlat = Transformer.from_crs(
        "+proj=tmerc +lat_0=0 +lon_0=113.37 +k=1 +x_0=500000 +y_0=90 +ellps=GRS80 +units=m",
        "EPSG:4490", always_xy=True)
    lon, lat = to_lonlat.transform(501027.524 + 50, 2488718.808 + 1650)
    w, s, e, n = summary["bounds"]
    assert w < lon < e and s < lat < n
    check = run_cli(tmp_path, "tilesets", "check", summary["id"])
    assert check.returncode == 0, check.stdout + check.stderr


def test_import_photo_without_metadata_says_what_is_missing(tmp_path):
    folder = tmp_path / "production"
    (folder / "Data").mkdir(parents=True)
    result = run_cli(tmp_path, "import", "photo", str(folder))
    assert result.returncode == 1 and "metadata.xml" in result.stderr


def test_output_into_a_closed_pipe_ends_quietly(tmp_path):
    """`cimtwin tilesets list --json | head`: a reader that leaves early is no error."""
    env = os.environ | {"CIMTWIN_DATA_DIR": str(tmp_path / "data")}
    exe = Path(sys.executable).with_name("cimtwin")
    proc = subprocess.Popen([str(exe), "tilesets", "list", "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    proc.stdout.close()  # the reader is gone before anything is written
    _, stderr = proc.communicate(timeout=120)
    assert b"Traceback" not in stderr and b"BrokenPipeError" not in stderr, stderr.decode()
