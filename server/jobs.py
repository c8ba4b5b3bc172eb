"""Background jobs: long imports run off the request thread and report progress.

Jobs are kept in SQLite (``<data_dir>/jobs.sqlite``) so their outcome survives a
restart. Each queued or running job names the process that owns it (several gunicorn
workers share the file). When that process stops (SIGTERM: ``interrupt_own``) or is found
dead at another process's start-up, its jobs become 'interrupted'; a job submitted with a
``resume`` spec is then run again by the next server that calls ``resume_interrupted``
(one process claims each job; the engine keeps its work folder and publishes atomically,
so a re-run resumes and nothing is half-published). A job without a spec is marked
failed. One worker thread runs jobs in order, since each conversion already uses every
core.
"""
from __future__ import annotations

import json
import os
import queue
import sqlite3
import threading
import time
import traceback
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

STATES = ("queued", "running", "interrupted", "done", "failed")
INTERRUPTED = "interrupted by a server stop; it resumes when the server starts again"
NOT_RESUMABLE = "interrupted by a server restart; run it again"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class JobQueue:
    """A persistent list of jobs and one worker thread that runs them."""

    def __init__(self, path: Path, user_errors: tuple[type[Exception], ...] = ()):
        self.path = Path(path)
        self.user_errors = user_errors
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._last_write: dict[str, float] = {}
        with self._db() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("""CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, kind TEXT,
                state TEXT, params TEXT, progress TEXT, result TEXT, error TEXT,
                created TEXT, updated TEXT)""")
            columns = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
            for column in ("owner", "resume"):
                if column not in columns:
                    db.execute(f"ALTER TABLE jobs ADD COLUMN {column} TEXT")
            self._interrupt(db, [row["owner"] for row in db.execute(
                "SELECT DISTINCT owner FROM jobs WHERE state IN ('queued','running')")
                if not _alive(row["owner"])])

    def _interrupt(self, db: sqlite3.Connection, owners: list) -> None:
        """Jobs of ``owners`` (process ids, None for old rows) that were not finished."""
        for owner in owners:
            match = "owner IS ?" if owner is None else "owner = ?"
            db.execute(f"UPDATE jobs SET state='interrupted', error=?, updated=? WHERE {match} "
                       "AND state IN ('queued','running') AND resume IS NOT NULL",
                       (INTERRUPTED, _now(), owner))
            db.execute(f"UPDATE jobs SET state='failed', error=?, updated=? WHERE {match} "
                       "AND state IN ('queued','running')", (NOT_RESUMABLE, _now(), owner))

    def interrupt_own(self) -> None:
        """At shutdown: this process's unfinished jobs become 'interrupted'."""
        with self._db() as db:
            self._interrupt(db, [str(os.getpid())])

    def resume_interrupted(self, make_run: Callable[[str, dict], Callable]) -> list[str]:
        """Queue again every interrupted job with a resume spec that this process claims
        first; ``make_run(kind, spec)`` rebuilds its ``run``. Returns the job ids."""
        with self._db() as db:
            rows = db.execute("SELECT id, kind, resume FROM jobs WHERE state='interrupted' "
                              "AND resume IS NOT NULL ORDER BY created").fetchall()
        claimed = []
        for row in rows:
            with self._db() as db:
                won = db.execute("UPDATE jobs SET state='queued', owner=?, error=NULL, "
                                 "updated=? WHERE id=? AND state='interrupted'",
                                 (str(os.getpid()), _now(), row["id"])).rowcount
            if won:
                self._queue.put((row["id"], make_run(row["kind"], json.loads(row["resume"]))))
                claimed.append(row["id"])
        if claimed:
            self._ensure_worker()
        return claimed

    def _db(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        return db

    def submit(self, kind: str, params: dict,
               run: Callable[[Callable[[dict], None]], dict],
               resume: dict | None = None) -> dict:
        """Queue ``run(progress)``; returns the job record at once. ``resume``: what
        ``resume_interrupted``'s ``make_run`` needs to run it again after a stop."""
        job_id = uuid.uuid4().hex[:12]
        with self._db() as db:
            db.execute("INSERT INTO jobs (id, kind, state, params, progress, result, error, "
                       "created, updated, owner, resume) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                       (job_id, kind, "queued", json.dumps(params, default=str), "{}", None,
                        None, _now(), _now(), str(os.getpid()),
                        None if resume is None else json.dumps(resume, default=str)))
        self._queue.put((job_id, run))
        self._ensure_worker()
        return self.get(job_id)

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self._db() as db:
            row = db.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
        return _row(row) if row else None

    def list(self, limit: int = 50) -> list[dict[str, Any]]:
        with self._db() as db:
            rows = db.execute("SELECT * FROM jobs ORDER BY created DESC LIMIT ?",
                              (limit,)).fetchall()
        return [_row(r) for r in rows]

    def wait(self, job_id: str, timeout: float = 600) -> dict[str, Any]:
        """Block until the job is done or failed (tests, CLI)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.get(job_id)
            if job and job["state"] in ("done", "failed"):
                return job
            time.sleep(0.1)
        raise TimeoutError(f"job {job_id} still running after {timeout} s")

    def _ensure_worker(self) -> None:
        with self._lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._work, name="cimtwin-jobs",
                                                daemon=True)
                self._worker.start()

    def _update(self, job_id: str, **fields: Any) -> None:
        fields["updated"] = _now()
        cols = ", ".join(f"{k}=?" for k in fields)
        values = [json.dumps(v, default=str) if k in ("progress", "result") else v
                  for k, v in fields.items()]
        with self._db() as db:
            db.execute(f"UPDATE jobs SET {cols} WHERE id=?", (*values, job_id))

    def _progress_writer(self, job_id: str) -> Callable[[dict], None]:
        def progress(status: dict) -> None:
            now = time.monotonic()  # at most a few writes per second
            if now - self._last_write.get(job_id, 0) >= 0.5:
                self._last_write[job_id] = now
                self._update(job_id, progress=status)
        return progress

    def _work(self) -> None:
        while True:
            try:
                job_id, run = self._queue.get(timeout=5)
            except queue.Empty:
                return
            self._update(job_id, state="running")
            try:
                result = run(self._progress_writer(job_id))
                self._update(job_id, state="done", result=result)
            except self.user_errors as exc:
                self._update(job_id, state="failed", error=str(exc))
            except Exception as exc:  # a bug: keep the trace for the operator
                self._update(job_id, state="failed",
                             error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}")


def _alive(owner: str | None) -> bool:
    """True when the owning process (same host: the file is local SQLite) still runs."""
    if not owner or not owner.isdigit():
        return False
    try:
        os.kill(int(owner), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def count_by_state(path: Path) -> dict[str, int]:
    """Jobs per state, read without opening a queue (for /metrics); {} before any job."""
    if not Path(path).exists():
        return {}
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return dict(db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall())
    except sqlite3.OperationalError:
        return {}
    finally:
        db.close()


def _row(row: sqlite3.Row) -> dict[str, Any]:
    job = {k: row[k] for k in row.keys() if k not in ("owner", "resume")}
    for key in ("params", "progress", "result"):
        job[key] = json.loads(job[key]) if job[key] else None
    return job
