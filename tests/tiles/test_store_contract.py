"""One contract for every TileStore (file and memory): atomic publish, a failed build
publishes nothing, no path escapes, list and delete. FileTileStore specifics at the end."""
from __future__ import annotations

import json
import os

import pytest

from tiles.check import check_tileset
from tiles.errors import CheckError, StoreError, TilesError, UnsafePathError
from tiles.pipeline import BuildOptions, build_tileset
from tiles.store import FileTileStore, MemoryTileStore, write_tileset

UNSAFE_PATHS = ["../x", "a/../../x", "/etc/passwd", "%2e%2e/x", "..%2fx", "a\\..\\x", "",
                "C:/x", "a/\x00"]


@pytest.fixture(params=["file", "memory"])
def store(request, tmp_path):
    return FileTileStore(tmp_path / "store") if request.param == "file" else MemoryTileStore()


def test_publish_replaces_previous_version(store):
    write_tileset(store, "city", {"tileset.json": b"v1", "tiles/a.glb": b"A"})
    assert store.get("city", "tileset.json") == b"v1"
    write_tileset(store, "city", {"tileset.json": b"v2"})
    assert store.get("city", "tileset.json") == b"v2"
    assert list(store.list("city")) == ["tileset.json"]
    assert store.tilesets() == ["city"]


def test_unpublished_version_is_invisible_and_resumable(store):
    write_tileset(store, "city", {"tileset.json": b"v1"})
    store.put("city", "tiles/done.glb", b"finished tile", version="abc123")
    # an interrupted build: nothing of it is served
    assert store.get("city", "tileset.json") == b"v1"
    assert not store.exists("city", "tiles/done.glb")
    # a re-run with the same version finds what the interrupted one wrote
    assert store.exists("city", "tiles/done.glb", version="abc123")
    assert list(store.list("city", version="abc123")) == ["tiles/done.glb"]
    store.put("city", "tileset.json", b"v2", version="abc123")
    store.publish("city", "abc123")
    assert store.get("city", "tileset.json") == b"v2"
    assert store.get("city", "tiles/done.glb") == b"finished tile"
    with pytest.raises(StoreError):
        store.list("city", version="abc123").__next__()


def test_failed_write_publishes_nothing(store):
    write_tileset(store, "city", {"tileset.json": b"v1"})

    def files():
        yield "tileset.json", b"half"
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        write_tileset(store, "city", files())
    assert store.get("city", "tileset.json") == b"v1"
    with pytest.raises(StoreError):
        write_tileset(store, "nothing", [])  # an empty version cannot be published
    assert store.tilesets() == ["city"]


@pytest.mark.parametrize("path", UNSAFE_PATHS)
def test_traversal_is_refused(store, path):
    write_tileset(store, "city", {"tileset.json": b"{}"})
    with pytest.raises(UnsafePathError):
        store.get("city", path)
    with pytest.raises(UnsafePathError):
        store.put("city", path, b"x", version="v")
    assert not store.exists("city", path)


@pytest.mark.parametrize("tileset_id", ["..", ".hidden", "a/b", "", "x" * 200])
def test_bad_tileset_ids_are_refused(store, tileset_id):
    with pytest.raises(UnsafePathError):
        store.get(tileset_id, "tileset.json")
    with pytest.raises(UnsafePathError):
        store.put(tileset_id, "tileset.json", b"{}", version="v")


def test_delete_and_missing(store):
    write_tileset(store, "city", {"tileset.json": b"{}"})
    store.put("city", "tileset.json", b"next", version="pending")
    store.delete("city")
    assert not store.exists("city", "tileset.json")
    assert not store.exists("city", "tileset.json", version="pending")
    assert store.tilesets() == []
    with pytest.raises(StoreError):
        store.get("city", "tileset.json")
    with pytest.raises(StoreError):
        store.delete("city")
    store.put("city", "a.glb", b"x", version="v")
    store.delete("city", version="v")  # discard an unpublished version
    assert not store.exists("city", "a.glb", version="v")


def test_build_publishes_a_checked_tileset(store, gen_mesh):
    options = BuildOptions(kind="reality", max_triangles_per_tile=5_000, workers=1)
    summary = build_tileset(gen_mesh.terrain_batches(12_000, 4_000, 100.0), store, "t",
                            options)
    report = check_tileset(store, "t")
    assert report.ok, report.to_text()
    assert report.validated == summary.tiles > 1
    assert "tileset.json" in list(store.list("t"))


def test_failed_build_publishes_nothing_and_old_tileset_keeps_serving(store, gen_mesh,
                                                                     monkeypatch):
    options = BuildOptions(kind="reality", max_triangles_per_tile=5_000, workers=1,
                           validate_glb=False)
    build_tileset(gen_mesh.terrain_batches(4_000, 4_000, 50.0), store, "t", options)
    old = {path: store.get("t", path) for path in store.list("t")}
    import tiles.build.tileset as tileset_module
    real = tileset_module.tile_json

    def leaf_with_error(tile, parent_refine=None):  # breaks the 3D Tiles rules
        out = real(tile, parent_refine)
        if "children" not in out:
            out["geometricError"] = 3.0
        return out

    monkeypatch.setattr(tileset_module, "tile_json", leaf_with_error)
    with pytest.raises(CheckError, match="not published"):
        build_tileset(gen_mesh.terrain_batches(12_000, 4_000, 100.0), store, "t", options)
    assert {path: store.get("t", path) for path in store.list("t")} == old
    assert json.loads(old["tileset.json"])["root"]


# -- FileTileStore specifics ------------------------------------------------------------

def test_file_store_refuses_symlink_escape(tmp_path):
    store = FileTileStore(tmp_path / "store")
    write_tileset(store, "city", {"tileset.json": b"{}"})
    secret = tmp_path / "secret.txt"
    secret.write_text("no")
    os.symlink(secret, store.tileset_dir("city") / "leak.json")
    with pytest.raises(UnsafePathError):
        store.path_for("city", "leak.json")
    assert not store.exists("city", "leak.json")


def test_file_store_delete_removes_every_version(tmp_path):
    store = FileTileStore(tmp_path)
    write_tileset(store, "city", {"tileset.json": b"1"})
    write_tileset(store, "city", {"tileset.json": b"2"})
    store.delete("city")
    assert not any((tmp_path / ".versions").iterdir())


def test_memory_store_is_refused_for_worker_processes(gen_mesh):
    with pytest.raises(TilesError, match="workers=1"):
        build_tileset(gen_mesh.terrain_batches(4_000, 4_000, 50.0), MemoryTileStore(), "t",
                      BuildOptions(kind="reality", workers=2))
