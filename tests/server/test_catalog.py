"""Catalog: entries survive reopening, filter by classification, refuse bad entries."""
import pytest

from server.catalog import Catalog, CatalogError


def entry(id_, classification="public", kind="mesh"):
    return {"id": id_, "name": f"名称 {id_}", "kind": kind, "classification": classification,
            "bounds": [117.1, 36.6, 117.2, 36.7], "height": [10.0, 80.0],
            "frame": {"crs": "EPSG:4548"}, "summary": {"triangles": 12}}


def test_entries_persist_and_filter_by_level(tmp_path):
    catalog = Catalog(tmp_path / "catalog.sqlite")
    catalog.add(entry("a", "public"))
    catalog.add(entry("b", "restricted"))
    reopened = Catalog(tmp_path / "catalog.sqlite")
    assert {e["id"] for e in reopened.list()} == {"a", "b"}
    assert [e["id"] for e in reopened.list(levels={"public"})] == ["a"]
    got = reopened.get("a")
    assert got["bounds"] == [117.1, 36.6, 117.2, 36.7] and got["name"] == "名称 a"
    assert got["created"]  # filled in


def test_new_id_is_a_unique_url_safe_slug(tmp_path):
    catalog = Catalog(tmp_path / "c.sqlite")
    assert catalog.new_id("FZK Haus (ArchiCAD)") == "fzk-haus-archicad"
    catalog.add(entry("fzk-haus-archicad"))
    assert catalog.new_id("FZK Haus (ArchiCAD)") == "fzk-haus-archicad-2"
    chinese = catalog.new_id("历下区 CBD 地形")
    assert chinese == "cbd" or chinese.startswith("ts-")
    only_chinese = catalog.new_id("历下区地形")
    assert only_chinese.startswith("ts-") and only_chinese.isascii()


@pytest.mark.parametrize("bad, word", [
    ({"classification": "secret"}, "classification"),
    ({"kind": "cad"}, "kind"),
    ({"name": ""}, "name"),
])
def test_bad_entries_are_refused(tmp_path, bad, word):
    catalog = Catalog(tmp_path / "c.sqlite")
    with pytest.raises(CatalogError, match=word):
        catalog.add(entry("x") | bad)
    assert catalog.get("x") is None


def test_replace_and_delete(tmp_path):
    catalog = Catalog(tmp_path / "c.sqlite")
    catalog.add(entry("a"))
    catalog.add(entry("a") | {"name": "new"})
    assert catalog.get("a")["name"] == "new" and len(catalog.list()) == 1
    assert catalog.delete("a") and not catalog.delete("a")
