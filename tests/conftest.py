"""Shared test fixtures.

Tests that need the real test data in ../shared/data use the ``shared_data`` fixture:
outside CI they are skipped when the data is absent; in CI (CI=true) they fail.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = (ROOT.parent / "shared" / "data").resolve()


def require_shared_data(*parts: str) -> Path:
    """Path to a file of ../shared/data; skip outside CI when missing, fail in CI."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        message = f"test data missing: {path} (see ../shared/data/SOURCES.md)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def shared_data():
    """Callable fixture: shared_data("ifc", "AC20-FZK-Haus.ifc") -> Path."""
    return require_shared_data
