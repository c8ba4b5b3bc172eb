"""Uploads that become import jobs, and their status (/api/imports, /api/jobs).

An upload is written to ``<data_dir>/uploads/<job>/`` (checked against the client's
declared size and optional SHA-256, so a truncated upload is refused before any work),
then the same import function the CLI calls runs as a background job.
"""
from __future__ import annotations

import hashlib
import shutil
import uuid
from pathlib import Path

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import BadRequest, NotFound
from werkzeug.utils import secure_filename

from server.auth import refusal, require
from server.config import CLASSIFICATIONS
from server.errors import problem
from server.services import current_services

bp = Blueprint("jobs_api", __name__)

#: kind -> (accepted file suffixes, function running the import)
IMPORT_KINDS = ("mesh", "bim", "layer")
SUFFIXES = {
    "mesh": {".obj", ".ply", ".glb", ".gltf", ".zip", ".stl", ".off"},
    "bim": {".ifc"},
    "layer": {".geojson", ".json", ".gpkg", ".zip", ".csv", ".shp"},
}


def jobs():
    """The app's JobQueue (made on first use)."""
    services = current_services()
    queue = current_app.extensions.get("cimtwin.jobs")
    if queue is None:
        from server.errors import domain_errors
        from server.jobs import JobQueue
        queue = JobQueue(services.data_dir / "jobs.sqlite",
                         user_errors=(*domain_errors(), FileNotFoundError))
        current_app.extensions["cimtwin.jobs"] = queue
    return queue


def _save_upload(job_dir: Path) -> Path:
    """Write the uploaded file; refuse empty, truncated or corrupted uploads."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise BadRequest("send the file as multipart/form-data field 'file'")
    name = secure_filename(upload.filename) or "upload"
    job_dir.mkdir(parents=True, exist_ok=True)
    target = job_dir / name
    digest = hashlib.sha256()
    size = 0
    with open(target, "wb") as out:
        for chunk in iter(lambda: upload.stream.read(1 << 20), b""):
            out.write(chunk)
            digest.update(chunk)
            size += len(chunk)
    expected_size = request.form.get("size", type=int)
    expected_sha = (request.form.get("sha256") or "").lower()
    if size == 0:
        raise BadRequest(f"the uploaded file '{name}' is empty")
    if expected_size is not None and expected_size != size:
        raise BadRequest(f"upload truncated: received {size} bytes of {expected_size}; send it again")
    if expected_sha and expected_sha != digest.hexdigest():
        raise BadRequest("upload corrupted: its SHA-256 does not match 'sha256'; send it again")
    return target


def _runner(kind: str, services, path: Path, form) -> callable:
    """The import to run for ``kind``, bound to its form parameters."""
    classification = form.get("classification", "internal")
    if classification not in CLASSIFICATIONS:
        raise BadRequest(f"classification must be one of {', '.join(CLASSIFICATIONS)}")
    name = form.get("name") or None
    if kind == "mesh":
        from server.imports import import_mesh
        return lambda progress: import_mesh(
            services, path, crs=form.get("crs"), origin=form.get("origin"), name=name,
            classification=classification, vertical=form.get("vertical", "ellipsoidal"),
            progress=progress)
    if kind == "bim":
        from server.bim_api import import_bim_file
        rotation = form.get("rotation", type=float)
        return lambda progress: import_bim_file(
            services, path, name=name, crs=form.get("crs") or None,
            origin=form.get("origin") or None, rotation=rotation,
            classification=classification, progress=progress)
    from layers.importer import import_layer

    def run_layer(progress):
        info = import_layer(services.layers, path, layer_id=form.get("id") or None, title=name,
                            kind=form.get("kind") or None, crs=form.get("crs") or None,
                            classification=classification)
        return info.to_dict() if hasattr(info, "to_dict") else dict(vars(info))
    return run_layer


@bp.post("/api/imports/<kind>")
def post_import(kind: str):
    if kind not in IMPORT_KINDS:
        raise NotFound(f"unknown import kind '{kind}'; one of {', '.join(IMPORT_KINDS)}")
    refused = refusal("import-bim" if kind == "bim" else "import")
    if refused is not None:
        return refused
    services = current_services()
    job_dir = services.data_dir / "uploads" / uuid.uuid4().hex[:12]
    try:
        path = _save_upload(job_dir)
        if path.suffix.lower() not in SUFFIXES[kind]:
            raise BadRequest(f"a {kind} import takes {', '.join(sorted(SUFFIXES[kind]))} files, "
                             f"not '{path.name}'")
        run = _runner(kind, services, path, request.form)
    except Exception:
        shutil.rmtree(job_dir, ignore_errors=True)
        raise
    params = {"file": path.name, **{k: v for k, v in request.form.items() if k != "sha256"}}
    job = jobs().submit(kind, params, run)
    response = jsonify(job)
    response.status_code = 202
    response.headers["Location"] = f"/api/jobs/{job['id']}"
    return response


@bp.get("/api/jobs")
@require("jobs")
def list_jobs():
    return jsonify(jobs().list())


@bp.get("/api/jobs/<job_id>")
@require("jobs")
def get_job(job_id: str):
    job = jobs().get(job_id)
    if job is None:
        return problem(404, "Not Found", f"no job '{job_id}'")
    return jsonify(job)
