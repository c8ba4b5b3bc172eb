"""Planning checks on real IFC models (../shared/data/ifc), against expectations computed
independently: element heights from ifcopenshell's own OpenCASCADE meshing in world
coordinates (not the import's hybrid kernel, tiles or index), floor areas from the
slabs' quantity sets read with ifcopenshell, outlines from ifcopenshell's geometry."""
from __future__ import annotations

import ifcopenshell
import ifcopenshell.geom
import ifcopenshell.util.element
import numpy as np
import pytest
from shapely import Polygon, union_all

from server import analysis
from server.analysis_geometry import read_element_geometry
from server.app import create_app
from server.bim_imports import import_bim_file
from tests.conftest import require_shared_data

SKIPPED_CLASSES = ("IfcSpace", "IfcOpeningElement", "IfcAnnotation", "IfcVirtualElement")
MODELS = {"fzk": "AC20-FZK-Haus.ifc", "duplex": "Duplex_A_20110907_georeferenced.ifc"}


def ifc_shapes(path):
    """(GlobalId, IfcClass, PredefinedType, storey, world vertices, faces) per product,
    meshed by ifcopenshell with OpenCASCADE in world coordinates (metres)."""
    model = ifcopenshell.open(str(path))
    settings = ifcopenshell.geom.settings()
    settings.set("use-world-coords", True)
    skipped = [e for c in SKIPPED_CLASSES for e in model.by_type(c)]
    iterator = ifcopenshell.geom.iterator(settings, model, 2, exclude=skipped,
                                          geometry_library="opencascade")
    out = []
    assert iterator.initialize()
    while True:
        shape = iterator.get()
        verts = np.array(shape.geometry.verts).reshape(-1, 3)
        faces = np.array(shape.geometry.faces).reshape(-1, 3)
        if len(faces):
            product = model.by_id(shape.id)
            container = ifcopenshell.util.element.get_container(product)
            out.append((product.GlobalId, product.is_a(),
                        ifcopenshell.util.element.get_predefined_type(product),
                        container.Name if container and container.is_a("IfcBuildingStorey")
                        else None, verts, faces))
        if not iterator.next():
            return model, out


@pytest.fixture(scope="module")
def expected():
    """What ifcopenshell says about each model, computed once."""
    return {key: ifc_shapes(require_shared_data("ifc", name)) for key, name in MODELS.items()}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    data = tmp_path_factory.mktemp("analysis-data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CIMTWIN_ADMIN_TOKEN", "admin-secret")
        app = create_app({"data": {"dir": str(data)}})
        services = app.extensions["cimtwin"]
        ids = {key: import_bim_file(services, require_shared_data("ifc", name),
                                    tileset_id=key)["id"] for key, name in MODELS.items()}
        app.config["model_ids"] = ids
        yield app


@pytest.fixture(scope="module")
def services(app):
    return app.extensions["cimtwin"]


def tops_and_base(shapes):
    tops = {gid: float(v[:, 2].max()) for gid, _, _, _, v, _ in shapes}
    base = min(float(v[:, 2].min()) for *_, v, _ in shapes)
    return tops, base


def limit_in_a_gap(tops: dict[str, float], base: float) -> float:
    """A limit in the middle of the widest gap between element tops (no element near it)."""
    heights = np.unique(np.round(np.array(list(tops.values())) - base, 3))
    gaps = np.diff(heights)
    i = int(np.argmax(gaps[:-1])) if len(gaps) > 1 else 0
    assert gaps[i] > 0.05
    return float(heights[i] + gaps[i] / 2)


@pytest.mark.parametrize("key", MODELS)
def test_height_and_exceeding_elements_match_ifcopenshell(services, expected, key):
    _, shapes = expected[key]
    tops, base = tops_and_base(shapes)
    limit = limit_in_a_gap(tops, base)
    result = analysis.height_check(analysis.model_geometry(services, key), limit)
    # The model's top above its lowest point, in metres (the georeference only moves it).
    assert result["height_m"] == pytest.approx(max(tops.values()) - base, abs=0.01)
    assert result["base"] == "geometry"
    assert result["pass"] is False
    wanted = {gid for gid, top in tops.items() if top - base > limit}
    assert {e["GlobalId"] for e in result["exceeding"]} == wanted
    for element in result["exceeding"]:
        assert element["top_m"] == pytest.approx(tops[element["GlobalId"]] - base, abs=0.01)


def test_limit_above_the_model_passes(services, expected):
    tops, base = tops_and_base(expected["fzk"][1])
    result = analysis.height_check(analysis.model_geometry(services, "fzk"),
                                   max(tops.values()) - base + 0.5)
    assert result["pass"] is True and result["exceeding"] == []


def test_given_ground_is_the_base(services, expected):
    tops, base = tops_and_base(expected["fzk"][1])
    geometry = analysis.model_geometry(services, "fzk")
    lowest = float(geometry.height.min())  # the model's own datum: where the IFC put it
    result = analysis.height_check(geometry, 100.0, ground_m=lowest - 2.0)
    assert result["base"] == "given" and result["base_m"] == pytest.approx(lowest - 2.0)
    assert result["height_m"] == pytest.approx(max(tops.values()) - base + 2.0, abs=0.01)
    site = analysis.height_check(geometry, 100.0, site_ground_m=lowest + 1.0)
    assert site["base"] == "site"
    assert site["height_m"] == pytest.approx(max(tops.values()) - base - 1.0, abs=0.01)


def floor_slab_gross_areas(model) -> dict[str, float]:
    """Per storey: GrossArea quantities of the floor slabs, read with ifcopenshell."""
    areas: dict[str, float] = {}
    for slab in model.by_type("IfcSlab"):
        if ifcopenshell.util.element.get_predefined_type(slab) not in ("FLOOR", "BASESLAB"):
            continue
        quantities = ifcopenshell.util.element.get_psets(slab, qtos_only=True)
        gross = [q["GrossArea"] for q in quantities.values() if "GrossArea" in q]
        storey = ifcopenshell.util.element.get_container(slab).Name
        areas[storey] = areas.get(storey, 0.0) + gross[0]
    return areas


def test_floor_area_from_slab_quantities(services, expected):
    model, _ = expected["fzk"]
    wanted = floor_slab_gross_areas(model)
    geometry = analysis.model_geometry(services, "fzk")
    records = analysis.index_records(_index(services, "fzk"))
    total = sum(wanted.values())
    result = analysis.floor_area_check(geometry, records, far=total / 1000 + 0.01,
                                       site_area_m2=1000.0)
    assert result["method"].startswith("IfcSlab quantities")
    assert result["floor_area_m2"] == pytest.approx(total, abs=0.01)
    assert {s["storey"]: s["area_m2"] for s in result["storeys"]} == pytest.approx(wanted, abs=0.01)
    assert result["permitted_m2"] == pytest.approx(total + 10.0)
    assert result["pass"] is True
    assert result["far_m"] == pytest.approx(total / 1000, abs=1e-3)
    tight = analysis.floor_area_check(geometry, records, far=total / 1000 - 0.01,
                                      site_area_m2=1000.0)
    assert tight["pass"] is False


def slab_outlines(shapes) -> dict[str, float]:
    """Per storey: outline area (holes filled) of the floor slabs' upward faces."""
    polygons: dict[str, list] = {}
    for _, cls, ptype, storey, verts, faces in shapes:
        if not cls.startswith("IfcSlab") or ptype not in ("FLOOR", "BASESLAB", None) or not storey:
            continue
        tri = verts[faces]
        up = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])[:, 2] > 2e-4
        polygons.setdefault(storey, []).extend(Polygon(t[:, :2]) for t in tri[up])
    out = {}
    for storey, parts in polygons.items():
        union = union_all(parts)
        out[storey] = sum(Polygon(p.exterior).area for p in getattr(union, "geoms", [union]))
    return out


def test_floor_area_from_storey_outlines_without_quantities(services, expected):
    _, shapes = expected["duplex"]  # Revit 2011 slabs carry no base quantities
    wanted = slab_outlines(shapes)
    result = analysis.floor_area(analysis.model_geometry(services, "duplex"),
                                 analysis.index_records(_index(services, "duplex")))
    assert result["method"].startswith("storey outlines")
    got = {s["storey"]: s["area_m2"] for s in result["storeys"]}
    assert set(wanted) <= set(got)
    for storey, area in wanted.items():
        assert got[storey] == pytest.approx(area, rel=0.01), storey


def test_geometry_reads_every_indexed_element(services):
    geometry = read_element_geometry(services.store, "duplex")
    indexed = {e["GlobalId"] for e in analysis.index_records(_index(services, "duplex"))}
    assert {e["GlobalId"] for e in geometry.elements} == indexed


def _index(services, tileset_id):
    from bim_import import ElementIndex
    from server.bim_imports import element_index_path
    return ElementIndex(element_index_path(services, tileset_id))


def test_coverage_from_the_footprint_outline(services, expected):
    _, shapes = expected["fzk"]
    parts = []
    for _, cls, _, _, verts, faces in shapes:
        if cls == "IfcSite":  # the terrain body is not building
            continue
        tri = verts[faces]
        normal_z = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])[:, 2]
        parts.extend(Polygon(t[:, :2]) for t in tri[np.abs(normal_z) > 2e-4])
    union = union_all(parts)
    footprint = sum(Polygon(p.exterior).area for p in getattr(union, "geoms", [union]))
    geometry = analysis.model_geometry(services, "fzk")
    result = analysis.coverage_check(geometry, coverage=35, site_area_m2=1000.0)
    assert result["footprint_m2"] == pytest.approx(footprint, rel=0.01)
    assert result["limit"] == 0.35  # 35 (percent) and 0.35 mean the same limit
    assert result["pass"] is (footprint / 1000 <= 0.35)
    tight = analysis.coverage_check(geometry, coverage=footprint / 1000 - 0.01,
                                    site_area_m2=1000.0)
    assert tight["pass"] is False
