"""Run the Khronos glTF validator (npm ``gltf-validator``) over glb files.

All files go through one node process (``tiles/js/validate_gltf.cjs``), because starting
node per file costs more than validating a tile. ``node_modules`` is found through the
``CIMTWIN_NODE_MODULES`` environment variable or ``<repo root>/node_modules``.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence, Union

from tiles.errors import TilesError

SCRIPT = Path(__file__).resolve().parent / "js" / "validate_gltf.cjs"
REPO_ROOT = Path(__file__).resolve().parents[1]
#: Extensions the validator does not know but 3D Tiles 1.1 content uses on purpose; its
#: "unsupported extension" notices about them are expected, not defects.
KNOWN_UNCHECKED = ("EXT_mesh_features", "EXT_structural_metadata",
                   "KHR_draco_mesh_compression", "EXT_meshopt_compression",
                   "EXT_mesh_gpu_instancing", "EXT_instance_features")


@dataclass
class ValidationReport:
    """The validator's verdict on one file: counts and the issue messages."""

    path: str
    errors: int
    warnings: int
    infos: int = 0
    messages: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.errors == 0

    def summary(self) -> str:
        """One line per error/warning, for a CLI report or an assertion message."""
        lines = [f"{self.path}: {self.errors} errors, {self.warnings} warnings"]
        for m in self.messages:
            if m.get("severity", 3) <= 1:
                kind = "error" if m["severity"] == 0 else "warning"
                lines.append(f"  {kind} {m['code']} at {m.get('pointer')}: {m['message']}")
        return "\n".join(lines)


def node_modules_dir() -> Path:
    """Where ``gltf-validator`` is installed; a TilesError telling what to run if not."""
    base = Path(os.environ.get("CIMTWIN_NODE_MODULES") or REPO_ROOT / "node_modules")
    if not (base / "gltf-validator" / "package.json").exists():
        raise TilesError(f"the npm package gltf-validator is not installed in {base}; "
                         "run `make` (or `npm install`) in the project root, or set "
                         "CIMTWIN_NODE_MODULES to a node_modules folder holding it")
    return base


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        raise TilesError("node (Node.js) is not on PATH; the glTF validator needs it. "
                         "Install Node.js 18+ and run `make`")
    return node


Source = Union[str, os.PathLike, bytes]


def validate_glb(sources: Iterable[Source] | Source, timeout_s: float = 600.0,
                 names: Sequence[str] | None = None) -> list[ValidationReport]:
    """Validate glb/gltf files (paths) or glb bytes; one report per input, in order.

    ``names`` label the reports (default: the path, or ``<bytes #i>``)."""
    if isinstance(sources, (bytes, bytearray, str, os.PathLike)):
        sources = [sources]
    modules, node = node_modules_dir(), _node()
    with tempfile.TemporaryDirectory(prefix="cimtwin-validate-") as tmp:
        paths, labels = [], []
        for i, src in enumerate(sources):
            if isinstance(src, (bytes, bytearray)):
                path = Path(tmp) / f"input-{i}.glb"
                path.write_bytes(bytes(src))
                labels.append(names[i] if names else f"<bytes #{i}>")
            else:
                path = Path(src).resolve()
                if not path.exists():
                    raise TilesError(f"cannot validate {path}: the file does not exist")
                labels.append(names[i] if names else str(src))
            paths.append(str(path))
        if not paths:
            return []
        proc = subprocess.run([node, str(SCRIPT), str(modules)], input="\n".join(paths),
                              capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0:
        raise TilesError(f"the glTF validator failed to run: {proc.stderr.strip()[:500]}")
    reports = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    if len(reports) != len(paths):
        raise TilesError("the glTF validator returned fewer reports than files given")
    return [ValidationReport(path=label, errors=r["errors"], warnings=r["warnings"],
                             infos=r.get("infos", 0), messages=r["messages"])
            for label, r in zip(labels, reports)]
