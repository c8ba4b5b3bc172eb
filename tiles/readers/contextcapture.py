"""ContextCapture (Smart3D) productions: ``metadata.xml`` + ``Data/Tile_*/``.

The production's georeference comes from metadata.xml (SRS as WKT or EPSG code, plus
SRSOrigin, the offset of all vertex coordinates); :func:`tiles.georef.read_contextcapture_srs`
turns it into a GeoFrame (its WKT parameters win over a contradicting AUTHORITY code).
Each tile folder holds either an OBJ export or an OSGB LOD pyramid; for OSGB only the
finest level available is read (our pipeline builds its own levels of detail), and
missing deeper children are tolerated.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Iterator

from tiles.errors import InputError
from tiles.georef import read_contextcapture_srs
from tiles.model import GeoFrame, MeshBatch
from tiles.readers.mesh import read_mesh
from tiles.readers.osgb import finest_files, osgb_to_obj


def tile_folders(folder: Path) -> list[Path]:
    """The production's ``Data/Tile_*`` folders, in name order."""
    data = folder / "Data"
    if not data.is_dir():
        raise InputError(f"{folder} has no Data/ folder; point at the production folder "
                         "that holds metadata.xml and Data/")
    tiles = sorted(p for p in data.iterdir() if p.is_dir())
    if not tiles:
        raise InputError(f"{data} holds no tile folders")
    return tiles


def _tile_batches(tile: Path, frame: GeoFrame) -> Iterator[MeshBatch]:
    objs = sorted(tile.glob("*.obj"))
    if objs:
        for obj in objs:
            yield from read_mesh(obj, frame)
        return
    osgbs = sorted(tile.glob("*.osgb"))
    if not osgbs:
        raise InputError(f"{tile} holds neither OBJ nor OSGB files")
    for leaf in finest_files(osgbs):
        with tempfile.TemporaryDirectory(prefix="cimtwin-osgb-") as tmp:
            yield from read_mesh(osgb_to_obj(leaf, Path(tmp)), frame)


def read_production(folder: str | Path) -> tuple[GeoFrame, Iterator[MeshBatch]]:
    """Open a ContextCapture production: its GeoFrame and a lazy stream of MeshBatch.

    The frame is read (and the CRS checked) now, so a bad metadata.xml fails before any
    geometry is touched; the batches are produced tile by tile as the caller iterates.
    """
    folder = Path(folder)
    meta = folder / "metadata.xml"
    if not meta.is_file():
        raise InputError(f"{folder} has no metadata.xml; a ContextCapture production "
                         "needs it for its coordinate system")
    frame = read_contextcapture_srs(meta.read_text(encoding="utf-8", errors="replace"))
    tiles = tile_folders(folder)

    def batches() -> Iterator[MeshBatch]:
        for tile in tiles:
            yield from _tile_batches(tile, frame)

    return frame, batches()
