"""LAS/LAZ point clouds (shared data, with their traps) as checked 3D Tiles point sets.

Placement is checked against pyproj run here with the EPSG codes SOURCES.md names
(EPSG:2994 for the Autzen files in international feet, EPSG:4326 for the degrees file),
independently of tiles.georef; point counts come from the LAS headers.
"""
import json

import laspy
import numpy as np
import pytest
from pyproj import Transformer

from tiles.check import check_tileset
from tiles.errors import GeoreferenceError
from tiles.glb.builder import read_glb
from tiles.pointcloud import PointOptions, build_pointcloud
from tiles.readers.pointcloud import read_las
from tiles.store import FileTileStore

FOOT = 0.3048


def _positions(store, tileset, uri, transform):
    """ECEF of every point of one glb content (node translation, y-up -> z-up)."""
    gltf, binary = read_glb(store.get(tileset, uri))
    node = gltf["nodes"][0]
    (prim,) = gltf["meshes"][node["mesh"]]["primitives"]
    assert prim["mode"] == 0  # POINTS
    acc = gltf["accessors"][prim["attributes"]["POSITION"]]
    view = gltf["bufferViews"][acc["bufferView"]]
    xyz = np.frombuffer(binary, np.float32, acc["count"] * 3,
                        view["byteOffset"]).reshape(-1, 3) + node["translation"]
    enu = np.column_stack([xyz[:, 0], -xyz[:, 2], xyz[:, 1], np.ones(len(xyz))])
    return (enu @ transform.T)[:, :3]


def _walk(tile):
    yield tile
    for child in tile.get("children", []):
        yield from _walk(child)


def _build(tmp_path, name, **read):
    store = FileTileStore(tmp_path / "store")
    cloud = read_las(name, **read)
    summary = build_pointcloud(cloud, store, "pc", PointOptions(max_points_per_tile=30_000))
    doc = json.loads(store.get("pc", "tileset.json"))
    return store, summary, doc, np.asarray(doc["root"]["transform"]).reshape(4, 4).T


def _expected_ecef(crs, x, y, z_m):
    to_llh = Transformer.from_crs(crs, "EPSG:4979", always_xy=True)
    lon, lat = to_llh.transform(x, y)
    return np.column_stack(Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True)
                           .transform(lon, lat, z_m))


def test_autzen_in_feet_is_placed_without_flags(tmp_path, shared_data):
    path = shared_data("pointcloud", "autzen_trim.las")
    store, _, doc, transform = _build(tmp_path, path)
    las = laspy.read(str(path))
    root = _positions(store, "pc", doc["root"]["content"]["uri"], transform)
    # the root's subsample starts with the file's first point
    expected = _expected_ecef("EPSG:2994", las.x[:1], las.y[:1], las.z[:1] * FOOT)
    assert np.linalg.norm(root[0] - expected[0]) < 0.01
    counts = sum(len(_positions(store, "pc", t["content"]["uri"], transform))
                 for t in _walk(doc["root"]))
    assert counts == las.header.point_count == 110000  # every point once (ADD)
    assert doc["root"]["refine"] == "ADD" and doc["root"].get("children")
    report = check_tileset(store, "pc", validate_glb=True)
    assert report.ok, report.to_text()
    assert report.validated == len(list(_walk(doc["root"])))


def test_degrees_file_is_placed_with_lon_lat_order(tmp_path, shared_data):
    path = shared_data("pointcloud", "epsg_4326.las")
    store, summary, doc, transform = _build(tmp_path, path)
    las = laspy.read(str(path))
    got = _positions(store, "pc", doc["root"]["content"]["uri"], transform)
    expected = _expected_ecef("EPSG:4326", las.x[:1], las.y[:1], las.z[:1])
    assert np.linalg.norm(got[0] - expected[0]) < 0.01
    assert summary.bounds[0] == pytest.approx(-94.683, abs=1e-3)


def test_laz_without_crs_needs_the_flag(tmp_path, shared_data):
    path = shared_data("pointcloud", "simple.laz")
    with pytest.raises(GeoreferenceError, match="--crs"):
        read_las(path)
    store, summary, doc, transform = _build(tmp_path, path, crs="EPSG:2994")
    las = laspy.read(str(path))
    got = _positions(store, "pc", doc["root"]["content"]["uri"], transform)
    expected = _expected_ecef("EPSG:2994", las.x[:1], las.y[:1], las.z[:1] * FOOT)
    assert np.linalg.norm(got[0] - expected[0]) < 0.01
    assert summary.frame["points"] == 1065


def test_impossible_coordinates_for_the_crs_name_the_flag(shared_data):
    path = shared_data("pointcloud", "autzen_trim.las")
    with pytest.raises(GeoreferenceError, match="not degrees.*--crs"):
        read_las(path, crs="EPSG:4326")  # a header claiming degrees for feet
    with pytest.raises(GeoreferenceError, match="area of use.*--crs"):
        read_las(path, crs="EPSG:4547")  # a Chinese zone for Oregon feet


def test_vertical_unit_flag_overrides_the_crs_unit(shared_data):
    path = shared_data("pointcloud", "autzen_trim.las")
    feet = read_las(path)
    metres = read_las(path, vertical_unit="m")
    us_feet = read_las(path, vertical_unit="us-ft")
    raw = laspy.read(str(path)).z
    assert np.allclose(feet.xyz[:, 2], raw * FOOT)
    assert np.allclose(metres.xyz[:, 2], raw)
    assert np.allclose(us_feet.xyz[:, 2], raw * 1200 / 3937)
