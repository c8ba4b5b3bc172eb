"""The tile record: one work file per built tile (``nodes/<key>.rec``).

A record says the tile is finished (a re-run returns it without work) and holds what
its parent needs: the tile itself (a :class:`tiles.model.TileNode` without children),
where its LOD mesh is (REPLACE: the chunks appended to the record, or the leaf's single
bucket part), and the largest feature extent at or below it (ADD). One file, written
once through a temporary and a rename, instead of a done marker plus a LOD file.

Layout: 8-byte little-endian header length, JSON header, then (optional) a chunk file
(:func:`tiles.build.chunk.chunk_file_bytes`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tiles.build.chunk import Chunk, chunk_file_bytes, chunks_of, read_chunk_ref
from tiles.model import BoundingBox, TileNode
from tiles.store import write_atomic

#: ``lod`` value of a record whose LOD chunks follow its header.
IN_RECORD = "record"


@dataclass
class TileRecord:
    """A finished tile and what its parent reads from it."""

    tile: TileNode  # children not stored; the scheduler hands them back
    lod: str | list | None = None  # None, IN_RECORD or a ChunkRef (a leaf's bucket part)
    extent: float = 0.0  # ADD: largest feature extent at or below this tile


def _box(value) -> BoundingBox | None:
    return None if value is None else BoundingBox.of(value[0], value[1])


def _header(record: TileRecord) -> bytes:
    t = record.tile
    return json.dumps({
        "key": t.key, "refine": t.refine, "error": t.geometric_error,
        "content": t.content, "triangles": t.triangles,
        "bounds": None if t.bounds is None else [t.bounds.lo, t.bounds.hi],
        "content_bounds": None if t.content_bounds is None
        else [t.content_bounds.lo, t.content_bounds.hi],
        "lod": record.lod, "extent": record.extent}).encode()


def write_record(path: Path, record: TileRecord, lod_chunks: list[Chunk] | None = None
                 ) -> None:
    """Write the record (with ``lod_chunks`` appended when given) in one atomic step."""
    header = _header(record)
    body = chunk_file_bytes(lod_chunks) if lod_chunks else b""
    write_atomic(path, len(header).to_bytes(8, "little") + header + body)


def read_record(path: Path) -> TileRecord | None:
    """The record at ``path`` (header only), or None if the tile is not finished."""
    try:
        with open(path, "rb") as handle:
            size = int.from_bytes(handle.read(8), "little")
            head = json.loads(handle.read(size))
    except FileNotFoundError:
        return None
    tile = TileNode(key=head["key"], refine=head["refine"], bounds=_box(head["bounds"]),
                    geometric_error=float(head["error"]), content=head["content"],
                    content_bounds=_box(head["content_bounds"]),
                    triangles=int(head["triangles"]))
    return TileRecord(tile=tile, lod=head["lod"], extent=float(head["extent"]))


def read_lod(path: Path, record: TileRecord) -> list[Chunk]:
    """The LOD chunks a record points at (empty when it has none)."""
    if record.lod is None:
        return []
    if record.lod != IN_RECORD:
        return read_chunk_ref(tuple(record.lod))
    with open(path, "rb") as handle:
        data = bytearray(handle.read())
    return chunks_of(data, 8 + int.from_bytes(data[:8], "little"))
