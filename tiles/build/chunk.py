"""A placed mesh chunk: the engine's unit of work after georeferencing.

A :class:`Chunk` is a :class:`tiles.model.MeshBatch` after it was placed in the build's
ENU frame (float64 metres) and repaired. Chunks are what the pipeline spills to disk,
buckets into tiles and hands to the LOD and glb code; they hold a material *index* into
the build's material table so they pickle small and compare cheaply.
"""
from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

NO_FEATURE = np.uint32(0xFFFFFFFF)

_OPTIONAL = ("normals", "uvs", "colors")


@dataclass
class Chunk:
    """Triangles in the ENU working frame with one material (by index)."""

    positions: np.ndarray  # float64 (N, 3) ENU metres
    indices: np.ndarray  # uint32 (M, 3)
    feature_ids: np.ndarray  # uint32 (N,), NO_FEATURE where none
    material: int = 0
    normals: np.ndarray | None = None  # float32 (N, 3)
    uvs: np.ndarray | None = None  # float32 (N, 2)
    colors: np.ndarray | None = None  # uint8 (N, 4)
    #: Encoded image replacing the material's texture (a parent's atlas), or None.
    texture: bytes | None = None

    @property
    def triangle_count(self) -> int:
        return int(len(self.indices))

    def signature(self) -> tuple:
        """Chunks with equal signatures can be concatenated into one primitive."""
        tex = None if self.texture is None else texture_digest(self.texture)
        return (self.material, tex) + tuple(getattr(self, n) is not None for n in _OPTIONAL)

    def centroids(self) -> np.ndarray:
        """(M, 3) triangle centroids, float64."""
        p, i = self.positions, self.indices
        return (p[i[:, 0]] + p[i[:, 1]] + p[i[:, 2]]) / 3.0

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        used = self.positions[np.unique(self.indices)] if len(self.indices) else self.positions
        return used.min(axis=0), used.max(axis=0)

    def select(self, triangles: np.ndarray) -> "Chunk":
        """A compact chunk holding only the selected triangles (mask or index array);
        unused vertices are dropped (a linear remap, no sort)."""
        tris = self.indices[triangles]
        seen = np.zeros(len(self.positions), dtype=bool)
        seen[tris.reshape(-1)] = True
        used = np.flatnonzero(seen)
        remap = np.cumsum(seen, dtype=np.int64) - 1
        inverse = remap[tris.reshape(-1)]
        return Chunk(
            positions=self.positions[used],
            indices=inverse.reshape(-1, 3).astype(np.uint32),
            feature_ids=self.feature_ids[used],
            material=self.material,
            normals=None if self.normals is None else self.normals[used],
            uvs=None if self.uvs is None else self.uvs[used],
            colors=None if self.colors is None else self.colors[used],
            texture=self.texture,
        )


def texture_digest(data: bytes) -> str:
    """A stable identity for texture bytes (``hash()`` of bytes differs per process)."""
    return hashlib.blake2b(data, digest_size=12).hexdigest()


def concat(chunks: list[Chunk]) -> Chunk:
    """One chunk from chunks sharing a signature (indices offset accordingly)."""
    if len(chunks) == 1:
        return chunks[0]
    offsets = np.cumsum([0] + [len(c.positions) for c in chunks[:-1]])
    def cat(name):
        values = [getattr(c, name) for c in chunks]
        return None if values[0] is None else np.concatenate(values)
    return Chunk(
        positions=np.concatenate([c.positions for c in chunks]),
        indices=np.concatenate([c.indices + np.uint32(o) for c, o in zip(chunks, offsets)]),
        feature_ids=np.concatenate([c.feature_ids for c in chunks]),
        material=chunks[0].material,
        normals=cat("normals"), uvs=cat("uvs"), colors=cat("colors"),
        texture=chunks[0].texture,
    )


def merge_by_signature(chunks: list[Chunk]) -> list[Chunk]:
    """Concatenate chunks per signature (one primitive per material and layout)."""
    groups: dict[tuple, list[Chunk]] = {}
    for chunk in chunks:
        if chunk.triangle_count:
            groups.setdefault(chunk.signature(), []).append(chunk)
    return [concat(group) for _, group in sorted(groups.items(), key=lambda kv: repr(kv[0]))]


_MAGIC = b"CHK1"
_ARRAYS = ("positions", "indices", "feature_ids") + _OPTIONAL


def dump_chunks(chunks: list[Chunk]) -> bytes:
    """Serialise chunks as one record: magic, JSON header, raw 8-byte aligned arrays.

    Raw arrays (no zip, no pickle) make spills and buckets as fast to write and read as
    the disk allows; :func:`load_chunks` maps them back without parsing.
    """
    header, parts, offset = [], [], 0
    for chunk in chunks:
        entry = {"material": int(chunk.material), "arrays": []}
        blobs = [(name, np.ascontiguousarray(getattr(chunk, name))) for name in _ARRAYS
                 if getattr(chunk, name) is not None]
        if chunk.texture is not None:
            blobs.append(("texture", np.frombuffer(chunk.texture, dtype=np.uint8)))
        for name, arr in blobs:
            entry["arrays"].append([name, arr.dtype.str, list(arr.shape), offset])
            pad = -arr.nbytes % 8
            parts.append(arr.data.cast("B") if arr.nbytes else b"")
            parts.append(b"\0" * pad)
            offset += arr.nbytes + pad
        header.append(entry)
    text = json.dumps(header).encode()
    text += b" " * (-(len(text) + 8) % 8)
    return b"".join([_MAGIC, struct.pack("<I", len(text)), text] + parts)


def load_chunks(data: bytes | bytearray | memoryview | str) -> list[Chunk]:
    """Inverse of :func:`dump_chunks` (the bytes of one record, or a file of one).

    Arrays view ``data`` when it is writeable (a bytearray or a view of one): no copy."""
    if isinstance(data, (str, Path)):
        return read_chunk_file(data)
    writeable = isinstance(data, bytearray) or (isinstance(data, memoryview)
                                                and not data.readonly)
    buffer = data if writeable else bytearray(data)
    if bytes(buffer[:4]) != _MAGIC:
        raise ValueError("not a cimtwin chunk record (work folder from another version?)")
    size = struct.unpack_from("<I", buffer, 4)[0]
    header = json.loads(bytes(buffer[8:8 + size]))
    base = 8 + size
    out = []
    for entry in header:
        fields = {}
        for name, dtype, shape, offset in entry["arrays"]:
            count = int(np.prod(shape)) if shape else 1
            arr = np.frombuffer(buffer, dtype=np.dtype(dtype), count=count,
                                offset=base + offset).reshape(shape)
            fields[name] = arr.tobytes() if name == "texture" else arr
        out.append(Chunk(material=entry["material"], **fields))
    return out


def append_chunk_file(path: str | Path, chunks: list[Chunk]) -> None:
    """Append one record to a chunk file (length-prefixed, so records can be appended)."""
    data = dump_chunks(chunks)
    with open(path, "ab") as handle:
        handle.write(len(data).to_bytes(8, "little"))
        handle.write(data)


def chunk_file_bytes(chunks: list[Chunk]) -> bytes:
    """The bytes of a chunk file holding one record (for atomic writes)."""
    data = dump_chunks(chunks)
    return len(data).to_bytes(8, "little") + data


def read_chunk_file(path: str | Path) -> list[Chunk]:
    """Every chunk of every record in a chunk file."""
    with open(path, "rb") as handle:
        return chunks_of(bytearray(handle.read()))


#: A part of a chunk file: (path, byte offset, byte length) of whole records.
ChunkRef = tuple[str, int, int]


def read_chunk_ref(ref: ChunkRef) -> list[Chunk]:
    """Every chunk of the records in one part of a chunk file."""
    path, offset, length = ref
    data = bytearray(length)
    with open(path, "rb") as handle:
        handle.seek(offset)
        handle.readinto(data)
    return chunks_of(data)


def chunks_of(data: bytearray, start: int = 0) -> list[Chunk]:
    """The chunks of the length-prefixed records in ``data[start:]``."""
    chunks: list[Chunk] = []
    view = memoryview(data)
    while start < len(data):
        size = int.from_bytes(view[start:start + 8], "little")
        chunks.extend(load_chunks(view[start + 8:start + 8 + size]))
        start += 8 + size
    return chunks
