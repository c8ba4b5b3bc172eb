"""`cimtwin serve --workers N` stopping and losing workers (real gunicorn subprocesses).

SIGTERM: a request in flight completes, a live stream gets a final retry hint, a running
import is left 'interrupted' (not 'running') and the next start resumes it. kill -9 of a
worker: the master replaces it, requests keep succeeding, the metrics still add up.
"""
from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import sqlite3
import time
import urllib.request

import psutil

from server.config import load_config
from server.services import Services
from tests.deploy.helpers import ADMIN, GLB, Workers, publish_two

READING = {"sensor_id": "s1", "metric": "pm25", "value": 7.5, "time": "2026-12-01T00:00:00Z"}
#: The resumed import converts in one process (no pool to start: the test stays short).
ONE_PROCESS = {"CIMTWIN_TILES__WORKERS": "1"}
OBJ = "v 0 0 0\nv 10 0 0\nv 0 10 0\nv 10 10 5\nf 1 2 3\nf 2 4 3\n"


def _prepare(data) -> None:
    publish_two(data)
    Services(load_config({"data": {"dir": str(data)}})).metrics.register(
        [{"id": "s1", "classification": "public", "metrics": "pm25"}])


def _get(url: str, headers: dict | None = None):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _workers_of(server: Workers) -> list[int]:
    return sorted(c.pid for c in psutil.Process(server.process.pid).children())


def _wait_for(check, timeout: float = 20.0, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (found := check()):
            return found
        time.sleep(step)
    raise AssertionError(f"not reached in {timeout} s")


def _plant_running_job(data, owner: int, source) -> str:
    """A mesh import as the jobs API records it, running in worker ``owner``."""
    resume = {"source": str(source), "values": {
        "crs": "EPSG:4548", "origin": "500000,4060000,0", "id": "resumed",
        "classification": "public"}}
    db = sqlite3.connect(data / "jobs.sqlite")
    with db:
        db.execute("INSERT INTO jobs (id, kind, state, params, progress, created, updated, "
                   "owner, resume) VALUES ('job1', 'mesh', 'running', '{}', '{}', "
                   "'2026-12-01T00:00:00+00:00', '2026-12-01T00:00:00+00:00', ?, ?)",
                   (str(owner), json.dumps(resume)))
    db.close()
    return "job1"


def _job_row(data, job_id: str) -> tuple[str, str]:
    db = sqlite3.connect(data / "jobs.sqlite")
    try:
        return tuple(db.execute("SELECT state, owner FROM jobs WHERE id=?", (job_id,)).fetchone())
    finally:
        db.close()


def test_sigterm_finishes_requests_hints_streams_and_leaves_imports_resumable(tmp_path):
    data = tmp_path / "data"
    _prepare(data)
    source = tmp_path / "site.obj"
    source.write_text(OBJ)
    server = Workers(data, 1, env=ONE_PROCESS)
    try:
        (worker,) = _wait_for(lambda: _workers_of(server))
        _wait_for(lambda: _get(server.url + "/api/health/live")[0] == 200)
        job_id = _plant_running_job(data, worker, source)
        stream = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        stream.request("GET", "/api/metrics/stream")
        events = stream.getresponse()
        assert events.readline().startswith(b"retry:")
        # A slow request: its body is still arriving when SIGTERM comes.
        body = json.dumps([READING]).encode()
        slow = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        slow.sendall(b"POST /api/metrics HTTP/1.1\r\nHost: x\r\nContent-Type: "
                     b"application/json\r\nAuthorization: Bearer " + ADMIN.encode()
                     + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:10])
        time.sleep(0.3)
        server.process.send_signal(signal.SIGTERM)
        tail = b"".join(iter(events.readline, b""))  # the stream ends by itself
        stream.close()
        assert b"event: shutdown" in tail and b"retry: " in tail
        time.sleep(0.5)
        slow.sendall(body[10:])
        answer = slow.recv(4096)
        slow.close()
        assert answer.startswith(b"HTTP/1.1 202"), answer[:200]
        assert server.process.wait(20) == 0
        assert not psutil.pid_exists(worker) or psutil.Process(worker).status() == "zombie"
        assert _job_row(data, job_id)[0] == "interrupted"
    finally:
        server.stop()
    # The next start claims the interrupted import and runs it again (to the end: see
    # tests/deploy/test_jobs_resume.py); stopped meanwhile, it is interrupted once more.
    again = Workers(data, 1, env=ONE_PROCESS)
    try:
        (new_worker,) = _wait_for(lambda: _workers_of(again))
        _wait_for(lambda: _job_row(data, job_id) == ("running", str(new_worker)))
    finally:
        again.stop()
    assert _job_row(data, job_id)[0] == "interrupted"


def test_a_killed_worker_is_replaced_and_requests_keep_succeeding(tmp_path):
    data = tmp_path / "data"
    _prepare(data)
    server = Workers(data, 2)
    admin = {"Authorization": f"Bearer {ADMIN}"}
    try:
        before = _wait_for(lambda: (w := _workers_of(server)) and len(w) == 2 and w)
        answers, killed = [], None
        deadline = time.monotonic() + 8
        while len(answers) < 120 and time.monotonic() < deadline:
            if len(answers) == 30:
                killed = before[0]
                os.kill(killed, signal.SIGKILL)
            status, body = _get(server.url + "/tiles/open/t/0.glb")
            answers.append(status == 200 and body == GLB)
        assert killed is not None and len(answers) >= 60 and all(answers)
        after = _wait_for(lambda: (w := _workers_of(server)) and len(w) == 2
                          and killed not in w and w)
        assert before[1] in after
        # No corrupted state: the catalog, the metrics store and the stream still work.
        status, body = _get(server.url + "/api/tilesets")
        assert status == 200 and {t["id"] for t in json.loads(body)} == {"open"}
        request = urllib.request.Request(server.url + "/api/metrics", method="POST",
                                         data=json.dumps([READING]).encode(),
                                         headers=admin | {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 202
        status, body = _get(server.url + "/metrics", admin)
        assert status == 200
        served = [line for line in body.decode().splitlines()
                  if line.startswith("cimtwin_http_requests_total{")
                  and 'route="/tiles/<tileset_id>/<path:path>"' in line]
        # every tile answered, also by the killed worker, is counted once
        assert sum(float(line.rpartition(" ")[2]) for line in served) == len(answers)
    finally:
        server.stop()


def test_through_nginx_a_killed_worker_costs_no_request(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from deploy.render import nginx_site
    from tests.services import free_port, start_nginx
    data = tmp_path / "data"
    _prepare(data)
    server = Workers(data, 2)
    port = free_port()
    nginx = start_nginx(nginx_site(f"127.0.0.1:{port}", f"127.0.0.1:{server.port}", data),
                        tmp_path / "nginx", port)
    url = f"http://127.0.0.1:{port}/api/tilesets/open"  # answered by a worker every time
    try:
        before = _wait_for(lambda: (w := _workers_of(server)) and len(w) == 2 and w)

        def one() -> int:
            try:
                return _get(url)[0]
            except http.client.IncompleteRead:
                return -1  # the answer was cut off mid-body by the SIGKILL

        def client(n: int) -> list[int]:
            return [one() for _ in range(40)]
        with ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(client, n) for n in range(4)]
            time.sleep(0.3)
            os.kill(before[0], signal.SIGKILL)
            statuses = [s for f in futures for s in f.result(timeout=60)]
        # nginx retries every request the dead worker had not started answering; one
        # whose answer was already under way when SIGKILL landed cannot be retried
        # (nginx has sent its status line or part of the body): at most one per
        # concurrent client, as a 502 or a cut-off body. The full suite saw one cut-off
        # body once; alone the test sees none.
        failed = [s for s in statuses if s != 200]
        assert len(statuses) == 160 and len(failed) <= 4 and set(failed) <= {502, -1}, failed
    finally:
        nginx.stop()
        server.stop()
