"""One tile folder's PagedLOD pyramid -> 3D Tiles nodes, kept as the producer built it.

Every ``osg::PagedLOD`` becomes one tile: its own geometry is the tile's content (one
glb), the nodes of its child files are the tile's children, refine is REPLACE. Nothing
is simplified again. Geometric error comes from the PagedLOD's switch range
(:func:`geometric_error`, derivation in docs/tiling.md): with Cesium's default maximum
screen-space error of 16 px, a tile is replaced at the same camera distance at which an
OpenSceneGraph viewer of the production would load its children.

A PagedLOD whose child files are missing (ContextCapture productions often leave out
the last level) or unreadable is a leaf; each such file is counted and reported.
:func:`convert_folder` runs in a worker process, writes its glbs straight into the
staging folder and returns the folder's subtree (plain dicts) plus the path of its
coarsest level (for the production's parent tiles, :mod:`tiles.production`).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tiles import georef
from tiles.build.chunk import NO_FEATURE, Chunk, chunk_file_bytes, merge_by_signature
from tiles.errors import InputError
from tiles.glb.encode import Primitive, to_glb
from tiles.model import GeoFrame, Material
from tiles.readers.osgb import OsgbFile, OsgbNode, read_osgb, transform_points
from tiles.store import write_atomic

#: Cesium's default maximumScreenSpaceError, which the error formula is matched to.
MAX_SSE_PX = 16.0
#: Distance-mode PagedLODs (range in metres): screen the switch distance is matched on
#: (1080 px high, 60 degree vertical field of view -> focal length in pixels).
REFERENCE_FOCAL_PX = 540.0 / math.tan(math.radians(30.0))
#: Every tile's content uses one white material; the texture rides on the chunk.
PHOTO_MATERIALS = [Material(name="photo", base_color=(1.0, 1.0, 1.0, 1.0), unlit=True),
                   Material(name="photo-untextured", base_color=(0.8, 0.8, 0.8, 1.0))]


@dataclass(frozen=True)
class FolderJob:
    """Everything a worker needs to convert one tile folder (picklable)."""

    folder: str
    roots: tuple[str, ...]
    frame: GeoFrame
    enu_origin: tuple[float, float, float]
    target: tuple  # (TileStore, tileset_id, version) the glbs are put into
    work_dir: str
    texture_format: str = "jpeg"
    compression: str = "none"

    @property
    def marker(self) -> Path:
        """Written last, with the folder's result: a re-run skips this folder."""
        return Path(self.work_dir) / "folders" / f"{Path(self.folder).name}.json"


def geometric_error(node: OsgbNode) -> float:
    """Metres of error of a PagedLOD's own geometry, from its switch range.

    PIXEL_SIZE_ON_SCREEN: OSG swaps in the children when the bounding sphere's projected
    diameter ``2 r f / d`` exceeds ``range`` pixels; Cesium refines when
    ``error f / d`` exceeds 16 px. Equal at every distance d when
    ``error = 16 * 2 r / range``. DISTANCE_FROM_EYE_POINT: children load within
    ``range`` metres; matched at a 1080p, 60 degree view: ``error = 16 * range / f``.
    """
    switch = node.switch_range()
    if switch is None or switch <= 0:
        return 0.0
    if node.mode == "pixel":
        return MAX_SSE_PX * 2.0 * float(node.radius or 0.0) / switch
    return MAX_SSE_PX * switch / REFERENCE_FOCAL_PX


def _compose(node: OsgbNode, parent: np.ndarray | None) -> np.ndarray | None:
    """The matrix a node's child files are drawn under (OSG row vectors)."""
    if node.matrix is None or parent is None:
        return node.matrix if parent is None else parent
    return node.matrix @ parent


def _chunks(parsed: OsgbFile, node: OsgbNode, frame: GeoFrame, enu_origin: np.ndarray,
            parent: np.ndarray | None) -> list[Chunk]:
    """The node's geometry placed in the build's ENU frame, one chunk per texture;
    ``parent`` is the matrix of the PagedLOD that loads this file (None: identity)."""
    out = []
    for geometry in node.geometries:
        if not len(geometry.indices):
            continue
        local = transform_points(geometry.positions, parent)
        enu = georef.ecef_to_enu_points(georef.to_ecef(local, frame), enu_origin)
        texture = None if geometry.texture is None else parsed.textures[geometry.texture]
        out.append(Chunk(positions=enu, indices=geometry.indices,
                         feature_ids=np.full(len(enu), NO_FEATURE, dtype=np.uint32),
                         material=0 if texture else 1,
                         uvs=geometry.uvs if texture else None,
                         texture=texture.data if texture else None))
    return merge_by_signature(out)


def encode_chunks(chunks: list[Chunk], centre: np.ndarray, compression: str) -> bytes:
    """glb of photo chunks, float32 positions relative to ``centre``; each chunk's
    texture bytes go into the glb as they are (no decode, no re-encode)."""
    from dataclasses import replace

    from tiles.glb.texture import mime_of
    primitives = []
    for chunk in chunks:
        material = PHOTO_MATERIALS[chunk.material]
        if chunk.texture is not None:
            material = replace(material, texture=chunk.texture,
                               texture_mime=mime_of(chunk.texture))
        primitives.append(Primitive(
            positions=(chunk.positions - centre).astype(np.float32),
            indices=chunk.indices.astype(np.uint32), material=material,
            uvs=chunk.uvs if chunk.texture is not None else None))
    return to_glb(primitives, translation=tuple(float(v) for v in centre),
                  compression=compression, auto_instance=False)


class _FolderConverter:
    """Walks one folder's pyramid depth-first; one parse per file, no file twice."""

    def __init__(self, job: FolderJob):
        self.job = job
        self.folder = Path(job.folder)
        self.origin = np.asarray(job.enu_origin, dtype=np.float64)
        self.seen: set[Path] = set()
        self.warnings: list[str] = []
        self.missing = 0
        self.triangles = 0
        self.levels: dict[int, int] = {}
        self.coarse: list[Chunk] = []

    def file_nodes(self, path: Path, depth: int,
                   parent: np.ndarray | None = None) -> list[dict] | None:
        """Tiles of every node in ``path``; None when the file is missing or unreadable."""
        if path in self.seen:
            self.warnings.append(f"{path}: referenced twice (a cycle?); second use skipped")
            return None
        self.seen.add(path)
        if not path.is_file():
            self.missing += 1
            return None
        try:
            parsed = read_osgb(path, self.job.texture_format)
        except InputError as exc:
            self.warnings.append(f"{exc}; skipped (its parent becomes a leaf)")
            return None
        self.warnings.extend(parsed.warnings)
        tiles = []
        for number, node in enumerate(parsed.nodes):
            chunks = _chunks(parsed, node, self.job.frame, self.origin, parent)
            if depth == 0:
                self.coarse.extend(chunks)
            key = f"{path.stem}_{number}" if len(parsed.nodes) > 1 else path.stem
            tiles.append(self.tile(key, node, chunks, depth, _compose(node, parent)))
        del parsed
        return tiles

    def tile(self, key: str, node: OsgbNode, chunks: list[Chunk], depth: int,
             matrix: np.ndarray | None) -> dict:
        """One tile: content written now, children converted depth-first."""
        result: dict = {"key": key, "error": geometric_error(node), "children": [],
                        "content": None, "triangles": 0}
        if chunks:
            lo = np.min([c.positions.min(axis=0) for c in chunks], axis=0)
            hi = np.max([c.positions.max(axis=0) for c in chunks], axis=0)
            uri = f"tiles/{self.folder.name}/{key}.glb"
            glb = encode_chunks(chunks, (lo + hi) / 2.0, self.job.compression)
            put(self.job.target, uri, glb)
            triangles = sum(c.triangle_count for c in chunks)
            result.update(content=uri, content_lo=lo.tolist(), content_hi=hi.tolist(),
                          triangles=triangles)
            self.triangles += triangles
            self.levels[depth] = self.levels.get(depth, 0) + triangles
        del chunks
        kids: list[dict] = []
        for name in node.files:
            nodes = self.file_nodes(self.folder / name, depth + 1, matrix)
            if nodes is None:
                kids = []
                break
            kids.extend(nodes)
        result["children"] = kids
        if not kids:
            result["error"] = 0.0
        boxes = [(result["content_lo"], result["content_hi"])] if chunks_present(result) else []
        boxes += [(k["lo"], k["hi"]) for k in kids if k.get("lo") is not None]
        if boxes:
            result["lo"] = np.min([b[0] for b in boxes], axis=0).tolist()
            result["hi"] = np.max([b[1] for b in boxes], axis=0).tolist()
        return result


def put(target: tuple, path: str, data: bytes) -> None:
    """Write one file into the build's unpublished version of the tileset."""
    store, tileset_id, version = target
    store.put(tileset_id, path, data, version=version)


def chunks_present(tile: dict) -> bool:
    return tile.get("content") is not None


def convert_folder(job: FolderJob) -> dict:
    """Convert one tile folder; returns {name, tiles, coarse, triangles, levels, ...}."""
    converter = _FolderConverter(job)
    tiles: list[dict] = []
    for root in job.roots:
        nodes = converter.file_nodes(Path(root), 0)
        if nodes is None:
            converter.warnings.append(f"{root}: the tile's root file cannot be read; "
                                      f"tile folder {Path(job.folder).name} skipped")
            continue
        tiles.extend(t for t in nodes if t.get("lo") is not None)
    coarse = None
    if converter.coarse:
        coarse = str(Path(job.work_dir) / "coarse" / f"{Path(job.folder).name}.chk")
        write_atomic(Path(coarse), chunk_file_bytes(converter.coarse))
    result = {"name": Path(job.folder).name, "tiles": tiles, "coarse": coarse,
              "triangles": converter.triangles, "missing_children": converter.missing,
              "levels": {str(k): v for k, v in sorted(converter.levels.items())},
              "files": len(converter.seen), "warnings": converter.warnings}
    write_atomic(job.marker, json.dumps(result).encode())
    return result
