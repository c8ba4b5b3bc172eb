"""The registry's placement check, tried as a new user would: geometry outside the CRS's
area of use is refused naming --origin/--crs, and --force accepts it knowingly."""
import json

import numpy as np
import pytest
import trimesh

from server.placement import Placement
from tests.server.test_cli import run_cli
from tiles.errors import GeoreferenceError
from tiles.model import GeoFrame, MeshBatch


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


def _batch(positions, frame, instances=None):
    return MeshBatch(positions=np.asarray(positions, dtype=np.float64),
                     indices=np.array([[0, 1, 2]], dtype=np.uint32), frame=frame,
                     instances=instances)


JINAN = GeoFrame(crs="EPSG:4548", origin=(500000.0, 4052000.0, 0.0))
TRIANGLE = [[0, 0, 0], [10, 0, 0], [0, 10, 0]]


def test_a_later_batch_that_leaves_the_area_is_refused():
    """Every batch counts, not only the first one of a frame."""
    far = [[0, 0, 0], [10, 0, 0], [-600_000, 0, 0]]  # 600 km west of the zone's centre
    stream = Placement().batches([_batch(TRIANGLE, JINAN), _batch(far, JINAN)])
    next(stream)
    with pytest.raises(GeoreferenceError, match="--origin"):
        next(stream)


def test_instances_are_placed_before_the_check():
    """An instanced prototype at the origin, drawn 600 km away, is outside."""
    moved = np.eye(4)[None].repeat(2, axis=0)
    moved[1, 0, 3] = -600_000.0
    with pytest.raises(GeoreferenceError, match="--force"):
        list(Placement().batches([_batch(TRIANGLE, JINAN, instances=moved)]))
    forced = Placement(force=True)
    assert len(list(forced.batches([_batch(TRIANGLE, JINAN, instances=moved)]))) == 1
    assert forced.warnings and "accepted with --force" in forced.warnings[0]
