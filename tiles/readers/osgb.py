"""OpenSceneGraph binary (OSGB) files -> OBJ + JPEG textures, through ``osgconv``.

ContextCapture stores textures inside OSGB as raw pixel arrays; ``osgconv`` writes them
out as JPEG when converting to the ASCII ``.osgt`` format with ``WriteImageHint=WriteOut``
and writes the geometry as OBJ+MTL that refers to those JPEGs. Only the file's own
geometry is converted: PagedLOD children are separate files, loaded by the caller.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from tiles.errors import InputError, TilesError

#: Seconds one osgconv call may take (a 3 MB tile takes well under one second).
OSGCONV_TIMEOUT_S = 120


def osgconv_path() -> str:
    """The osgconv executable; a TilesError saying what to install when it is missing."""
    exe = shutil.which("osgconv")
    if exe is None:
        raise TilesError("osgconv (OpenSceneGraph) is needed to read OSGB files; install "
                         "it (Debian/Ubuntu: apt-get install openscenegraph) or export "
                         "the production as OBJ")
    return exe


def _run(args: list[str], cwd: Path, source: Path) -> None:
    try:
        proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True,
                              timeout=OSGCONV_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise InputError(f"osgconv took too long on {source}; the file may be damaged") \
            from exc
    if proc.returncode != 0 or "Data written" not in proc.stdout + proc.stderr:
        raise InputError(f"osgconv cannot read {source}: "
                         f"{(proc.stderr or proc.stdout).strip()[-300:]}")


def osgb_to_obj(path: Path, workdir: Path) -> Path:
    """Convert one OSGB file into ``workdir``; returns the OBJ (textures beside it)."""
    exe = osgconv_path()
    path = Path(path).resolve()
    if not path.is_file():
        raise InputError(f"OSGB file {path} does not exist")
    workdir.mkdir(parents=True, exist_ok=True)
    _run([exe, "-O", "WriteImageHint=WriteOut", str(path), "images.osgt"], workdir, path)
    obj = workdir / (path.stem + ".obj")
    _run([exe, str(path), obj.name], workdir, path)
    return obj


_LEVEL_RE = re.compile(r"_L(\d+)_([0-9A-Za-z]+)$")


def lod_suffix(path: Path) -> tuple[int, str]:
    """(level, branch) of a ContextCapture OSGB name: ``Tile_X_Y_L19_0uuuu1`` ->
    (19, "0uuuu1"); the tile's root file ``Tile_X_Y`` -> (0, "")."""
    m = _LEVEL_RE.search(path.stem)
    return (int(m.group(1)), m.group(2)) if m else (0, "")


def finest_files(files: list[Path]) -> list[Path]:
    """The leaves of a tile's LOD pyramid among the files that exist.

    A file is a leaf when no existing file lies deeper on its branch (its children's
    branch names extend its own). Missing children, such as the L20 files that
    productions often leave out, make their parent the leaf.
    """
    keyed = [(lod_suffix(f), f) for f in files]
    leaves = []
    for (level, branch), f in keyed:
        deeper = any(lv > level and br.startswith(branch) for (lv, br), _ in keyed)
        if not deeper:
            leaves.append(f)
    return sorted(leaves)
