"""Fixtures for the tiles engine tests: generated meshes and built tilesets."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_gen_mesh():
    spec = importlib.util.spec_from_file_location("gen_mesh", ROOT / "bench" / "gen_mesh.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def gen_mesh():
    """bench/gen_mesh.py: deterministic generated terrain batches with features."""
    return _load_gen_mesh()
