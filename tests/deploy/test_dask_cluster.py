"""tiles.dask_scheduler = tcp://...: an import's tile tasks run on separate Dask worker
processes; a worker killed mid-import has its tasks retried on the other one, and the
published files are byte-identical to a local import."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from server.config import load_config
from server.services import Services
from tests.services import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
DASK = Path(sys.executable).parent / "dask"
SMALL_TILES = {"CIMTWIN_TILES__MAX_TRIANGLES_PER_TILE": "4000"}  # several tile tasks
IMPORT_TIMEOUT_S = 300


def start_group(argv: list[str], log: Path, env: dict, cwd: Path) -> subprocess.Popen:
    """A process in its own group (a `dask worker` is a nanny plus its worker process)."""
    with open(log, "wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                start_new_session=True)


def stop_group(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


@pytest.fixture
def cluster(tmp_path):
    if not DASK.exists():
        pytest.fail("dask CLI missing: pip install -r requirements.txt (dask[distributed])")
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    log = tmp_path / "scheduler.log"
    procs = {"scheduler": start_group([str(DASK), "scheduler", "--host", "127.0.0.1", "--port",
                                       str(port), "--no-dashboard"], log, env, tmp_path)}
    try:
        wait_for_port(port, 60, procs["scheduler"], log)
        address = f"tcp://127.0.0.1:{port}"
        for name in ("w1", "w2"):
            folder = tmp_path / name
            folder.mkdir()
            procs[name] = start_group(
                [str(DASK), "worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                 "--no-dashboard", "--local-directory", str(folder), "--name", name],
                folder / "log", env, folder)
        from distributed import Client  # the test's own view of the cluster
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
            yield address, client, procs
    finally:
        for proc in procs.values():
            stop_group(proc)
        for proc in procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                stop_group(proc, signal.SIGKILL)
                proc.wait()


def import_env(data: Path, env: dict) -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "CIMTWIN_DATA_DIR": str(data),
            **SMALL_TILES, **env}


def import_argv(source: Path) -> list[str]:
    return [sys.executable, "-m", "server.cli", "import", "photo", str(source), "--name", "same"]


def published(data: Path) -> dict[str, bytes]:
    store = Services(load_config({"data": {"dir": str(data)}})).store
    (tileset_id,) = store.tilesets()
    return {path: store.get(tileset_id, path) for path in store.list(tileset_id)}


def import_photo(data: Path, source: Path, env: dict) -> dict[str, bytes]:
    out = subprocess.run(import_argv(source), env=import_env(data, env), cwd=data.parent,
                         capture_output=True, text=True, timeout=IMPORT_TIMEOUT_S)
    assert out.returncode == 0, out.stderr
    return published(data)


def worker_addresses(client) -> dict[str, str]:
    """Worker name -> address, as the scheduler knows them now."""
    return {info["name"]: addr for addr, info in client.scheduler_info()["workers"].items()}


def kill_when_busy(client, proc: subprocess.Popen, name: str, importer: subprocess.Popen,
                   deadline: float) -> int:
    """SIGKILL worker ``name`` (nanny and worker process) as soon as the scheduler has
    tile tasks on it; returns how many it held."""
    address = worker_addresses(client)[name]
    while time.monotonic() < deadline and importer.poll() is None:
        held = client.processing(workers=[address]).get(address, ())
        if held:
            stop_group(proc, signal.SIGKILL)
            proc.wait(10)
            return len(held)
        time.sleep(0.02)
    pytest.fail(f"worker {name} never got a task before the import ended")


def test_dask_import_survives_a_killed_worker_and_equals_a_local_one(tmp_path, cluster,
                                                                     shared_data):
    address, client, procs = cluster
    source = shared_data("photogrammetry", "cc_obj_production5")
    copy = tmp_path / "production"
    shutil.copytree(source, copy)
    local = import_photo(tmp_path / "local", copy, {"CIMTWIN_TILES__WORKERS": "1"})
    assert not client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.task_prefixes))

    remote_data = tmp_path / "remote"
    log = tmp_path / "remote-import.log"
    with open(log, "wb") as out:
        importer = subprocess.Popen(import_argv(copy), stdout=out, stderr=subprocess.STDOUT,
                                    env=import_env(remote_data, {
                                        "CIMTWIN_TILES__DASK_SCHEDULER": address}),
                                    cwd=tmp_path)
    deadline = time.monotonic() + IMPORT_TIMEOUT_S
    try:
        held = kill_when_busy(client, procs["w1"], "w1", importer, deadline)
        importer.wait(max(1, deadline - time.monotonic()))
    finally:
        if importer.poll() is None:
            importer.kill()
            importer.wait()
    assert importer.returncode == 0, log.read_text(errors="replace")
    assert held >= 1
    assert list(worker_addresses(client)) == ["w2"], "the killed worker is still registered"
    assert sum(p.endswith(".glb") for p in local) > 1
    remote = published(remote_data)
    assert sorted(remote) == sorted(local)
    assert all(remote[p] == local[p] for p in local)
