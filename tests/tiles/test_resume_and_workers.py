"""Interrupted builds resume; the same build runs on a process pool and on Dask."""
from __future__ import annotations

import json

import pytest

from tiles.check import check_tileset
from tiles.pipeline import BuildOptions, build_tileset
from tiles.store import FileTileStore


class Interrupt(Exception):
    pass


def _tiles(tile):
    yield tile
    for child in tile.get("children", []):
        yield from _tiles(child)


def test_interrupted_build_keeps_old_version_and_resumes(tmp_path, gen_mesh):
    store = FileTileStore(tmp_path / "store")
    options = BuildOptions(kind="reality", max_triangles_per_tile=5_000, workers=1,
                           validate_glb=False, work_dir=str(tmp_path / "work"))
    build_tileset(gen_mesh.terrain_batches(4_000, 4_000, 50.0), store, "t", options)
    old = store.get("t", "tileset.json")

    def stop_after_five_tiles(event):
        if event["phase"] == "tiling" and event["tiles"] >= 5:
            raise Interrupt()

    batches = lambda: gen_mesh.terrain_batches(60_000, 10_000, 300.0)
    with pytest.raises(Interrupt):
        build_tileset(batches(), store, "t", options, progress=stop_after_five_tiles)
    assert store.get("t", "tileset.json") == old  # the failed run published nothing
    staging = next((store.root / ".staging").iterdir())
    finished = {p.name: p.stat().st_ino for p in (staging / "tiles").glob("*.glb")}
    assert len(finished) >= 5
    summary = build_tileset(batches(), store, "t", options)
    tiles_dir = store.tileset_dir("t") / "tiles"
    for name, inode in finished.items():  # reused, not rewritten
        assert (tiles_dir / name).stat().st_ino == inode
    assert summary.tiles > len(finished)
    assert check_tileset(store, "t", validate_glb=False).ok


def test_process_pool_gives_the_same_tileset_as_inline(tmp_path, gen_mesh):
    """Small budget: enough tiles per level that the pool builds them in batched tasks."""
    docs = []
    for workers in (1, 2):
        store = FileTileStore(tmp_path / f"s{workers}")
        build_tileset(gen_mesh.terrain_batches(30_000, 10_000, 300.0), store, "t",
                      BuildOptions(kind="reality", max_triangles_per_tile=1_000,
                                   workers=workers, validate_glb=False))
        docs.append(json.loads(store.get("t", "tileset.json")))
    assert docs[0]["root"] == docs[1]["root"]
    assert sum(1 for _ in _tiles(docs[0]["root"])) > 2 * 4 * 2  # > 1 tile per task


def test_dask_local_cluster_builds_the_tileset(tmp_path, gen_mesh):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        store = FileTileStore(tmp_path / "store")
        with distributed.get_task_stream(client) as stream:
            summary = build_tileset(
                gen_mesh.terrain_batches(30_000, 10_000, 300.0), store, "t",
                BuildOptions(kind="reality", max_triangles_per_tile=8_000,
                             dask_scheduler=cluster.scheduler_address))
        ran = [t for t in stream.data if "build_node" in t["key"]]
        assert len(ran) >= summary.tiles
        assert len({t["worker"] for t in ran}) == 2
    assert check_tileset(store, "t", validate_glb=True).ok


def test_a_textured_build_resumes_in_a_new_process(tmp_path):
    """The work folder's name (the build key) must not depend on per-process state such
    as Python's salted hash() of bytes, or a re-run of an interrupted textured import in
    a new process would start over."""
    import os
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    code = (
        "import sys; sys.path[:0] = [%r, %r]\n"
        "from gen_mesh import terrain_batches\n"
        "from tiles.pipeline import BuildOptions, build_tileset\n"
        "from tiles.store import FileTileStore\n"
        "build_tileset(terrain_batches(6_000, 3_000, 100.0, textured=True),\n"
        "              FileTileStore(%r), 't', BuildOptions(kind='reality', workers=1,\n"
        "              max_triangles_per_tile=2_000, keep_work=True, validate_glb=False,\n"
        "              work_dir=%r))\n"
    ) % (str(root / "bench"), str(root), str(tmp_path / "store"), str(tmp_path / "work"))
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=300)
    work = [p.name for p in (tmp_path / "work").iterdir()]
    assert len(work) == 1, f"the second process did not find the first one's work: {work}"
