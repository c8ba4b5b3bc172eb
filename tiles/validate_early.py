"""gltf-validator started before the glbs exist, so node's start-up overlaps the build.

Starting node and loading the validator costs about 0.9 s on this machine whatever the
number of files (bench/README.md, photo section): for a small production that is as
long as the conversion itself. The script (``tiles/js/validate_gltf.cjs``) loads the
validator first and then waits for the file list on stdin, so a process launched at the
start of a build is ready when the list comes.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from tiles.errors import TilesError
from tiles.validate import SCRIPT, ValidationReport, node_modules_dir


class EarlyValidator:
    """A validator process waiting for paths; :meth:`run` gives one report per path."""

    def __init__(self) -> None:
        node = shutil.which("node")
        if node is None:
            raise TilesError("node (Node.js) is not on PATH; the glTF validator needs it. "
                             "Install Node.js 18+ and run `make`")
        self.proc = subprocess.Popen([node, str(SCRIPT), str(node_modules_dir())],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)

    def run(self, paths: list[Path], timeout_s: float = 600.0) -> list[ValidationReport]:
        out, err = self.proc.communicate("\n".join(str(p) for p in paths),
                                         timeout=timeout_s)
        if self.proc.returncode != 0:
            raise TilesError(f"the glTF validator failed to run: {err.strip()[:500]}")
        reports = [json.loads(line) for line in out.splitlines() if line.strip()]
        if len(reports) != len(paths):
            raise TilesError("the glTF validator returned fewer reports than files given")
        return [ValidationReport(path=str(p), errors=r["errors"], warnings=r["warnings"],
                                 infos=r.get("infos", 0), messages=r["messages"])
                for p, r in zip(paths, reports)]

    def close(self) -> None:
        """Stop the process if :meth:`run` was never called (a failed build)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def validate_version(validator: EarlyValidator | None, store, tileset_id: str,
                     version: str) -> list[ValidationReport]:
    """Validate every glb of an unpublished version: through ``validator`` when the
    store has files on disk, else (or without a validator) by bytes in one run."""
    glbs = [p for p in store.list(tileset_id, version=version) if p.endswith(".glb")]
    if validator is not None and hasattr(store, "path_for"):
        return validator.run([store.path_for(tileset_id, p, version=version) for p in glbs])
    from tiles.validate import validate_glb
    return validate_glb([store.get(tileset_id, p, version=version) for p in glbs])


def check_version(store, tileset_id: str, version: str, validator: EarlyValidator | None,
                  validate: bool, what: str = "tileset") -> None:
    """tiles.check rules plus gltf-validator on every glb of an unpublished version;
    CheckError (nothing is published) listing what is wrong."""
    from tiles.check import check_tileset
    from tiles.errors import CheckError
    report = check_tileset(store, tileset_id, validate_glb=False, version=version)
    if validate:
        for result in validate_version(validator, store, tileset_id, version):
            report.validated += 1
            if not result.ok:
                report.errors.append(result.summary())
    if not report.ok:
        raise CheckError(f"the built {what} breaks the 3D Tiles rules and was not "
                         "published:\n" + report.to_text())
