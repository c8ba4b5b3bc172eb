"""OpenSceneGraph binary (.osgb) files, read in-process: one parse per file.

OpenSceneGraph parses the file (``osgb_native.cpp``, a small C++ library built by
``make native`` against Debian's libopenscenegraph-dev and loaded here with ctypes);
this module turns its answer into numpy arrays and encoded textures. Each
``osg::PagedLOD`` of the file becomes one :class:`OsgbNode`: its own geometry (the
inline children), its bounding sphere, its switch ranges and the child files that
replace it. Geometry outside any PagedLOD forms one ``group`` node. Nothing is written
to disk and no external program runs (see docs/tiling.md for why and the figures).

Textures: images stored as JPEG/PNG files (inline or beside the .osgb) keep their
bytes; raw pixel arrays (ContextCapture's usual RGB) are encoded once, JPEG by default.
UVs follow OpenGL/OBJ (origin bottom-left), like :class:`tiles.gltf.Primitive`.
"""
from __future__ import annotations

import ctypes
import functools
import io
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tiles.errors import InputError, TilesError

#: Where ``make native`` puts the library; CIMTWIN_OSGB_LIB overrides it.
LIBRARY = Path(__file__).with_name("_osgb_native.so")
TEXTURE_FORMATS = ("jpeg", "png", "webp")
JPEG_QUALITY = 85
_GL_UNSIGNED_BYTE = 5121
#: GL pixel formats -> (Pillow mode, raw mode); others are reported, drawn untextured.
_PIXEL_FORMATS = {6407: ("RGB", "RGB"), 6408: ("RGBA", "RGBA"), 0x80E0: ("RGB", "BGR"),
                  0x80E1: ("RGBA", "BGRA"), 6409: ("L", "L"), 6410: ("LA", "LA")}


@dataclass
class OsgbGeometry:
    """Triangles of one osg::Geometry in the file's coordinates (metres, float64)."""

    positions: np.ndarray  # (N, 3) float64
    indices: np.ndarray  # (M, 3) uint32
    uvs: np.ndarray | None  # (N, 2) float32, OpenGL convention
    texture: int | None  # index into OsgbFile.textures
    color: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)

    @property
    def triangle_count(self) -> int:
        return len(self.indices)


@dataclass
class OsgbNode:
    """One PagedLOD (or the file's loose geometry): what it draws and what replaces it."""

    kind: str  # "plod" or "group"
    center: tuple[float, float, float] | None
    radius: float | None
    mode: str | None  # "pixel" (PIXEL_SIZE_ON_SCREEN) or "distance"
    ranges: list[tuple[float, float]]
    files: list[str]  # child files, in range order (empty names dropped)
    geometries: list[OsgbGeometry] = field(default_factory=list)
    #: (4, 4) OSG matrix (row vectors) placing this node in the file; the child files
    #: are drawn under it too. None = identity.
    matrix: np.ndarray | None = None

    @property
    def triangle_count(self) -> int:
        return sum(g.triangle_count for g in self.geometries)

    def switch_range(self) -> float | None:
        """The range at which the child files replace this node's own geometry."""
        if not self.files or not self.ranges:
            return None
        return float(self.ranges[-1][0])


@dataclass
class OsgbTexture:
    data: bytes
    mime: str


@dataclass
class OsgbFile:
    path: Path
    nodes: list[OsgbNode]
    textures: list[OsgbTexture | None]
    warnings: list[str]

    @property
    def triangle_count(self) -> int:
        return sum(n.triangle_count for n in self.nodes)


@functools.lru_cache(maxsize=1)
def _library() -> ctypes.CDLL:
    path = Path(os.environ.get("CIMTWIN_OSGB_LIB") or LIBRARY)
    if not path.is_file():
        raise TilesError(
            f"the OSGB reader library {path} is not built: run 'make native' (it needs "
            "g++ and Debian's libopenscenegraph-dev), or export the production as OBJ")
    lib = ctypes.CDLL(str(path))
    lib.cimtwin_osgb_read.restype = ctypes.c_void_p
    lib.cimtwin_osgb_read.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_uint64),
                                      ctypes.c_char_p, ctypes.c_int]
    lib.cimtwin_osgb_free.argtypes = [ctypes.c_void_p]
    lib.cimtwin_osgb_free.restype = None
    return lib


def _read_blob(path: Path) -> bytes:
    lib = _library()
    size = ctypes.c_uint64(0)
    error = ctypes.create_string_buffer(512)
    pointer = lib.cimtwin_osgb_read(os.fsencode(path), ctypes.byref(size), error, 512)
    if not pointer:
        raise InputError(f"cannot read {path}: {error.value.decode(errors='replace')}")
    try:
        return ctypes.string_at(pointer, size.value)
    finally:
        lib.cimtwin_osgb_free(pointer)


def _array(binary: memoryview, span, dtype, width: int) -> np.ndarray:
    offset, count = int(span[0]), int(span[1])
    return np.frombuffer(binary, dtype=dtype, count=count * width,
                         offset=offset).reshape(count, width).copy()


def encode_pixels(info: dict, binary: memoryview, texture_format: str) -> OsgbTexture:
    """A raw OSG pixel array -> JPEG/WebP/PNG bytes, rows ordered for OpenGL UVs.

    OSG keeps row 0 at t=0 (bottom) unless the image says TOP_LEFT; image files start
    with the top row, so bottom-origin pixels are written bottom-up (Pillow's -1 stride).
    """
    from PIL import Image
    modes = _PIXEL_FORMATS.get(int(info["format"]))
    if modes is None or int(info["type"]) != _GL_UNSIGNED_BYTE:
        raise InputError(f"texture {info['name']!r} has pixel format {info['format']} / "
                         f"type {info['type']}, which cannot be encoded (compressed?)")
    mode, raw = modes
    w, h = int(info["w"]), int(info["h"])
    channels = len(raw)
    packing = max(1, int(info.get("packing", 1)))
    stride = -(-w * channels // packing) * packing
    offset, size = (int(v) for v in info["data"])
    if size < stride * h:
        raise InputError(f"texture {info['name']!r} holds {size} bytes for {w}x{h} pixels")
    pixels = bytes(binary[offset:offset + stride * h])
    orientation = 1 if int(info.get("origin", 0)) == 1 else -1
    img = Image.frombuffer(mode, (w, h), pixels, "raw", raw, stride, orientation)
    out = io.BytesIO()
    if texture_format == "png" or (mode in ("RGBA", "LA") and img.getextrema()[-1][0] < 255):
        img.save(out, "PNG")
        return OsgbTexture(out.getvalue(), "image/png")
    if texture_format == "webp":
        img.save(out, "WEBP", quality=JPEG_QUALITY, method=4)
        return OsgbTexture(out.getvalue(), "image/webp")
    img.convert("RGB").save(out, "JPEG", quality=JPEG_QUALITY)
    return OsgbTexture(out.getvalue(), "image/jpeg")


def _texture(info: dict, binary: memoryview, texture_format: str,
             warnings: list[str], path: Path) -> OsgbTexture | None:
    try:
        if info["kind"] == "encoded":
            offset, size = (int(v) for v in info["data"])
            data = bytes(binary[offset:offset + size])
            from tiles.glb.texture import mime_of
            return OsgbTexture(data, mime_of(data))
        return encode_pixels(info, binary, texture_format)
    except TilesError as exc:
        warnings.append(f"{path}: {exc}; drawn untextured")
        return None


def _geometry(info: dict, binary: memoryview, textures: list) -> OsgbGeometry:
    uvs = _array(binary, info["uv"], np.float32, 2) if "uv" in info else None
    tex = int(info.get("tex", -1))
    texture = tex if tex >= 0 and textures[tex] is not None and uvs is not None else None
    return OsgbGeometry(
        positions=_array(binary, info["v"], np.float64, 3),
        indices=_array(binary, info["i"], np.uint32, 3), uvs=uvs, texture=texture,
        color=tuple(float(c) for c in info.get("color", (1.0, 1.0, 1.0, 1.0))))


def _matrix(values) -> np.ndarray | None:
    if values is None:
        return None
    matrix = np.asarray(values, dtype=np.float64).reshape(4, 4)
    return None if np.allclose(matrix, np.eye(4)) else matrix


def transform_points(points: np.ndarray, matrix: np.ndarray | None) -> np.ndarray:
    """Points under an OSG matrix (row vectors: p' = [p, 1] @ M)."""
    if matrix is None:
        return points
    return points @ matrix[:3, :3] + matrix[3, :3]


def read_osgb(path: str | Path, texture_format: str = "jpeg") -> OsgbFile:
    """Parse one .osgb file; InputError (naming the file) when it cannot be read."""
    if texture_format not in TEXTURE_FORMATS:
        raise TilesError(f"texture format {texture_format!r}: use one of "
                         f"{', '.join(TEXTURE_FORMATS)}")
    path = Path(path)
    if not path.is_file():
        raise InputError(f"OSGB file {path} does not exist")
    blob = _read_blob(path)
    json_size = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + json_size])
    binary = memoryview(blob)[(8 + json_size + 7) // 8 * 8:]
    warnings = [f"{path}: {w}" for w in header["warnings"]]
    textures = [_texture(t, binary, texture_format, warnings, path)
                for t in header["textures"]]
    geoms = [_geometry(g, binary, textures) for g in header["geoms"]]
    nodes = [OsgbNode(kind=n["kind"], center=tuple(n["center"]) if "center" in n else None,
                      radius=n.get("radius"), mode=n.get("mode"),
                      ranges=[tuple(r) for r in n["ranges"]],
                      files=[f for f in n["files"] if f],
                      geometries=[geoms[i] for i in n["geoms"]],
                      matrix=_matrix(n.get("matrix")))
             for n in header["nodes"]]
    return OsgbFile(path=path, nodes=nodes, textures=textures, warnings=warnings)


_LEVEL_RE = re.compile(r"_L(\d+)_([0-9A-Za-z]+)$")


def lod_suffix(path: Path) -> tuple[int, str]:
    """(level, branch) of a ContextCapture OSGB name: ``Tile_X_Y_L19_0uuuu1`` ->
    (19, "0uuuu1"); the tile's root file ``Tile_X_Y`` -> (0, "")."""
    m = _LEVEL_RE.search(path.stem)
    return (int(m.group(1)), m.group(2)) if m else (0, "")


def finest_files(files: list[Path]) -> list[Path]:
    """The leaves of a tile's LOD pyramid among the files that exist (``--rebuild-lod``).

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
