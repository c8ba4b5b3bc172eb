"""Import jobs across server stops and several worker processes (server/jobs.py)."""
from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading

from server.jobs import JobQueue


def _dead_pid() -> str:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return str(child.pid)


def _set(path, job_id: str, **fields) -> None:
    db = sqlite3.connect(path)
    with db:
        for key, value in fields.items():
            db.execute(f"UPDATE jobs SET {key}=? WHERE id=?", (value, job_id))
    db.close()


def test_a_stopped_job_resumes_once_and_another_workers_job_is_left_alone(tmp_path):
    path = tmp_path / "jobs.sqlite"
    gate = threading.Event()
    first = JobQueue(path)
    held = first.submit("mesh", {}, lambda progress: gate.wait(10) and {"id": "a"},
                        resume={"source": "a.obj", "values": {}})
    plain = first.submit("mesh", {}, lambda progress: {"id": "b"})  # queued behind it
    first.interrupt_own()  # SIGTERM of this worker
    assert first.get(held["id"])["state"] == "interrupted"
    assert first.get(plain["id"])["state"] == "failed"  # no resume spec: say so
    gate.set()
    first.wait(held["id"])

    # A worker killed with its job running, and one still alive running another.
    live = JobQueue(path).submit("mesh", {}, lambda p: threading.Event().wait(10),
                                 resume={"source": "c.obj", "values": {}})
    _set(path, held["id"], state="running", owner=_dead_pid())
    _set(path, live["id"], state="running", owner=str(_parent_alive()))
    starting = JobQueue(path)  # another worker starts: finds the dead one's job
    assert starting.get(held["id"])["state"] == "interrupted"
    assert starting.get(live["id"])["state"] == "running"
    made = []
    resumed = starting.resume_interrupted(
        lambda kind, spec: made.append(spec) or (lambda progress: {"id": spec["source"]}))
    assert resumed == [held["id"]] and made == [{"source": "a.obj", "values": {}}]
    assert JobQueue(path).resume_interrupted(lambda kind, spec: None) == []  # claimed once
    done = starting.wait(held["id"])
    assert done["state"] == "done" and done["result"] == {"id": "a.obj"}
    assert "owner" not in done and "resume" not in done  # not in API answers


def _parent_alive() -> int:
    import os
    return os.getppid()
