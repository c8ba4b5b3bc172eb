"""Uploads that become import jobs, and their status (/api/imports, /api/jobs).

An upload is written to ``<data_dir>/uploads/<job>/`` (checked against the client's
declared size and optional SHA-256, so a truncated upload is refused before any work),
then the registry's import (server.imports.run_import, the one the CLI calls) runs
as a background job. Form fields are the kind's option names; a folder kind (photo)
is uploaded as a .zip of the folder.
"""
from __future__ import annotations

import hashlib
import shutil
import uuid
import zipfile
from pathlib import Path

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import BadRequest, NotFound
from werkzeug.utils import secure_filename

from server.auth import refusal, require
from server.errors import domain_errors, problem
from server.imports import ImportKind, kinds, pairs, run_import
from server.job_process import JobFailed, greenlet_workers, run_in_process, stop_children
from server.jobs import JobQueue
from server.archives import check_archive
from server.services import current_services
from server.api_schemas import IMPORT_FORM, JOB, OBJECT, array
from server.openapi import describe

bp = Blueprint("jobs_api", __name__)

def jobs():
    """The app's JobQueue (made on first use)."""
    services = current_services()
    queue = current_app.extensions.get("cimtwin.jobs")
    if queue is None:
        queue = JobQueue(services.data_dir / "jobs.sqlite",
                         user_errors=(*domain_errors(), FileNotFoundError, JobFailed))
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
        raise BadRequest(f"upload truncated: received {size} bytes of {expected_size}; "
                         "send it again")
    if expected_sha and expected_sha != digest.hexdigest():
        raise BadRequest("upload corrupted: its SHA-256 does not match 'sha256'; send it again")
    return target


def _unpack_folder(archive: Path) -> Path:
    """A .zip of a folder -> the unpacked folder (its single top folder, else its root)."""
    target = archive.parent / "source"
    try:
        with zipfile.ZipFile(archive) as zf:
            for member in zf.namelist():  # refuse entries that would land outside target
                resolved = (target / member).resolve()
                if not resolved.is_relative_to(target.resolve()):
                    raise BadRequest(f"the zip holds an unsafe path {member!r}")
            zf.extractall(target)
    except zipfile.BadZipFile:
        raise BadRequest(f"'{archive.name}' is not a readable zip file; send it again") from None
    archive.unlink()
    entries = [p for p in target.iterdir() if not p.name.startswith(("__MACOSX", "."))]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else target


def form_values(kind: ImportKind, form) -> dict:
    """The kind's options from the upload form (field = option name; FIELD=VALUE repeats)."""
    values = {}
    for option in kind.options:
        if option.type is pairs:
            items = form.getlist(option.name)
            values[option.name] = items or None
        elif option.name in form:
            values[option.name] = form.get(option.name)
    return values


def _source(kind: ImportKind, job_dir: Path, limits: dict) -> Path:
    """Save the upload and check it fits the kind; a folder kind's zip is unpacked."""
    path = _save_upload(job_dir)
    if path.suffix.lower() == ".zip":  # zip bombs are refused before any reader opens them
        check_archive(path, limits)
    accepted = kind.inputs.upload_suffixes()
    if path.suffix.lower() not in accepted:
        raise BadRequest(f"a {kind.name} import takes {', '.join(sorted(accepted))} files, "
                         f"not '{path.name}'")
    return _unpack_folder(path) if kind.inputs.folder else path


def describe_kind(kind: ImportKind) -> dict:
    """A kind as the upload form needs it: accepted files and each option's field."""
    return {"name": kind.name, "help": kind.help,
            "accepts": list(kind.inputs.upload_suffixes()), "folder": kind.inputs.folder,
            "options": [{"name": o.name, "type": getattr(o.type, "__name__", "str"),
                         "default": o.default, "choices": list(o.choices or []) or None,
                         "help": o.help} for o in kind.options]}


def _runner(services, kind: str, spec: dict):
    """The job body of an upload import (also when it resumes after a restart); in a
    child process under greenlet workers (server.job_process says why)."""
    if greenlet_workers():
        return lambda progress: run_in_process(kind, spec, progress)
    return lambda progress: run_import(services, kind, Path(spec["source"]),
                                       progress=progress, **spec["values"])


def resume_jobs(app) -> list[str]:
    """At server start: run again the uploads' imports a stopped server left interrupted."""
    with app.app_context():
        services = current_services()
        return jobs().resume_interrupted(lambda kind, spec: _runner(services, kind, spec))


def interrupt_jobs(app) -> None:
    """At server stop: this process's unfinished imports become 'interrupted'."""
    queue = app.extensions.get("cimtwin.jobs")
    if queue is not None:
        stop_children()
        queue.interrupt_own()


@bp.get("/api/imports")
@require("import")
@describe("The import kinds and their upload fields", tag="imports", response=array(OBJECT))
def list_import_kinds():
    """The registered import kinds with their upload fields (from the registry)."""
    return jsonify([describe_kind(kind) for kind in kinds()])


@bp.post("/api/imports/<kind>")
@describe("Upload a file to import (multipart); queues a job (202, Location: the job)",
          tag="imports", status=202, response=JOB, body=IMPORT_FORM,
          body_type="multipart/form-data", action="import", errors=(413,))
def post_import(kind: str):
    entry = next((k for k in kinds() if k.name == kind), None)
    if entry is None:
        raise NotFound(f"unknown import kind '{kind}'; one of "
                       f"{', '.join(k.name for k in kinds())}")
    refused = refusal("import-bim" if kind == "bim" else "import")
    if refused is not None:
        return refused
    services = current_services()
    job_dir = services.data_dir / "uploads" / uuid.uuid4().hex[:12]
    try:
        source = _source(entry, job_dir, services.config["limits"])
        values = form_values(entry, request.form)
        entry.resolve(values)  # a bad option is refused now, not in the job
    except Exception:
        shutil.rmtree(job_dir, ignore_errors=True)
        raise
    params = {"file": source.name, **{k: v for k, v in request.form.items() if k != "sha256"}}
    resume = {"source": str(source), "values": values}
    job = jobs().submit(kind, params, _runner(services, kind, resume), resume=resume)
    response = jsonify(job)
    response.status_code = 202
    response.headers["Location"] = f"/api/v1/jobs/{job['id']}"
    return response


@bp.get("/api/jobs")
@require("jobs")
@describe("Recent import jobs", tag="imports", response=array(JOB))
def list_jobs():
    return jsonify(jobs().list())


@bp.get("/api/jobs/<job_id>")
@require("jobs")
@describe("One import job: state, progress, result or error", tag="imports", response=JOB)
def get_job(job_id: str):
    job = jobs().get(job_id)
    if job is None:
        return problem(404, "Not Found", f"no job '{job_id}'")
    return jsonify(job)
