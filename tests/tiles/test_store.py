"""FileTileStore: atomic publish, failed builds keep the old version, no path escapes."""
from __future__ import annotations

import os

import pytest

from tiles.errors import StoreError, UnsafePathError
from tiles.store import FileTileStore


def _publish(store, tileset_id, files, key=None):
    with store.staging(tileset_id, key=key) as writer:
        for path, data in files.items():
            writer.put(path, data)


def test_publish_replaces_previous_version(tmp_path):
    store = FileTileStore(tmp_path)
    _publish(store, "city", {"tileset.json": b"v1", "tiles/a.glb": b"A"})
    assert store.get("city", "tileset.json") == b"v1"
    _publish(store, "city", {"tileset.json": b"v2"})
    assert store.get("city", "tileset.json") == b"v2"
    assert list(store.list("city")) == ["tileset.json"]
    assert store.tilesets() == ["city"]


def test_failed_build_keeps_previous_version_and_resumes(tmp_path):
    store = FileTileStore(tmp_path)
    _publish(store, "city", {"tileset.json": b"v1"})
    with pytest.raises(RuntimeError):
        with store.staging("city", key="abc123") as writer:
            writer.put("tiles/done.glb", b"finished tile")
            raise RuntimeError("interrupted")
    assert store.get("city", "tileset.json") == b"v1"
    with store.staging("city", key="abc123") as writer:
        assert writer.has("tiles/done.glb")  # the interrupted run's work is reused
        writer.put("tileset.json", b"v2")
    assert store.get("city", "tileset.json") == b"v2"
    assert store.get("city", "tiles/done.glb") == b"finished tile"


@pytest.mark.parametrize("path", ["../x", "a/../../x", "/etc/passwd", "%2e%2e/x",
                                  "..%2fx", "a\\..\\x", "", "C:/x", "a/\x00"])
def test_path_for_refuses_traversal(tmp_path, path):
    store = FileTileStore(tmp_path / "store")
    _publish(store, "city", {"tileset.json": b"{}"})
    with pytest.raises(UnsafePathError):
        store.path_for("city", path)


def test_path_for_refuses_symlink_escape(tmp_path):
    store = FileTileStore(tmp_path / "store")
    _publish(store, "city", {"tileset.json": b"{}"})
    secret = tmp_path / "secret.txt"
    secret.write_text("no")
    os.symlink(secret, store.tileset_dir("city") / "leak.json")
    with pytest.raises(UnsafePathError):
        store.path_for("city", "leak.json")
    assert not store.exists("city", "leak.json")


@pytest.mark.parametrize("tileset_id", ["..", ".hidden", "a/b", "", "x" * 200])
def test_bad_tileset_ids_are_refused(tmp_path, tileset_id):
    with pytest.raises(UnsafePathError):
        FileTileStore(tmp_path).path_for(tileset_id, "tileset.json")


def test_delete_and_missing(tmp_path):
    store = FileTileStore(tmp_path)
    _publish(store, "city", {"tileset.json": b"{}"})
    store.delete("city")
    assert not store.exists("city", "tileset.json")
    with pytest.raises(StoreError):
        store.get("city", "tileset.json")
    assert not any((tmp_path / ".versions").iterdir())
