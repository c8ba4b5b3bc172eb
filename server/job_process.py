"""An upload's import in its own process, for servers whose workers are greenlets.

Under gunicorn's gevent workers a conversion must not run in the worker: its reading and
partitioning would hold the worker's one thread (no request answered meanwhile), and the
engine's process pool does not shut down under gevent's patched threads (its manager
thread's join never returns). So ``run_in_process`` starts ``python -m server.job_process``
with the job's spec on stdin; the child runs the same ``server.imports.run_import`` and
prints one JSON line per progress update, then the result (or the error). The child ends
itself when its worker goes away (a killed worker's import is resumed by the next one).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

from server.config import PROJECT_ROOT

#: Open child processes of this worker (ended when the worker stops).
children: set[subprocess.Popen] = set()


class JobFailed(Exception):
    """The import refused its input (the child's message, for the job's error)."""


def greenlet_workers() -> bool:
    """True under gevent's monkey-patched threads (gunicorn -k gevent)."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and monkey.is_module_patched("threading")


def run_in_process(kind: str, spec: dict, progress: Callable[[dict], None]) -> dict:
    """Run the import of ``spec`` ({"source", "values"}) in a child; its result."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    child = subprocess.Popen([sys.executable, "-m", "server.job_process"], env=env,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    children.add(child)
    try:
        child.stdin.write(json.dumps({"kind": kind, **spec}) + "\n")
        child.stdin.close()
        outcome: dict = {"error": "the import process ended without a result", "user": False}
        for line in child.stdout:
            message = json.loads(line)
            if "progress" in message:
                progress(message["progress"])
            else:
                outcome = message
        child.wait()
    finally:
        children.discard(child)
    if "result" in outcome:
        return outcome["result"]
    if outcome.get("user"):
        raise JobFailed(outcome["error"])
    raise RuntimeError(outcome["error"])


def stop_children() -> None:
    """Worker shutdown: end the imports this worker started (they resume later)."""
    for child in list(children):
        child.terminate()


def _exit_with_parent() -> None:
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(3)


def main() -> int:
    from server.config import load_config
    from server.errors import domain_errors
    from server.imports import run_import
    from server.services import Services
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    spec = json.loads(sys.stdin.readline())
    out = sys.stdout

    def progress(status: dict) -> None:
        out.write(json.dumps({"progress": status}, default=str) + "\n")
        out.flush()
    sys.stdout = sys.stderr  # library prints do not mix with the messages
    try:
        result = run_import(Services(load_config()), spec["kind"], Path(spec["source"]),
                            progress=progress, **spec["values"])
        message = {"result": result}
    except (*domain_errors(), FileNotFoundError) as exc:
        message = {"error": str(exc), "user": True}
    except Exception as exc:  # a bug: the trace goes to the log, the type to the job
        import traceback
        traceback.print_exc()
        message = {"error": f"{type(exc).__name__}: {exc}", "user": False}
    out.write(json.dumps(message, default=str) + "\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
