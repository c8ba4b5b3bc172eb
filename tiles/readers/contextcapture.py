"""ContextCapture (Smart3D) productions: ``metadata.xml`` + ``Data/Tile_*/``.

:func:`open_photo` takes what a survey contractor hands over, in any of its shapes,
and says what it is: a whole production, one tile folder, or one ``.osgb`` file, with
its GeoFrame. The georeference comes from metadata.xml (SRS as WKT or EPSG code plus
SRSOrigin, the offset of all vertex coordinates; :func:`tiles.georef.read_contextcapture_srs`
lets WKT parameters win over a contradicting AUTHORITY code), or from ``crs``/``origin``
given by the user, which also override the file.

:func:`read_production` is the ``--rebuild-lod`` path: the finest existing level of
each tile as a stream of MeshBatch, for :func:`tiles.pipeline.build_tileset` to
re-simplify. The default path keeps the producer's pyramid (:mod:`tiles.build.pyramid`).
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from tiles.errors import GeoreferenceError, InputError
from tiles.georef import read_contextcapture_srs, resolve_crs
from tiles.model import GeoFrame, Material, MeshBatch
from tiles.readers.mesh import read_mesh
from tiles.readers.osgb import finest_files, lod_suffix, read_osgb

_GRID_RE = re.compile(r"Tile_([+-]\d+)_([+-]\d+)$")
MESH_SUFFIXES = (".obj", ".ply", ".glb", ".gltf")


@dataclass
class PhotoSource:
    """What to import: tile folders (each with its root files) in one frame."""

    frame: GeoFrame
    folders: list[Path] = field(default_factory=list)
    roots: dict[str, list[Path]] = field(default_factory=dict)  # folder name -> root files
    kind: str = "osgb"  # "osgb" (pyramid kept) or "obj" (meshes, re-tiled)
    metadata: Path | None = None
    single_file: Path | None = None  # the .osgb the user named, if one

    def finest_batches(self, warnings: list[str]) -> Iterator[MeshBatch]:
        """The finest existing level as MeshBatch (``--rebuild-lod``, OBJ tiles)."""
        if self.single_file is not None:
            yield from osgb_batches(self.single_file, self.frame, warnings)
            return
        for folder in self.folders:
            yield from tile_batches(folder, self.frame, warnings)


def grid_position(folder: Path) -> tuple[int, int] | None:
    """(x, y) of a ``Tile_+xxx_+yyy`` folder name, or None for other names."""
    m = _GRID_RE.search(folder.name)
    return (int(m.group(1)), int(m.group(2))) if m else None


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


def root_files(folder: Path) -> list[Path]:
    """The top of a tile folder's pyramid: ``<folder>/<folder>.osgb`` when it exists,
    else the files of the coarsest level present."""
    own = folder / f"{folder.name}.osgb"
    if own.is_file():
        return [own]
    files = sorted(folder.glob("*.osgb"))
    if not files:
        return []
    top = min(lod_suffix(f)[0] for f in files)
    return [f for f in files if lod_suffix(f)[0] == top]


def frame_for(metadata: Path | None, crs: str | None, origin) -> GeoFrame:
    """The frame from metadata.xml, with ``crs``/``origin`` overriding it; without
    either, a GeoreferenceError that names both flags."""
    frame = None
    if metadata is not None and metadata.is_file():
        frame = read_contextcapture_srs(metadata.read_text(encoding="utf-8",
                                                           errors="replace"))
    if crs:
        resolve_crs(crs)
        frame = replace(frame, crs=crs) if frame is not None else GeoFrame(crs=crs)
    if origin is not None:
        if frame is None:
            raise GeoreferenceError("--origin was given without --crs and there is no "
                                    "metadata.xml: pass --crs too (e.g. --crs EPSG:4548)")
        frame = replace(frame, origin=tuple(float(v) for v in origin))
    if frame is None:
        raise GeoreferenceError(
            "no metadata.xml beside this data, so its coordinate system is unknown: pass "
            "--crs (e.g. --crs EPSG:4548, or the production's WKT) and --origin E,N,H "
            "(the SRSOrigin the vertex coordinates are relative to)")
    return frame


def _find_metadata(start: Path) -> Path | None:
    """metadata.xml of the production a folder or file lies in (up to three levels up)."""
    for parent in [start, *start.parents][:4]:
        if (parent / "metadata.xml").is_file():
            return parent / "metadata.xml"
    return None


def open_photo(path: str | Path, crs: str | None = None, origin=None) -> PhotoSource:
    """A production folder, a tile folder or one .osgb -> PhotoSource (see module doc)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist: pass a production folder (metadata.xml "
                         "+ Data/), a tile folder or an .osgb file")
    if path.is_file():
        if path.suffix.lower() != ".osgb":
            raise InputError(f"{path} is not an .osgb file; mesh files go through "
                             "import photo with --crs/--origin as a single mesh")
        meta = _find_metadata(path.parent)
        return PhotoSource(frame_for(meta, crs, origin), [path.parent],
                           {path.parent.name: [path]}, metadata=meta, single_file=path)
    production = (path / "Data").is_dir()
    meta = path / "metadata.xml" if production else _find_metadata(path.parent)
    frame = frame_for(meta if meta and meta.is_file() else None, crs, origin)
    folders = tile_folders(path) if production else [path]
    if all(not any(f.glob("*.osgb")) for f in folders):
        if any(any(f.glob(f"*{s}")) for f in folders for s in MESH_SUFFIXES):
            return PhotoSource(frame, folders, {}, kind="obj", metadata=meta)
        raise InputError(f"{path} holds neither OSGB nor OBJ tiles")
    roots = {f.name: root_files(f) for f in folders}
    return PhotoSource(frame, [f for f in folders if roots[f.name]], roots,
                       metadata=meta)


def osgb_batches(path: Path, frame: GeoFrame, warnings: list[str]) -> Iterator[MeshBatch]:
    """Every geometry of one .osgb as a MeshBatch (its own level only, textures kept)."""
    parsed = read_osgb(path)
    warnings.extend(parsed.warnings)
    for node in parsed.nodes:
        for geometry in node.geometries:
            texture = None if geometry.texture is None else parsed.textures[geometry.texture]
            material = Material(
                name=f"{path.stem}-{geometry.texture}",
                base_color=(1.0, 1.0, 1.0, 1.0) if texture else geometry.color,
                texture=texture.data if texture else None,
                texture_mime=texture.mime if texture else "image/png")
            yield MeshBatch(positions=geometry.positions,
                            indices=geometry.indices.astype(np.uint32), frame=frame,
                            material=material,
                            uvs=geometry.uvs if texture else None)


def tile_batches(tile: Path, frame: GeoFrame, warnings: list[str]) -> Iterator[MeshBatch]:
    objs = sorted(tile.glob("*.obj"))
    if objs:
        for obj in objs:
            yield from read_mesh(obj, frame)
        return
    osgbs = sorted(tile.glob("*.osgb"))
    if not osgbs:
        raise InputError(f"{tile} holds neither OBJ nor OSGB files")
    for leaf in finest_files(osgbs):
        try:
            yield from osgb_batches(leaf, frame, warnings)
        except InputError as exc:
            warnings.append(f"{exc}; skipped")


def read_production(folder: str | Path, crs: str | None = None, origin=None,
                    warnings: list[str] | None = None
                    ) -> tuple[GeoFrame, Iterator[MeshBatch]]:
    """Open a production (or tile folder): its GeoFrame and a lazy MeshBatch stream of
    the finest existing level (OBJ tiles: the whole mesh).

    The frame is read (and the CRS checked) now, so a bad metadata.xml fails before any
    geometry is touched; unreadable .osgb files are skipped and reported in ``warnings``.
    """
    source = open_photo(folder, crs, origin)
    return source.frame, source.finest_batches([] if warnings is None else warnings)
