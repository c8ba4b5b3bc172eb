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


# --- Real backing services (tests/services.py) ---------------------------------------------

@pytest.fixture(scope="session")
def postgres_server():
    """One PostgreSQL + PostGIS cluster for the session (own folder, loopback port)."""
    from tests.services import start_postgres
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server):
    """URL of a fresh, empty PostGIS-enabled database for one test."""
    return postgres_server.create_database()


@pytest.fixture
def redis_server(tmp_path_factory):
    """A Redis server of this test's own (loopback port, own folder); `.url` is redis://..."""
    from tests.services import start_redis
    service = start_redis(tmp_path_factory.mktemp("redis"))
    yield service
    service.stop()


@pytest.fixture
def redis_url(redis_server):
    return redis_server.url + "/0"


@pytest.fixture
def mosquitto(tmp_path_factory):
    """A Mosquitto broker of this test's own: `.host`, `.port`, `.restart()`, `.stop()`."""
    from tests.services import start_mosquitto
    service = start_mosquitto(tmp_path_factory.mktemp("mosquitto"))
    yield service
    service.stop()
