"""A placed mesh chunk: the engine's unit of work after georeferencing.

A :class:`Chunk` is a :class:`tiles.model.MeshBatch` after it was placed in the build's
ENU frame (float64 metres) and repaired. Chunks are what the pipeline spills to disk,
buckets into tiles and hands to the LOD and glb code; they hold a material *index* into
the build's material table so they pickle small and compare cheaply.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

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

    @property
    def triangle_count(self) -> int:
        return int(len(self.indices))

    def signature(self) -> tuple:
        """Chunks with equal signatures can be concatenated into one primitive."""
        return (self.material,) + tuple(getattr(self, n) is not None for n in _OPTIONAL)

    def centroids(self) -> np.ndarray:
        """(M, 3) triangle centroids, float64."""
        return self.positions[self.indices].mean(axis=1)

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
        )


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
    )


def merge_by_signature(chunks: list[Chunk]) -> list[Chunk]:
    """Concatenate chunks per signature (one primitive per material and layout)."""
    groups: dict[tuple, list[Chunk]] = {}
    for chunk in chunks:
        if chunk.triangle_count:
            groups.setdefault(chunk.signature(), []).append(chunk)
    return [concat(group) for _, group in sorted(groups.items(), key=lambda kv: kv[0])]


def dump_chunks(chunks: list[Chunk]) -> bytes:
    """Serialise chunks (uncompressed .npz: fast to write, fast to read back)."""
    arrays: dict[str, np.ndarray] = {"count": np.array([len(chunks)])}
    for i, chunk in enumerate(chunks):
        arrays[f"{i}_positions"] = chunk.positions
        arrays[f"{i}_indices"] = chunk.indices
        arrays[f"{i}_feature_ids"] = chunk.feature_ids
        arrays[f"{i}_material"] = np.array([chunk.material])
        for name in _OPTIONAL:
            value = getattr(chunk, name)
            if value is not None:
                arrays[f"{i}_{name}"] = value
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def load_chunks(data: bytes | str) -> list[Chunk]:
    """Inverse of :func:`dump_chunks` (accepts the bytes or a file path)."""
    source = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
    with np.load(source) as npz:
        names = set(npz.files)
        out = []
        for i in range(int(npz["count"][0])):
            extra = {n: npz[f"{i}_{n}"] for n in _OPTIONAL if f"{i}_{n}" in names}
            out.append(Chunk(positions=npz[f"{i}_positions"], indices=npz[f"{i}_indices"],
                             feature_ids=npz[f"{i}_feature_ids"],
                             material=int(npz[f"{i}_material"][0]), **extra))
    return out
