"""`cimtwin sensors add|import|list` as a user runs them (fresh processes, own data dir)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def run_cli(tmp_path, *args):
    env = os.environ | {"CIMTWIN_DATA_DIR": str(tmp_path / "data")}
    env.pop("CIMTWIN_CONFIG", None)
    exe = Path(sys.executable).with_name("cimtwin")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=env,
                          timeout=300, check=False)


def test_sensors_import_add_and_list(tmp_path):
    sheet = tmp_path / "sensors.csv"
    sheet.write_text("sensor_id,name,lon,lat,metrics,building_id,classification\n"
                     "aq-1,泉城广场,117.0205,36.6615,\"pm25,pm10\",,public\n"
                     "en-1,CBD tower,117.12,36.65,power_kw,B-07,\n", encoding="utf-8")
    imported = run_cli(tmp_path, "sensors", "import", str(sheet), "--classification",
                       "internal", "--json")
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout) == {"sensors": 2, "datastreams": 3, "rules": 0}
    added = run_cli(tmp_path, "sensors", "add", "--id", "wl-1", "--metrics", "water_level_m",
                    "--lon", "117.05", "--lat", "36.67", "--sampling-s", "300",
                    "--default-rules")
    assert added.returncode == 0 and "wl-1" in added.stdout
    listed = json.loads(run_cli(tmp_path, "sensors", "list", "--json").stdout)
    by_id = {s["id"]: s for s in listed}
    assert by_id["aq-1"]["classification"] == "public"  # the file's value wins
    assert by_id["en-1"]["classification"] == "internal"  # the flag fills the gap
    assert by_id["en-1"]["feature"] == {"type": "building", "id": "B-07", "layer": None}
    assert by_id["wl-1"]["classification"] == "internal"  # `add` defaults to internal
    assert by_id["wl-1"]["datastreams"][0]["sampling_s"] == 300


def test_a_bad_sensor_file_names_the_row_and_stores_nothing(tmp_path):
    sheet = tmp_path / "sensors.csv"
    sheet.write_text("id,lon,lat,metrics,classification\nok-1,117,36.6,pm25,public\n"
                     "bad-1,117,95,pm25,public\n", encoding="utf-8")
    result = run_cli(tmp_path, "sensors", "import", str(sheet))
    assert result.returncode == 1
    assert "sensor 1: 'lat'" in result.stderr
    assert json.loads(run_cli(tmp_path, "sensors", "list", "--json").stdout) == []
