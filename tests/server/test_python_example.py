"""examples/python/import_bim.py against a live server (gunicorn): as a registered app it
uploads an IFC model, waits for the import job and reads one element."""
from __future__ import annotations

import subprocess
import sys

from server.config import load_config
from server.services import Services
from tests.server.live_server import ROOT, LiveServer

SCRIPT = ROOT / "examples" / "python" / "import_bim.py"


def test_the_python_example_imports_a_model_and_reads_an_element(tmp_path, shared_data):
    ifc = shared_data("ifc", "IfcOpenHouse_IFC4.ifc")
    services = Services(load_config(overrides={"data": {"dir": str(tmp_path)}}))
    app, secret = services.security.apps.add("site-office", ["import", "read:tiles"],
                                              "internal")
    server = LiveServer(tmp_path)
    try:
        run = subprocess.run(
            [sys.executable, str(SCRIPT), str(ifc), "--server", server.url,
             "--client-id", app.id, "--client-secret", secret, "--crs", "EPSG:4548",
             "--origin", "500000,4058000,30"],
            capture_output=True, text=True, timeout=300)
    finally:
        server.stop()
    assert run.returncode == 0, run.stderr + server.log.read_text()[-2000:]
    lines = run.stdout.splitlines()
    assert lines[0].startswith("imported ifcopenhouse-ifc4: ") and "elements" in lines[0]
    kind, global_id = lines[1].split()[:2]
    assert kind.startswith("IfcWall") and len(global_id) == 22  # an IFC GlobalId
    calls = services.security.audit.query(actor="app:site-office")
    assert {"write POST /api/v1/imports/<kind>", "oauth.token",
            "call GET /api/v1/bim/<tileset_id>/elements/<global_id>"} <= \
        {r["action"] for r in calls}
