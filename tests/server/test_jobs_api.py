"""Uploads become jobs; bad uploads are refused before any work and leave nothing behind."""
import hashlib
import io

import pytest

from server.app import create_app

ADMIN = {"Authorization": "Bearer admin-secret"}


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("CIMTWIN_ADMIN_TOKEN", "admin-secret")
    return create_app({"data": {"dir": str(tmp_path / "data")}})


def upload(client, kind, data: bytes, name="model.obj", headers=ADMIN, **form):
    form = {"file": (io.BytesIO(data), name), **form}
    return client.post(f"/api/imports/{kind}", data=form, headers=headers,
                       content_type="multipart/form-data")


def uploads_left(app):
    root = app.extensions["cimtwin"].data_dir / "uploads"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_imports_require_the_admin_token(app):
    client = app.test_client()
    assert upload(client, "mesh", b"v 0 0 0\n", headers={}).status_code == 401
    assert upload(client, "mesh", b"v 0 0 0\n",
                  headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert client.get("/api/jobs").status_code == 401


@pytest.mark.parametrize("kind, data, name, form, words", [
    ("mesh", b"v 0 0 0\n" * 10, "m.obj", {"size": "9999"}, ["truncated", "80", "9999"]),
    ("mesh", b"v 0 0 0\n", "m.obj", {"sha256": "00" * 32}, ["SHA-256"]),
    ("mesh", b"", "m.obj", {}, ["empty"]),
    ("bim", b"ISO-10303-21;", "model.obj", {}, [".ifc"]),
    ("mesh", b"v 0 0 0\n", "m.obj", {"classification": "secret"}, ["classification"]),
])
def test_bad_uploads_are_refused_and_nothing_is_kept(app, kind, data, name, form, words):
    response = upload(app.test_client(), kind, data, name=name, **form)
    assert response.status_code == 400
    detail = response.get_json()["detail"]
    for word in words:
        assert word in detail
    assert uploads_left(app) == []


def test_unknown_import_kind_is_404(app):
    assert upload(app.test_client(), "cad", b"x").status_code == 404


def test_a_failed_job_reports_what_to_do(app):
    """A mesh without --crs fails in the job with the message naming the flags."""
    client = app.test_client()
    data = b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"
    response = upload(client, "mesh", data, size=str(len(data)),
                      sha256=hashlib.sha256(data).hexdigest())
    assert response.status_code == 202
    job_id = response.get_json()["id"]
    assert response.headers["Location"] == f"/api/v1/jobs/{job_id}"
    job = app.extensions["cimtwin.jobs"].wait(job_id, timeout=60)
    assert job["state"] == "failed"
    assert "--crs" in job["error"] and "--origin" in job["error"]
    assert client.get(f"/api/jobs/{job_id}", headers=ADMIN).get_json()["state"] == "failed"
    assert app.extensions["cimtwin"].catalog.list() == []
