"""Geometry: the fast kernel chain gives OpenCASCADE's shapes; shared geometry is placed
per product."""
from __future__ import annotations

import numpy as np
import pytest

from bim_import import read_ifc
from bim_import.geometry import KERNELS, iter_shapes, meshable_products
from bim_import.ifcfile import open_ifc
from bim_import.sample import write_sample_ifc

HYBRID = "hybrid-cgal-simple-opencascade"


def _world_facts(model, products, kernels) -> dict[str, tuple]:
    """GlobalId -> (bbox min, bbox max, surface area m2) of each meshed element."""
    facts = {}
    for shape in iter_shapes(model, products, threads=2, kernels=kernels):
        world = shape.world_vertices()[shape.faces]
        area = 0.5 * np.linalg.norm(np.cross(world[:, 1] - world[:, 0],
                                             world[:, 2] - world[:, 0]), axis=1).sum()
        facts[shape.product.GlobalId] = (world.reshape(-1, 3).min(0),
                                         world.reshape(-1, 3).max(0), area)
    return facts


@pytest.mark.parametrize("name", ["Duplex_A_20110907_georeferenced.ifc",
                                  "Revit_example_IFC2X3.ifc"])
def test_kernel_chain_matches_opencascade_element_by_element(shared_data, name):
    """Walls, slabs, windows, furniture: same extent (5 mm) and area (2 %) as OpenCASCADE."""
    model = open_ifc(shared_data("ifc", name))
    products = meshable_products(model, include_spaces=False)
    reference = _world_facts(model, products, ("opencascade",))
    fast = _world_facts(model, products, KERNELS)
    assert set(fast) == set(reference)
    for gid, (lo, hi, area) in reference.items():
        f_lo, f_hi, f_area = fast[gid]
        assert np.abs(f_lo - lo).max() < 0.005 and np.abs(f_hi - hi).max() < 0.005, gid
        assert f_area == pytest.approx(area, rel=0.02), gid


def test_products_the_fast_kernel_leaves_empty_are_meshed_by_opencascade(shared_data):
    """The Duplex's mapped furniture comes back empty from the hybrid kernel alone."""
    model = open_ifc(shared_data("ifc", "Duplex_A_20110907_georeferenced.ifc"))
    products = meshable_products(model, include_spaces=False)
    furniture = [p for p in products if p.is_a("IfcFurnishingElement")]
    hybrid_only = {s.product.GlobalId for s in iter_shapes(model, furniture, kernels=(HYBRID,))}
    chain = {s.product.GlobalId for s in iter_shapes(model, furniture)}
    assert len(hybrid_only) < len(furniture)  # the case the fall-back exists for
    assert chain == {p.GlobalId for p in furniture}


def test_columns_sharing_one_representation_each_stand_in_their_place(tmp_path):
    """Typed columns map one body: meshed once, yet every column is at its own spot."""
    reader = read_ifc(write_sample_ifc(tmp_path / "s.ifc", storeys=2, columns_per_storey=3))
    batches = list(reader.batches())
    columns = {fid: f for fid, f in reader.features.items() if f["IfcClass"] == "IfcColumn"}
    assert len(columns) == 6
    for fid, props in columns.items():
        points = np.concatenate([b.positions[b.feature_ids == fid] for b in batches])
        c = int(props["Name"].split()[-1]) - 1
        z = 0.0 if props["Storey"] == "1F" else 3.0
        x = 2.0 + 2.5 * c  # write_sample_ifc places column c at (2 + 2.5c, 4, storey z)
        assert points.min(axis=0) == pytest.approx([x - 0.15, 3.85, z], abs=1e-6)
        assert points.max(axis=0) == pytest.approx([x + 0.15, 4.15, z + 3.0], abs=1e-6)


def test_a_kernel_missing_from_the_build_falls_through_to_the_next(shared_data):
    model = open_ifc(shared_data("ifc", "IfcOpenHouse_IFC4.ifc"))
    products = meshable_products(model, include_spaces=False)
    meshed = {s.product.GlobalId for s in iter_shapes(model, products,
                                                      kernels=("no-such-kernel", "opencascade"))}
    assert meshed == {p.GlobalId for p in products}
