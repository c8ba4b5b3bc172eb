"""Verify a stored tileset against the 3D Tiles rules cimtwin promises.

Errors (the tileset must not be published / the CLI exits non-zero):
- tileset.json missing or unreadable, no ``asset.version`` 1.0/1.1, no root;
- a tile without a bounding volume or with a negative / missing geometricError;
- root ``refine`` missing, or any refine other than ADD / REPLACE;
- a child whose geometricError is larger than its parent's; a leaf whose error is not 0;
- a child volume not inside its parent's volume, a content volume not inside its tile's,
  or glb geometry (POSITION min/max through the node transforms) outside its tile's
  volume (tolerance: 1 cm plus 1e-6 of the box size);
- a content file that is missing, or a glb the Khronos gltf-validator reports errors for.

Volumes are compared in the root's frame after applying each tile's ``transform``; only
``box`` volumes are checked (``region``/``sphere`` give a warning, not an error).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from tiles.errors import StoreError, TilesError
from tiles.glb.builder import read_glb
from tiles.model import TileStore
from tiles.validate import validate_glb as run_validator

TOLERANCE_M = 0.01
_GLTF_TO_ZUP = np.array([[1, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], float)


@dataclass
class CheckReport:
    """The outcome of a check: errors (fatal), warnings, and what was looked at."""

    tileset: str
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    tiles: int = 0
    contents: int = 0
    validated: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_text(self) -> str:
        head = (f"{self.tileset}: {'OK' if self.ok else 'FAILED'} - {self.tiles} tiles, "
                f"{self.contents} contents, {self.validated} glb validated, "
                f"{len(self.errors)} errors, {len(self.warnings)} warnings")
        lines = [head] + [f"  error: {e}" for e in self.errors[:200]]
        lines += [f"  warning: {w}" for w in self.warnings[:50]]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"tileset": self.tileset, "ok": self.ok, "errors": self.errors,
                "warnings": self.warnings, "tiles": self.tiles, "contents": self.contents,
                "validated": self.validated}


def _box_corners(box: list[float], matrix: np.ndarray) -> np.ndarray:
    """The 8 corners of a 3D Tiles box after ``matrix`` (4x4), as (8, 3)."""
    centre, axes = np.asarray(box[:3], float), np.asarray(box[3:12], float).reshape(3, 3)
    signs = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float)
    pts = centre + signs @ axes
    return (np.hstack([pts, np.ones((8, 1))]) @ matrix.T)[:, :3]


def _inside(points: np.ndarray, box: list[float], matrix: np.ndarray) -> float:
    """How far (m) ``points`` stick out of the box after ``matrix``; <= 0 means inside."""
    centre = matrix[:3, :3] @ np.asarray(box[:3], float) + matrix[:3, 3]
    axes = (matrix[:3, :3] @ np.asarray(box[3:12], float).reshape(3, 3).T).T
    lengths = np.linalg.norm(axes, axis=1)
    units = axes / np.where(lengths > 0, lengths, 1)[:, None]
    local = np.abs((points - centre) @ units.T)
    return float(np.max(local - lengths[None, :]))


def _tolerance(box: list[float]) -> float:
    return TOLERANCE_M + 1e-6 * float(np.linalg.norm(np.asarray(box[3:12], float)))


def _node_matrix(node: dict) -> np.ndarray:
    if "matrix" in node:
        return np.asarray(node["matrix"], float).reshape(4, 4).T
    t = np.eye(4)
    t[:3, 3] = node.get("translation", [0, 0, 0])
    x, y, z, w = node.get("rotation", [0, 0, 0, 1])
    r = np.eye(4)
    r[:3, :3] = [[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                 [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                 [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]]
    s = np.diag(list(node.get("scale", [1, 1, 1])) + [1])
    return t @ r @ s


_NORM = {5120: 127.0, 5121: 255.0, 5122: 32767.0, 5123: 65535.0}


def glb_position_corners(data: bytes) -> np.ndarray:
    """Corners of every primitive's POSITION min/max box, in z-up tile coordinates
    (for instanced prototypes: the placed vertices themselves)."""
    gltf, bin_chunk = read_glb(data)
    out = []

    def visit(index: int, parent: np.ndarray) -> None:
        node = gltf["nodes"][index]
        matrix = parent @ _node_matrix(node)
        instancing = node.get("extensions", {}).get("EXT_mesh_gpu_instancing")
        for prim in gltf.get("meshes", [{}] * (node.get("mesh", -1) + 1))[
                node["mesh"]]["primitives"] if "mesh" in node else []:
            acc = gltf["accessors"][prim["attributes"]["POSITION"]]
            if instancing is not None:
                # A rotated box of the prototype is looser than the rotated geometry, so
                # place the vertices themselves (plain float32 prototypes; a compressed
                # one is left to the validator).
                points = _plain_floats(gltf, bin_chunk, acc, 3)
                if points is not None:
                    homogeneous = np.c_[points, np.ones(len(points))]
                    for m in _instance_matrices(gltf, bin_chunk, instancing["attributes"]):
                        out.append((homogeneous @ (matrix @ m).T)[:, :3])
                continue
            lo, hi = np.asarray(acc["min"], float), np.asarray(acc["max"], float)
            if acc.get("normalized"):
                lo, hi = lo / _NORM[acc["componentType"]], hi / _NORM[acc["componentType"]]
            corners = np.array([[x, y, z, 1] for x in (lo[0], hi[0]) for y in (lo[1], hi[1])
                                for z in (lo[2], hi[2])])
            out.append((corners @ matrix.T)[:, :3])
        for child in node.get("children", []):
            visit(child, matrix)

    for scene in gltf.get("scenes", []):
        for index in scene.get("nodes", []):
            visit(index, _GLTF_TO_ZUP)
    return np.concatenate(out) if out else np.empty((0, 3))


def _plain_floats(gltf: dict, bin_chunk: bytes, acc: dict, width: int) -> np.ndarray | None:
    """An accessor's values when stored as plain float32 in the BIN chunk, else None."""
    if "bufferView" not in acc or acc["componentType"] != 5126:
        return None
    view = gltf["bufferViews"][acc["bufferView"]]
    if "extensions" in view or view.get("byteStride", 4 * width) != 4 * width:
        return None
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    return np.frombuffer(bin_chunk, np.float32, acc["count"] * width, start) \
        .reshape(-1, width).astype(np.float64)


def _instance_matrices(gltf: dict, bin_chunk: bytes, attributes: dict) -> np.ndarray:
    """(K,4,4) instance transforms of an EXT_mesh_gpu_instancing node (float TRS)."""
    def read(name: str, width: int) -> np.ndarray | None:
        if name not in attributes:
            return None
        values = _plain_floats(gltf, bin_chunk, gltf["accessors"][attributes[name]], width)
        if values is None:
            raise ValueError(f"instance {name} is not plain float32; cannot place it")
        return values
    t, q, s = read("TRANSLATION", 3), read("ROTATION", 4), read("SCALE", 3)
    count = next(len(a) for a in (t, q, s) if a is not None)
    t = np.zeros((count, 3)) if t is None else t
    q = np.tile([0.0, 0, 0, 1], (count, 1)) if q is None else q
    s = np.ones((count, 3)) if s is None else s
    x, y, z, w = q.T  # glTF quaternions are x, y, z, w
    rot = np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
                    2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
                    2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
                   axis=1).reshape(-1, 3, 3)
    matrices = np.tile(np.eye(4), (count, 1, 1))
    matrices[:, :3, :3] = rot * s[:, None, :]
    matrices[:, :3, 3] = t
    return matrices


#: Reads a tileset file by its relative path; None when it is missing (or unsafe).
Reader = Callable[[str], "bytes | None"]
#: glb files handed to one gltf-validator run (bounds the bytes held at once).
VALIDATE_BATCH = 100


class _Walker:
    """Walks the tile tree once, collecting errors and the glb files to validate."""

    def __init__(self, read: Reader, report: CheckReport):
        self.read, self.report, self.glbs = read, report, []

    def error(self, where: str, message: str) -> None:
        self.report.errors.append(f"{where}: {message}")

    def tile(self, tile: dict, where: str, parent: dict | None, parent_matrix: np.ndarray,
             parent_box_matrix: np.ndarray | None) -> None:
        self.report.tiles += 1
        matrix = parent_matrix
        if "transform" in tile:
            matrix = parent_matrix @ np.asarray(tile["transform"], float).reshape(4, 4).T
        volume = tile.get("boundingVolume") or {}
        box = volume.get("box")
        if not volume:
            self.error(where, "no boundingVolume")
        elif box is None:
            self.report.warnings.append(f"{where}: non-box volume not checked")
        error = tile.get("geometricError")
        if not isinstance(error, (int, float)) or error < 0:
            self.error(where, f"geometricError {error!r} must be a number >= 0")
            error = None
        if tile.get("refine", "ADD") not in ("ADD", "REPLACE"):
            self.error(where, f"refine {tile.get('refine')!r} is not ADD or REPLACE")
        children = tile.get("children") or []
        if error is not None and not children and error != 0:
            self.error(where, f"leaf tile has geometricError {error}, expected 0")
        if parent is not None and error is not None:
            parent_error = parent.get("geometricError")
            if isinstance(parent_error, (int, float)) and error > parent_error + 1e-9:
                self.error(where, f"geometricError {error} exceeds its parent's {parent_error}")
        if box is not None and parent is not None and parent_box_matrix is not None:
            parent_box = (parent.get("boundingVolume") or {}).get("box")
            if parent_box is not None:
                out = _inside(_box_corners(box, matrix), parent_box, parent_box_matrix)
                if out > _tolerance(parent_box):
                    self.error(where, f"bounding volume sticks out of its parent by {out:.3f} m")
        if "content" in tile or "contents" in tile:
            for i, content in enumerate(tile.get("contents") or [tile["content"]]):
                self.content(content, f"{where}.content[{i}]", box, matrix)
        for i, child in enumerate(children):
            self.tile(child, f"{where}.children[{i}]", tile, matrix,
                      matrix if box is not None else None)

    def content(self, content: dict, where: str, box, matrix: np.ndarray) -> None:
        self.report.contents += 1
        uri = content.get("uri", "")
        data = self.read(uri) if uri else None
        if data is None:
            self.error(where, f"content {uri!r} is missing")
            return
        cbox = (content.get("boundingVolume") or {}).get("box")
        if box is not None and cbox is not None:
            out = _inside(_box_corners(cbox, matrix), box, matrix)
            if out > _tolerance(box):
                self.error(where, f"content volume sticks out of its tile by {out:.3f} m")
        if data[:4] != b"glTF":
            self.report.warnings.append(f"{where}: {uri} is not glb; not checked")
            return
        self.glbs.append(uri)
        try:
            corners = glb_position_corners(data)
        except (TilesError, KeyError, IndexError, ValueError) as exc:
            self.error(where, f"{uri} cannot be read as glTF: {exc}")
            return
        if box is not None and len(corners):
            world = (np.hstack([corners, np.ones((len(corners), 1))]) @ matrix.T)[:, :3]
            out = _inside(world, box, matrix)
            if out > _tolerance(box):
                self.error(where, f"{uri} geometry sticks out of its tile by {out:.3f} m")


def check_files(read: Reader, name: str, validate_glb: bool = True,
                validate_limit: int = 0) -> CheckReport:
    """Check the tileset whose files ``read`` returns (by relative path).

    ``validate_limit`` > 0 runs gltf-validator over at most that many glb files, evenly
    spread over the tree in walk order (the root always), and says so in a warning:
    what a large build does before publishing; ``cimtwin tilesets check`` validates all.
    """
    report = CheckReport(tileset=name)
    raw = read("tileset.json")
    try:
        document = json.loads(raw.decode("utf-8")) if raw is not None else None
    except ValueError as exc:
        report.errors.append(f"tileset.json unreadable: {exc}")
        return report
    if not isinstance(document, dict):
        report.errors.append("tileset.json missing or not a JSON object")
        return report
    version = (document.get("asset") or {}).get("version")
    if version not in ("1.0", "1.1"):
        report.errors.append(f"asset.version {version!r} is not '1.0' or '1.1'")
    root = document.get("root")
    if not isinstance(root, dict):
        report.errors.append("tileset.json has no root tile")
        return report
    if root.get("refine") not in ("ADD", "REPLACE"):
        report.errors.append("root: refine must be set to ADD or REPLACE")
    top = document.get("geometricError")
    if not isinstance(top, (int, float)) or top < root.get("geometricError", 0):
        report.errors.append(f"tileset geometricError {top!r} must be >= the root's")
    walker = _Walker(read, report)
    walker.tile(root, "root", None, np.eye(4), None)
    if validate_glb and walker.glbs:
        _validate(read, walker.glbs, validate_limit, report)
    return report


def _validate(read: Reader, glbs: list[str], limit: int, report: CheckReport) -> None:
    """gltf-validator over ``glbs`` (or a spread sample of ``limit``), in batches."""
    if 0 < limit < len(glbs):
        picks = np.unique(np.linspace(0, len(glbs) - 1, limit).round().astype(int))
        report.warnings.append(f"gltf-validator ran on {len(picks)} of {len(glbs)} glb "
                               "files (a sample); `cimtwin tilesets check` runs all")
        glbs = [glbs[i] for i in picks]
    for start in range(0, len(glbs), VALIDATE_BATCH):
        names = glbs[start:start + VALIDATE_BATCH]
        for result in run_validator([read(uri) for uri in names], names=names):
            report.validated += 1
            if not result.ok:
                report.errors.append(result.summary())


def check_directory(directory: str | Path, validate_glb: bool = True,
                    name: str | None = None, validate_limit: int = 0) -> CheckReport:
    """Check the tileset whose tileset.json is in ``directory`` (e.g. a delivered one)."""
    base = Path(directory).resolve()

    def read(path: str) -> bytes | None:
        target = (base / path).resolve()
        if not target.is_relative_to(base) or not target.is_file():
            return None
        return target.read_bytes()

    return check_files(read, name or base.name, validate_glb, validate_limit)


def check_tileset(store: TileStore, tileset_id: str, validate_glb: bool = True,
                  validate_limit: int = 0, version: str | None = None) -> CheckReport:
    """Check a tileset of ``store``: the published one (what ``cimtwin tilesets check``
    prints) or an unpublished ``version`` (what a build checks before publishing)."""
    def read(path: str) -> bytes | None:
        try:
            return store.get(tileset_id, path, version=version)
        except StoreError:  # missing, or a path the store refuses (UnsafePathError)
            return None

    return check_files(read, tileset_id, validate_glb, validate_limit)
