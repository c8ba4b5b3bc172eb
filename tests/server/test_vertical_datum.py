"""One vertical datum for the scene: an orthometric H at a Jinan control point becomes
H + N (EGM96) ellipsoidal, the same for a reality mesh, a point cloud and a BIM model.

N is read here straight from Debian proj-data's egm96_15.gtx (bilinear, no PROJ), so
the check does not share code with tiles.geoid.
"""
import json
import struct
from pathlib import Path

import laspy
import numpy as np
import pyproj
import pytest

from bim_import.sample import write_sample_ifc
from server.bim_imports import import_bim_file
from server.config import load_config
from server.reality_imports import import_photo, import_pointcloud
from server.services import Services
from tiles.glb.builder import read_glb

JINAN = (117.0437, 36.6702)  # Lixia District, Jinan (lon, lat)
H = 35.0  # orthometric height of the control point
GRID = Path("/usr/share/proj/egm96_15.gtx")


def egm96(lon: float, lat: float) -> float:
    """N from the .gtx grid: big-endian header (lat0, lon0, dlat, dlon, rows, cols)."""
    data = GRID.read_bytes()
    lat0, lon0, dlat, dlon = struct.unpack(">4d", data[:32])
    rows, cols = struct.unpack(">2i", data[32:40])
    grid = np.frombuffer(data[40:], ">f4").reshape(rows, cols)
    r, c = (lat - lat0) / dlat, (lon - lon0) / dlon
    i, j = int(r), int(c)
    fr, fc = r - i, c - j
    return float(grid[i, j] * (1 - fr) * (1 - fc) + grid[i + 1, j] * fr * (1 - fc)
                 + grid[i, j + 1] * (1 - fr) * fc + grid[i + 1, j + 1] * fr * fc)


def _services(tmp_path, geoid: str) -> Services:
    return Services(load_config({"data": {"dir": str(tmp_path / f"data-{geoid or 'none'}")},
                                 "tiles": {"geoid": geoid, "workers": 1}}))


def _gk(lon, lat):
    return pyproj.Transformer.from_crs("EPSG:4326", "EPSG:4548", always_xy=True).transform(
        lon, lat)


def _first_vertex_llh(services, tileset_id, uri):
    store = services.store
    doc = json.loads(store.get(tileset_id, "tileset.json"))
    transform = np.asarray(doc["root"]["transform"]).reshape(4, 4).T
    gltf, binary = read_glb(store.get(tileset_id, uri))
    node = gltf["nodes"][0]
    prim = gltf["meshes"][node["mesh"]]["primitives"][0]
    acc = gltf["accessors"][prim["attributes"]["POSITION"]]
    view = gltf["bufferViews"][acc["bufferView"]]
    g = np.frombuffer(binary, np.float32, 3, view["byteOffset"] + acc.get("byteOffset", 0)) \
        + np.asarray(node.get("translation", [0, 0, 0]))
    ecef = transform @ np.array([g[0], -g[2], g[1], 1.0])
    return pyproj.Transformer.from_crs("EPSG:4978", "EPSG:4979", always_xy=True).transform(
        *ecef[:3])


@pytest.fixture(scope="module", autouse=True)
def grid_present():
    if not GRID.is_file():
        pytest.fail(f"{GRID} is missing: apt-get install proj-data (Makefile APT_PACKAGES)")


def test_reality_mesh_heights_get_egm96_n(tmp_path, shared_data):
    osgb = shared_data("photogrammetry", "cc_osgb_production5", "Data", "Tile_+000_+013",
                       "Tile_+000_+013.osgb")
    from tiles.readers.osgb import read_osgb
    z0 = float(read_osgb(osgb).nodes[0].geometries[0].positions[0, 2])
    east, north = _gk(*JINAN)
    services = _services(tmp_path, "egm96")
    summary = import_photo(services, osgb, crs="EPSG:4548", origin=f"{east},{north},{H}",
                           tileset_id="mesh")
    lon, lat, h = _first_vertex_llh(services, "mesh", "tiles/Tile_+000_+013/Tile_+000_+013.glb")
    assert abs(h - (H + z0 + egm96(lon, lat))) < 0.05
    assert summary["vertical_datum"]["geoid"] == "egm96"
    assert summary["vertical_datum"]["n_at_centre_m"] == pytest.approx(egm96(lon, lat),
                                                                         abs=0.05)


def test_point_cloud_heights_get_egm96_n(tmp_path):
    east, north = _gk(*JINAN)
    header = laspy.LasHeader(point_format=0, version="1.2")
    header.scales, header.offsets = [0.001] * 3, [east, north, 0.0]
    header.add_crs(pyproj.CRS.from_epsg(4548))
    las = laspy.LasData(header)
    las.x, las.y = np.array([east, east + 5]), np.array([north, north + 5])
    las.z = np.array([H, H + 1])
    path = tmp_path / "jinan.las"
    las.write(str(path))
    services = _services(tmp_path, "egm96")
    summary = import_pointcloud(services, path, tileset_id="pc")
    doc = json.loads(services.store.get("pc", "tileset.json"))
    lon, lat, h = _first_vertex_llh(services, "pc", doc["root"]["content"]["uri"])
    assert abs(lon - JINAN[0]) < 1e-6 and abs(lat - JINAN[1]) < 1e-6
    assert abs(h - (H + egm96(*JINAN))) < 0.05
    assert summary["vertical_datum"]["n_at_centre_m"] == pytest.approx(egm96(*JINAN),
                                                                         abs=0.05)


def test_bim_heights_get_egm96_n(tmp_path):
    east, north = _gk(*JINAN)
    ifc = write_sample_ifc(tmp_path / "jinan.ifc", crs=None)
    heights = {}
    for geoid in ("", "egm96"):
        services = _services(tmp_path, geoid)
        summary = import_bim_file(services, ifc, crs="EPSG:4548",
                                  origin=f"{east},{north},{H}", tileset_id="bim")
        heights[geoid] = summary["height"]
    n = egm96(*JINAN)
    assert abs(heights["egm96"][0] - (heights[""][0] + n)) < 0.05
    assert abs(heights["egm96"][1] - (heights[""][1] + n)) < 0.05
