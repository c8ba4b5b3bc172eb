"""The real OSGB production (shared data) as one tileset with the producer's pyramid.

Expected numbers come from SOURCES.md (triangles per file, taken with osgconv), from
the .osgb bytes themselves (child names are plain strings in the file) and from pyproj
and osgconv run here, never from the code under test.
"""
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pyproj import Proj, Transformer

from tiles.build.nearest import point_mesh_distance
from tiles.check import check_tileset
from tiles.errors import InputError
from tiles.glb.builder import read_glb
from tiles.production import PhotoOptions, build_production
from tiles.readers.contextcapture import open_photo
from tiles.store import FileTileStore
from tiles.validate import validate_glb

PRODUCTION = ("photogrammetry", "cc_osgb_production5")
#: SOURCES.md, per level (root, L15 ... L19), Tile_+000_+013 + Tile_+000_+014
LEVELS = {"0": 2399 + 4290, "1": 3527 + 5934, "2": 5748 + 9174, "3": 10325 + 15574,
          "4": 20454 + 30584,
          "5": (10265 + 2109 + 12668 + 4556 + 2199 + 1653 + 3408 + 1949)
          + (11197 + 3429 + 13174 + 4598 + 11777 + 3973 + 4138 + 1256)}


@pytest.fixture(scope="module")
def built(tmp_path_factory, request):
    from tests.conftest import require_shared_data
    folder = require_shared_data(*PRODUCTION)
    store = FileTileStore(tmp_path_factory.mktemp("photo") / "store")
    summary = build_production(open_photo(folder), store, "p5", PhotoOptions(workers=1))
    return folder, store, summary, json.loads(store.get("p5", "tileset.json"))


def _walk(tile, depth=0):
    yield tile, depth
    for child in tile.get("children", []):
        yield from _walk(child, depth + 1)


def _find(root, uri):
    return next(t for t, _ in _walk(root) if t.get("content", {}).get("uri") == uri)


def test_every_level_is_kept_with_the_sources_triangles(built):
    _, store, summary, doc = built
    assert summary.triangles == sum(LEVELS.values()) == 200358
    assert summary.frame["levels"] == LEVELS
    report = check_tileset(store, "p5", validate_glb=True)
    assert report.ok, report.to_text()
    assert report.validated == len([p for p in store.list("p5") if p.endswith(".glb")])
    assert doc["root"]["refine"] == "REPLACE"


def test_geometric_error_follows_the_pagedlod_range_and_shrinks(built):
    _, _, _, doc = built
    root = doc["root"]
    tile = _find(root, "tiles/Tile_+000_+013/Tile_+000_+013.glb")
    # UserCenter radius 75.2621, RangeList switch at 37.6311 px (osgconv's ASCII dump)
    assert tile["geometricError"] == pytest.approx(16 * 2 * 75.2621 / 37.6311, rel=1e-4)
    for parent, _ in _walk(root):
        for child in parent.get("children", []):
            assert child["geometricError"] < parent["geometricError"]
        if not parent.get("children"):
            assert parent["geometricError"] == 0


def test_the_two_tile_folders_hang_under_one_parent_made_from_their_root_levels(built):
    _, store, _, doc = built
    root = doc["root"]
    uris = [c["content"]["uri"] for c in root["children"]]
    assert uris == ["tiles/Tile_+000_+013/Tile_+000_+013.glb",
                    "tiles/Tile_+000_+014/Tile_+000_+014.glb"]
    gltf, _ = read_glb(store.get("p5", root["content"]["uri"]))
    assert len(gltf["images"]) == 1  # one atlas from both root textures
    triangles = sum(gltf["accessors"][p["indices"]]["count"] // 3
                    for m in gltf["meshes"] for p in m["primitives"])
    assert 0 < triangles < LEVELS["0"]


def test_missing_l20_children_are_counted(built):
    folder, _, summary, _ = built
    referenced = set()
    for path in folder.glob("Data/*/*.osgb"):
        referenced |= set(re.findall(rb"Tile_[+\-\d_]+_L20_\w+\.osgb", path.read_bytes()))
    assert referenced and not list(folder.glob("Data/*/*_L20_*"))
    assert summary.warnings[0].startswith(f"{len(referenced)} child files")


def _glb_vertex0(store, uri, transform):
    gltf, binary = read_glb(store.get("p5", uri))
    node = gltf["nodes"][0]
    accessor = gltf["accessors"][gltf["meshes"][node["mesh"]]["primitives"][0]
                                 ["attributes"]["POSITION"]]
    view = gltf["bufferViews"][accessor["bufferView"]]
    xyz = np.frombuffer(binary, np.float32, 3, view["byteOffset"] +
                        accessor.get("byteOffset", 0)).astype(float)
    g = xyz + np.asarray(node.get("translation", [0, 0, 0]))
    enu = np.array([g[0], -g[2], g[1], 1.0])  # glTF y-up -> ENU z-up
    return (transform @ enu)[:3]


def test_placement_matches_pyproj_to_the_centimetre(tmp_path, built):
    folder, store, _, doc = built
    source = folder / "Data" / "Tile_+000_+013" / "Tile_+000_+013.osgb"
    subprocess.run([shutil.which("osgconv"), str(source), "t.obj"], cwd=tmp_path,
                   check=True, capture_output=True, timeout=120)
    first = next(line for line in (tmp_path / "t.obj").read_text().splitlines()
                 if line.startswith("v "))
    x, y, z = (float(v) for v in first.split()[1:4])
    # SOURCES.md: TM CM 113.37, FN 90, scale 1, FE 500000 on CGCS2000; SRSOrigin offset
    tm = Proj("+proj=tmerc +lat_0=0 +lon_0=113.37 +k=1 +x_0=500000 +y_0=90 +ellps=GRS80")
    lon, lat = tm(501027.524 + x, 2488718.808 + y, inverse=True)
    expected = Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True).transform(
        lon, lat, z)
    transform = np.asarray(doc["root"]["transform"]).reshape(4, 4).T
    got = _glb_vertex0(store, "tiles/Tile_+000_+013/Tile_+000_+013.glb", transform)
    assert np.linalg.norm(got - np.asarray(expected)) < 0.01


def _copy_production(folder: Path, target: Path) -> Path:
    shutil.copytree(folder, target, copy_function=shutil.copyfile)
    return target


def test_a_corrupt_osgb_is_skipped_and_reported_with_its_path(tmp_path, shared_data):
    copy = _copy_production(shared_data(*PRODUCTION), tmp_path / "prod")
    bad = copy / "Data" / "Tile_+000_+014" / "Tile_+000_+014_L18_0uuuu.osgb"
    bad.write_bytes(bad.read_bytes()[:5000])
    store = FileTileStore(tmp_path / "store")
    summary = build_production(open_photo(copy), store, "p", PhotoOptions(workers=1))
    assert any(str(bad) in w for w in summary.warnings)
    assert summary.frame["levels"]["3"] == LEVELS["3"]  # the L17 parent is kept, a leaf
    assert summary.frame["levels"]["4"] == 20454  # only the other tile's L18
    doc = json.loads(store.get("p", "tileset.json"))
    lod17 = _find(doc["root"], "tiles/Tile_+000_+014/Tile_+000_+014_L17_0uuu.glb")
    assert "children" not in lod17 and lod17["geometricError"] == 0
    assert check_tileset(store, "p", validate_glb=False).ok


def test_a_killed_import_resumes_without_converting_finished_folders(
        tmp_path, shared_data, monkeypatch):
    from tiles import production
    folder = shared_data(*PRODUCTION)
    store = FileTileStore(tmp_path / "store")
    real, calls = production.convert_folder, []

    def dies_on_second(job):
        calls.append(Path(job.folder).name)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the import is stopped here
        return real(job)
    monkeypatch.setattr(production, "convert_folder", dies_on_second)
    with pytest.raises(KeyboardInterrupt):
        build_production(open_photo(folder), store, "p", PhotoOptions(workers=1))
    assert store.tilesets() == []  # nothing half-written is published
    calls.clear()
    monkeypatch.setattr(production, "convert_folder", lambda job: (
        calls.append(Path(job.folder).name), real(job))[1])
    summary = build_production(open_photo(folder), store, "p", PhotoOptions(workers=1))
    assert calls == ["Tile_+000_+014"]  # the first folder was not converted again
    assert summary.triangles == 200358
    assert check_tileset(store, "p", validate_glb=False).ok


def test_a_failed_import_keeps_the_published_tileset(tmp_path, shared_data, built):
    _, _, _, before = built
    store = FileTileStore(tmp_path / "store")
    build_production(open_photo(shared_data(*PRODUCTION)), store, "p", PhotoOptions(
        workers=1, validate_glb=False))
    broken = _copy_production(shared_data(*PRODUCTION), tmp_path / "broken")
    for path in broken.glob("Data/*/*.osgb"):
        path.write_bytes(b"damaged")
    with pytest.raises(InputError, match="cannot read"):
        build_production(open_photo(broken), store, "p", PhotoOptions(workers=1))
    assert json.loads(store.get("p", "tileset.json"))["root"]["children"] == \
        before["root"]["children"]


def test_a_moved_root_moves_its_child_files_too(tmp_path, shared_data):
    """bench/gen_photo_production.py moves a tile with a MatrixTransform in the root
    file only (osgconv -t); the child files must be placed under it, as OSG draws them."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "gen_photo", Path(__file__).resolve().parents[2] / "bench" / "gen_photo_production.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    shared_data(*PRODUCTION)
    production = gen.generate(tmp_path / "gen", 2)
    store = FileTileStore(tmp_path / "store")
    build_production(open_photo(production), store, "p5", PhotoOptions(
        workers=1, validate_glb=False))
    doc = json.loads(store.get("p5", "tileset.json"))
    # folder Tile_+001_+000 repeats Tile_+000_+014 moved by (+100, -1400) metres
    from tiles.readers.osgb import read_osgb
    original = shared_data(*PRODUCTION, "Data", "Tile_+000_+014", "Tile_+000_+014_L15_0u.osgb")
    x, y, z = read_osgb(original).nodes[0].geometries[0].positions[0]
    tm = Proj("+proj=tmerc +lat_0=0 +lon_0=113.37 +k=1 +x_0=500000 +y_0=90 +ellps=GRS80")
    lon, lat = tm(501027.524 + x + 100, 2488718.808 + y - 1400, inverse=True)
    expected = Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True).transform(
        lon, lat, z)
    transform = np.asarray(doc["root"]["transform"]).reshape(4, 4).T
    got = _glb_vertex0(store, "tiles/Tile_+001_+000/Tile_+000_+014_L15_0u.glb", transform)
    assert np.linalg.norm(got - np.asarray(expected)) < 0.01


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    """Five generated folders on a 3 x 2 grid (bench/gen_photo_production.py)."""
    import importlib.util
    from tests.conftest import require_shared_data
    require_shared_data(*PRODUCTION)
    spec = importlib.util.spec_from_file_location(
        "gen_photo", Path(__file__).resolve().parents[2] / "bench" / "gen_photo_production.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    tmp = tmp_path_factory.mktemp("grid")
    production = gen.generate(tmp / "gen", 5)
    store = FileTileStore(tmp / "store")
    summary = build_production(open_photo(production), store, "g", PhotoOptions(
        workers=1, validate_glb=False))
    return store, summary, json.loads(store.get("g", "tileset.json"))


def test_a_grid_of_folders_becomes_a_quadtree_of_parents(grid):
    """Five folders on a 3 x 2 grid: a root over a parent of four folders and one folder."""
    store, summary, doc = grid
    # SOURCES.md, all levels of each real tile; cells (0,0), (2,0), (1,1) repeat +013
    tile_013 = 2399 + 3527 + 5748 + 10325 + 20454 + 38807
    tile_014 = 4290 + 5934 + 9174 + 15574 + 30584 + 53542
    assert summary.triangles == 3 * tile_013 + 2 * tile_014
    root = doc["root"]
    kids = root["children"]
    assert len(kids) == 2 and all("content" in k for k in kids)
    inner = next(k for k in kids if k["content"]["uri"].startswith("tiles/_parents/"))
    assert len(inner["children"]) == 4
    assert inner["geometricError"] < root["geometricError"]
    assert check_tileset(store, "g", validate_glb=False).ok


def _mesh(data: bytes) -> tuple[np.ndarray, np.ndarray, dict]:
    """World-frame (glTF y-up, node translation applied) positions and triangles of a glb
    with plain float/uint accessors, and its JSON."""
    gltf, binary = read_glb(data)
    node = gltf["nodes"][0]
    shift = np.asarray(node.get("translation", [0.0, 0.0, 0.0]))
    positions, triangles = [], []
    for primitive in gltf["meshes"][node["mesh"]]["primitives"]:
        pos, idx = (gltf["accessors"][i] for i in (primitive["attributes"]["POSITION"],
                                                   primitive["indices"]))
        view = gltf["bufferViews"][pos["bufferView"]]
        xyz = np.frombuffer(binary, np.float32, 3 * pos["count"],
                            view["byteOffset"] + pos.get("byteOffset", 0)).reshape(-1, 3)
        view = gltf["bufferViews"][idx["bufferView"]]
        dtype = {5121: np.uint8, 5123: np.uint16, 5125: np.uint32}[idx["componentType"]]
        tri = np.frombuffer(binary, dtype, idx["count"],
                            view["byteOffset"] + idx.get("byteOffset", 0)).reshape(-1, 3)
        triangles.append(tri.astype(np.int64) + sum(len(p) for p in positions))
        positions.append(xyz.astype(np.float64) + shift)
    return np.concatenate(positions), np.concatenate(triangles), gltf


def test_a_parent_over_four_folders_is_at_budget_textured_valid_and_honest(grid):
    store, _, doc = grid
    root = next(k for k in doc["root"]["children"] if len(k.get("children", [])) == 4)
    assert root["content"]["uri"].startswith("tiles/_parents/")
    parent = store.get("g", root["content"]["uri"])
    children = [store.get("g", c["content"]["uri"]) for c in root["children"]]
    pos, tri, gltf = _mesh(parent)
    kids = [_mesh(c) for c in children]
    # at budget: about one child's coarsest level (seams kept, it was 95 % of all four)
    assert len(tri) <= 0.3 * sum(len(t) for _, t, _ in kids)
    assert len(parent) <= max(len(c) for c in children)
    # textured: one image over the whole parent, every vertex inside it
    assert len(gltf["images"]) == 1 and len(gltf["meshes"][0]["primitives"]) == 1
    primitive = gltf["meshes"][0]["primitives"][0]
    assert "TEXCOORD_0" in primitive["attributes"]
    view = gltf["bufferViews"][gltf["images"][0]["bufferView"]]
    _, binary = read_glb(parent)
    image = Image.open(io.BytesIO(binary[view["byteOffset"]:][:view["byteLength"]]))
    assert image.format == "JPEG" and max(image.size) >= 256
    uv = gltf["accessors"][primitive["attributes"]["TEXCOORD_0"]]
    view = gltf["bufferViews"][uv["bufferView"]]
    uvs = np.frombuffer(binary, np.float32, 2 * uv["count"],
                        view["byteOffset"] + uv.get("byteOffset", 0))
    assert uv["componentType"] == 5126 and uvs.min() >= -1e-6 and uvs.max() <= 1 + 1e-6
    [report] = validate_glb(parent)
    assert not report.errors, report.summary()
    # honest error: each child's own error plus the farthest of its vertices from the
    # parent's surface (every vertex, measured here on the stored glbs)
    origin = pos.min(axis=0)
    for child, (kid_pos, _, _) in zip(root["children"], kids):
        worst = point_mesh_distance(kid_pos - origin, pos - origin, tri).max()
        assert root["geometricError"] >= child["geometricError"] + worst
        assert root["geometricError"] > child["geometricError"]
