"""Generate a ContextCapture-style OSGB production of N tile folders from the shared one.

Usage: python bench/gen_photo_production.py OUT N

The shared production (../shared/data/photogrammetry/cc_osgb_production5) has two real
tile folders, 100 m x 100 m each. Folder k of the output sits at grid cell
(k % side, k // side) as ``Data/Tile_+xxx_+yyy``; it repeats one of the two real tiles
(alternating), moved to its cell: the root file is rewritten by OpenSceneGraph's
``osgconv -t`` (a MatrixTransform above the PagedLOD, which every child file inherits),
the other files are symlinks to the real ones. metadata.xml is copied unchanged, so the
result has real geometry, textures and PagedLOD ranges, N times, side by side.
"""
from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT.parent / "shared" / "data" / "photogrammetry" / "cc_osgb_production5"
TILE_M = 100.0


def _centre(root_file: Path) -> tuple[float, float, float]:
    """The root PagedLOD's centre, which ``osgconv -t`` moves to the given point."""
    sys.path.insert(0, str(ROOT))
    from tiles.readers.osgb import read_osgb
    return read_osgb(root_file).nodes[0].center


def generate(out: Path, count: int) -> Path:
    """Write the production (skipped when ``out`` already holds ``count`` folders)."""
    data = out / "Data"
    if data.is_dir() and len(list(data.iterdir())) == count:
        return out
    shutil.rmtree(out, ignore_errors=True)
    data.mkdir(parents=True)
    shutil.copyfile(SOURCE / "metadata.xml", out / "metadata.xml")
    sources = sorted((SOURCE / "Data").iterdir())
    centres = {s.name: _centre(s / f"{s.name}.osgb") for s in sources}
    side = math.ceil(math.sqrt(count))
    for k in range(count):
        gx, gy = k % side, k // side
        source = sources[(gx + gy) % len(sources)]
        sx, sy = (int(v) for v in source.name.split("_")[1:])
        name = f"Tile_+{gx:03d}_+{gy:03d}"
        folder = data / name
        folder.mkdir()
        for file in source.glob("*.osgb"):
            if file.stem != source.name:
                os.symlink(file, folder / file.name)
        cx, cy, cz = centres[source.name]
        target = (cx + (gx - sx) * TILE_M, cy + (gy - sy) * TILE_M, cz)
        subprocess.run(["osgconv", "-t", ",".join(f"{v:.4f}" for v in target),
                        str(source / f"{source.name}.osgb"), str(folder / f"{name}.osgb")],
                       check=True, capture_output=True, timeout=120)
    return out


if __name__ == "__main__":
    generate(Path(sys.argv[1]), int(sys.argv[2]))
    print(f"{sys.argv[2]} tile folders in {sys.argv[1]}")
