"""tiles.dask_scheduler = tcp://...: an import's tile tasks run on separate Dask worker
processes, and the published files are byte-identical to a local import."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from server.config import load_config
from server.services import Services
from tests.services import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
DASK = Path(sys.executable).parent / "dask"
SMALL_TILES = {"CIMTWIN_TILES__MAX_TRIANGLES_PER_TILE": "4000"}  # several tile tasks


@pytest.fixture
def cluster(tmp_path):
    if not DASK.exists():
        pytest.fail("dask CLI missing: pip install -r requirements.txt (dask[distributed])")
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    log = tmp_path / "scheduler.log"
    procs = [subprocess.Popen([str(DASK), "scheduler", "--host", "127.0.0.1", "--port",
                               str(port), "--no-dashboard"], stdout=open(log, "wb"),
                              stderr=subprocess.STDOUT, env=env, cwd=tmp_path)]
    wait_for_port(port, 60, procs[0], log)
    address = f"tcp://127.0.0.1:{port}"
    for n in (1, 2):
        folder = tmp_path / f"worker{n}"
        folder.mkdir()
        procs.append(subprocess.Popen(
            [str(DASK), "worker", address, "--host", "127.0.0.1", "--nthreads", "1",
             "--no-dashboard", "--local-directory", str(folder), "--name", f"w{n}"],
            stdout=open(folder / "log", "wb"), stderr=subprocess.STDOUT, env=env, cwd=folder))
    from distributed import Client  # the test's own view of the cluster
    with Client(address, timeout="60s") as client:
        client.wait_for_workers(2, timeout=120)
        yield address, client
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(30)


def import_photo(data: Path, source: Path, env: dict) -> dict[str, bytes]:
    full = {**os.environ, "PYTHONPATH": str(ROOT), "CIMTWIN_DATA_DIR": str(data),
            **SMALL_TILES, **env}
    out = subprocess.run([sys.executable, "-m", "server.cli", "import", "photo", str(source),
                          "--name", "same"], env=full, cwd=data.parent, capture_output=True,
                         text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    store = Services(load_config({"data": {"dir": str(data)}})).store
    (tileset_id,) = store.tilesets()
    return {path: store.get(tileset_id, path) for path in store.list(tileset_id)}


def test_dask_import_is_byte_identical_to_a_local_one(tmp_path, cluster, shared_data):
    address, client = cluster
    source = shared_data("photogrammetry", "cc_obj_production5")
    copy = tmp_path / "production"
    shutil.copytree(source, copy)
    local = import_photo(tmp_path / "local", copy, {"CIMTWIN_TILES__WORKERS": "1"})
    assert not client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.task_prefixes))
    remote = import_photo(tmp_path / "remote", copy, {"CIMTWIN_TILES__DASK_SCHEDULER": address})
    ran = client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.task_prefixes))
    assert ran, "no task reached the Dask scheduler"
    assert sum(p.endswith(".glb") for p in local) > 1
    assert sorted(remote) == sorted(local)
    assert all(remote[p] == local[p] for p in local)
