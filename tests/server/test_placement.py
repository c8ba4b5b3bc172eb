"""The registry's placement check, tried as a new user would: geometry outside the CRS's
area of use is refused naming --origin/--crs, and --force accepts it knowingly."""
import json

import pytest
import trimesh

from tests.server.test_cli import run_cli


@pytest.fixture
def site(tmp_path):
    """A 10 m box in local metres, centred on its (0,0,0)."""
    path = tmp_path / "site.ply"
    trimesh.creation.box((10.0, 10.0, 10.0)).export(path)
    return path


def tilesets(tmp_path) -> list:
    listed = run_cli(tmp_path, "tilesets", "list", "--json")
    return json.loads(listed.stdout)


@pytest.mark.parametrize("flags", [
    ["--crs", "EPSG:4548", "--origin", "36.6,117.1,0"],  # lat/lon typed as an origin
    ["--crs", "EPSG:4548"],  # local metres, no origin
])
def test_a_mesh_placed_outside_its_crs_is_refused_naming_the_flags(tmp_path, site, flags):
    result = run_cli(tmp_path, "import", "mesh", str(site), *flags)
    assert result.returncode == 1
    assert "--origin" in result.stderr and "--crs" in result.stderr
    assert "--force" in result.stderr and "112.5" in result.stderr
    assert "Traceback" not in result.stderr
    assert tilesets(tmp_path) == []


def test_force_accepts_the_placement_with_a_warning(tmp_path, site):
    result = run_cli(tmp_path, "import", "mesh", str(site), "--crs", "EPSG:4548", "--force",
                     "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert any("--force" in w for w in summary["warnings"])
    assert [t["id"] for t in tilesets(tmp_path)] == [summary["id"]]


def test_a_mesh_placed_in_jinan_is_accepted(tmp_path, site):
    result = run_cli(tmp_path, "import", "mesh", str(site), "--crs", "EPSG:4548",
                     "--origin", "500000,4052000,30", "--json")
    assert result.returncode == 0, result.stderr
    west, south, east, north = json.loads(result.stdout)["bounds"]
    assert 116.9 < west < east < 117.1 and 36.5 < south < north < 36.7
