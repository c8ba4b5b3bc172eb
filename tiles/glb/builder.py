"""The glb container: glTF JSON plus one binary buffer, accessors and their types.

Everything above a single accessor (primitives, materials, metadata, instancing,
compression) lives in the sibling modules and writes through :class:`GlbBuilder`.
"""
from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np

from tiles.errors import TilesError

FLOAT, UBYTE, USHORT, UINT, SHORT, BYTE = 5126, 5121, 5123, 5125, 5122, 5120
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963


def z_up_to_y_up(v: np.ndarray) -> np.ndarray:
    """(x, y, z) ENU -> (x, z, -y) glTF, for positions and directions alike."""
    v = np.asarray(v)
    return np.stack([v[..., 0], v[..., 2], -v[..., 1]], axis=-1)


class GlbBuilder:
    """Accumulates glTF JSON and one binary buffer; views are 8-byte aligned."""

    def __init__(self) -> None:
        self.gltf: dict[str, Any] = {"asset": {"version": "2.0", "generator": "cimtwin"},
                                     "buffers": [], "bufferViews": [], "accessors": []}
        self.bin = bytearray()
        self.extensions_used: set[str] = set()
        self.extensions_required: set[str] = set()

    def add_view(self, data: bytes, target: int | None = None,
                 stride: int | None = None) -> int:
        """Append ``data`` as a bufferView of buffer 0; returns its index."""
        self.bin.extend(b"\0" * (-len(self.bin) % 8))
        view: dict[str, Any] = {"buffer": 0, "byteOffset": len(self.bin),
                                "byteLength": len(data)}
        if target is not None:
            view["target"] = target
        if stride is not None:
            view["byteStride"] = stride
        self.bin.extend(data)
        self.gltf["bufferViews"].append(view)
        return len(self.gltf["bufferViews"]) - 1

    def add_accessor(self, view: int | None, component: int, count: int, kind: str,
                     *, normalized: bool = False, minmax: tuple | None = None) -> int:
        acc: dict[str, Any] = {"componentType": component, "count": int(count), "type": kind}
        if view is not None:
            acc["bufferView"] = view
        if normalized:
            acc["normalized"] = True
        if minmax is not None:
            acc["min"], acc["max"] = [list(map(float, m)) for m in minmax]
        self.gltf["accessors"].append(acc)
        return len(self.gltf["accessors"]) - 1

    def add_list(self, key: str, item: dict[str, Any]) -> int:
        self.gltf.setdefault(key, []).append(item)
        return len(self.gltf[key]) - 1

    def use(self, name: str, required: bool = False) -> None:
        self.extensions_used.add(name)
        if required:
            self.extensions_required.add(name)

    def _fallback_buffer(self) -> None:
        """EXT_meshopt_compression: the uncompressed layout's buffer, which holds no data
        (index 1; views marked "fallback" by tiles.glb.compression point at it)."""
        size = self.gltf.pop("meshopt_fallback", None)
        if size is None:
            return
        self.gltf["buffers"].append({"byteLength": max(int(size), 4), "extensions": {
            "EXT_meshopt_compression": {"fallback": True}}})
        for view in self.gltf["bufferViews"]:
            if view.get("buffer") == "fallback":
                view["buffer"] = len(self.gltf["buffers"]) - 1

    def finish(self) -> bytes:
        """The glb container: 12-byte header, JSON chunk, BIN chunk (4-byte padded)."""
        self.bin.extend(b"\0" * (-len(self.bin) % 4))
        self.gltf["buffers"].insert(0, {"byteLength": len(self.bin)})
        self._fallback_buffer()
        if self.extensions_used:
            self.gltf["extensionsUsed"] = sorted(self.extensions_used)
        if self.extensions_required:
            self.gltf["extensionsRequired"] = sorted(self.extensions_required)
        if not self.gltf["accessors"]:
            del self.gltf["accessors"]
        text = json.dumps(self.gltf, separators=(",", ":"), ensure_ascii=False).encode()
        text += b" " * (-len(text) % 4)
        total = 12 + 8 + len(text) + 8 + len(self.bin)
        return b"".join([struct.pack("<4sII", b"glTF", 2, total),
                         struct.pack("<I4s", len(text), b"JSON"), text,
                         struct.pack("<I4s", len(self.bin), b"BIN\0"), bytes(self.bin)])


def feature_id_component(ids: np.ndarray) -> tuple[int, np.ndarray]:
    """The smallest glTF component type holding the ids (UNSIGNED_INT is not allowed
    for vertex attributes; float is exact up to 2**24)."""
    top = int(ids.max()) if len(ids) else 0
    if top < 255:
        return UBYTE, ids.astype(np.uint8)
    if top < 65535:
        return USHORT, ids.astype(np.uint16)
    if top >= 2**24:
        raise TilesError(f"feature id {top} is too large for one tile; split the tile")
    return FLOAT, ids.astype(np.float32)


def read_glb(data: bytes) -> tuple[dict[str, Any], bytes]:
    """Split a glb into its JSON and BIN chunk (for tests and checks)."""
    magic, version, total = struct.unpack_from("<4sII", data, 0)
    if magic != b"glTF" or version != 2 or total != len(data):
        raise TilesError("not a glTF 2.0 binary (bad header or length)")
    json_len, _ = struct.unpack_from("<I4s", data, 12)
    gltf = json.loads(data[20:20 + json_len])
    rest = 20 + json_len
    bin_chunk = b""
    if rest < len(data):
        bin_len, _ = struct.unpack_from("<I4s", data, rest)
        bin_chunk = data[rest + 8:rest + 8 + bin_len]
    return gltf, bin_chunk
