"""Generic mesh files (OBJ with MTL and textures, PLY, glb/glTF) -> MeshBatch stream.

trimesh parses the files; this module repairs what real deliveries get wrong and yields
one :class:`MeshBatch` per material (big geometries are cut into batches of at most
``MAX_BATCH_TRIANGLES`` so memory stays bounded downstream).

Repairs, each reported as a :class:`MeshRepairWarning` (pipelines record them):
NaN/inf vertices and the triangles using them are dropped; degenerate and zero-area
triangles are dropped; UVs that are NaN become 0, UVs a hair outside [0,1] are clamped,
UVs wholly shifted by whole tiles are moved back (out-of-range UVs that really repeat are
kept: the glTF sampler repeats); a missing texture gives a flat grey material. A file
with no usable triangle raises :class:`tiles.errors.InputError`.

Axes: OBJ and PLY are taken as z-up in the frame's CRS (ContextCapture, surveys); glb
and glTF are y-up by definition and converted to z-up.
"""
from __future__ import annotations

import io
import logging
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np

from tiles.errors import InputError
from tiles.model import GeoFrame, Material, MeshBatch

log = logging.getLogger(__name__)
MAX_BATCH_TRIANGLES = 1_000_000
#: Triangles with a smaller area (m^2) than this are treated as zero-area.
MIN_AREA_M2 = 1e-10
_UV_EPS = 1e-3


class MeshRepairWarning(UserWarning):
    """Input geometry was repaired on read; the message says what and where."""


def _warn(message: str) -> None:
    log.warning(message)
    warnings.warn(message, MeshRepairWarning, stacklevel=3)


def _load_scene(path: Path):
    import trimesh
    try:
        loaded = trimesh.load(str(path), process=False)  # maintain_order loses UVs of OBJ groups
    except Exception as exc:
        raise InputError(f"cannot read mesh file {path}: {exc}") from exc
    if isinstance(loaded, trimesh.Trimesh):
        return [loaded]
    if isinstance(loaded, trimesh.Scene):
        return [g for g in loaded.dump(concatenate=False)
                if isinstance(g, trimesh.Trimesh)]
    raise InputError(f"{path} holds no triangle mesh (points or lines only?)")


def _mtl_textures(path: Path) -> dict[str, Path]:
    """Material name -> map_Kd file for an OBJ's MTL files (to embed the bytes as-is)."""
    out: dict[str, Path] = {}
    if path.suffix.lower() != ".obj":
        return out
    folder = path.parent.resolve()
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("mtllib"):
            mtl = _inside(folder, line.split(None, 1)[1].strip(), path.name)
            if mtl is None:
                continue
            if not mtl.exists():
                _warn(f"{path.name}: material library {mtl.name} is missing; "
                      "using flat materials")
                continue
            current = None
            for mline in mtl.read_text(errors="replace").splitlines():
                parts = mline.strip().split(None, 1)
                if len(parts) == 2 and parts[0] == "newmtl":
                    current = parts[1].strip()
                elif len(parts) == 2 and parts[0] == "map_Kd" and current:
                    texture = _inside(folder, parts[1].strip().split()[-1], mtl.name,
                                      base=mtl.parent)
                    if texture is not None:
                        out[current] = texture
        elif line.startswith(("v ", "f ")):
            break  # mtllib lines come first in practice; stop scanning the geometry
    return out


def _inside(folder: Path, name: str, source: str, base: Path | None = None) -> Path | None:
    """``name`` (from an OBJ/MTL) as a path inside ``folder``; None (and a warning) when it
    leaves it: a delivery may only use its own files, never other files on the server."""
    candidate = ((base or folder) / name).resolve()
    if candidate.is_relative_to(folder):
        return candidate
    _warn(f"{source}: {name!r} lies outside the model's folder; it is not used")
    return None


def _material(mesh, textures: dict[str, Path], source: str) -> tuple[Material, np.ndarray | None]:
    """The batch material and UVs (None when the mesh has no usable texture)."""
    from trimesh.visual.texture import TextureVisuals
    visual = mesh.visual
    if not isinstance(visual, TextureVisuals):
        return Material(name="default"), None
    mat = visual.material
    name = getattr(mat, "name", None) or "material"
    color = _base_color(mat)
    uv = None if visual.uv is None else np.asarray(visual.uv, dtype=np.float64)
    tex_bytes, mime = _texture_bytes(mat, textures.get(name), source, name)
    if tex_bytes is None or uv is None or len(uv) != len(mesh.vertices):
        return Material(name=name, base_color=color), None
    return Material(name=name, base_color=(1.0, 1.0, 1.0, color[3]), texture=tex_bytes,
                    texture_mime=mime), uv


def _base_color(mat) -> tuple[float, float, float, float]:
    for attr in ("baseColorFactor", "diffuse"):
        value = getattr(mat, attr, None)
        if value is not None:
            c = np.asarray(value, dtype=np.float64).reshape(-1)
            if c.max() > 1.0:
                c = c / 255.0
            if len(c) == 3:
                c = np.append(c, 1.0)
            return tuple(float(v) for v in c[:4])
    return (0.8, 0.8, 0.8, 1.0)


def _texture_bytes(mat, file: Path | None, source: str, name: str):
    """Encoded image bytes as delivered when possible, else re-encoded as PNG."""
    if file is not None and file.exists():
        data = file.read_bytes()
        if data[:3] == b"\xff\xd8\xff":
            return data, "image/jpeg"
        if data[:8] == b"\x89PNG\r\n\x1a\n":
            return data, "image/png"
    image = getattr(mat, "image", None) or getattr(mat, "baseColorTexture", None)
    if image is None:
        if file is not None:
            _warn(f"{source}: texture {file.name} of material {name} is missing; "
                  "using a flat material")
        return None, None
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue(), "image/png"


def repair(positions: np.ndarray, faces: np.ndarray, source: str) -> np.ndarray:
    """Indices of the triangles worth keeping (finite, non-degenerate, non-zero area)."""
    finite = np.isfinite(positions).all(axis=1)
    keep = finite[faces].all(axis=1)
    if not finite.all():
        _warn(f"{source}: {int((~finite).sum())} vertices with NaN/inf coordinates "
              f"dropped with their {int((~keep).sum())} triangles")
    repeated = (faces[:, 0] == faces[:, 1]) | (faces[:, 1] == faces[:, 2]) | \
               (faces[:, 0] == faces[:, 2])
    p = np.where(finite[:, None], positions, 0.0)
    tri = p[faces]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    bad = keep & (repeated | ~(area > MIN_AREA_M2))
    if bad.any():
        _warn(f"{source}: {int(bad.sum())} degenerate or zero-area triangles dropped")
    return np.nonzero(keep & ~bad)[0]


def repair_uvs(uv: np.ndarray, source: str) -> np.ndarray:
    """UVs a renderer and an atlas can use (see the module docstring)."""
    uv = np.where(np.isfinite(uv), uv, 0.0)
    lo, hi = uv.min(axis=0), uv.max(axis=0)
    if (lo >= -_UV_EPS).all() and (hi <= 1 + _UV_EPS).all():
        return np.clip(uv, 0.0, 1.0)
    shift = np.floor(lo + _UV_EPS)
    if ((hi - shift) <= 1 + _UV_EPS).all():
        _warn(f"{source}: UVs shifted by whole texture repeats {shift.tolist()} into [0,1]")
        return np.clip(uv - shift, 0.0, 1.0)
    _warn(f"{source}: UVs span {lo.tolist()}..{hi.tolist()}; kept as repeating")
    return uv


def _batches(mesh, frame: GeoFrame, textures: dict[str, Path], source: str,
             y_up: bool) -> Iterator[MeshBatch]:
    positions = np.asarray(mesh.vertices, dtype=np.float64)
    if y_up:
        positions = np.stack([positions[:, 0], -positions[:, 2], positions[:, 1]], axis=1)
    faces = np.asarray(mesh.faces, dtype=np.int64).reshape(-1, 3)
    material, uv = _material(mesh, textures, source)
    colors = _vertex_colors(mesh)
    kept = repair(positions, faces, source) if len(faces) else np.zeros(0, np.int64)
    if uv is not None:
        uv = repair_uvs(uv, source)
    for start in range(0, len(kept), MAX_BATCH_TRIANGLES):
        part = faces[kept[start:start + MAX_BATCH_TRIANGLES]]
        used, inverse = np.unique(part.reshape(-1), return_inverse=True)
        yield MeshBatch(
            positions=positions[used], indices=inverse.reshape(-1, 3).astype(np.uint32),
            frame=frame, material=material,
            uvs=None if uv is None else uv[used].astype(np.float32),
            colors=None if colors is None else colors[used])


def _vertex_colors(mesh) -> np.ndarray | None:
    from trimesh.visual.color import ColorVisuals
    visual = mesh.visual
    if isinstance(visual, ColorVisuals) and visual.kind == "vertex":
        return np.asarray(visual.vertex_colors, dtype=np.uint8)
    return None


def read_mesh(path: str | Path, frame: GeoFrame) -> Iterator[MeshBatch]:
    """Stream the meshes of an OBJ/PLY/glb/glTF file as MeshBatch, repaired.

    ``frame`` says where the file's coordinates are (CRS, origin); it is attached to every
    batch unchanged. Raises InputError for a missing file or one without triangles.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"mesh file {path} does not exist")
    y_up = path.suffix.lower() in (".glb", ".gltf")
    textures = _mtl_textures(path)
    produced = 0
    for mesh in _load_scene(path):
        for batch in _batches(mesh, frame, textures, path.name, y_up):
            produced += 1
            yield batch
    if produced == 0:
        raise InputError(f"{path} has no usable triangles (empty, or all degenerate/NaN); "
                         "check the export")
