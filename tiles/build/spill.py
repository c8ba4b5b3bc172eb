"""Worker tasks of the first two pipeline steps: place and spill a batch; bucket a spill.

Both run on the build's executor (process pool, Dask or inline), so reading and
partitioning use every core, not only the main process. Tasks exchange files (the
work folder) and small results; the main process keeps the order-dependent state
(input hash, planning sample, feature table) and applies results in input order, so a
build is the same whatever ran where.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from tiles.build.addtree import feature_part
from tiles.build.chunk import ChunkRef, chunk_file_bytes, read_chunk_file
from tiles.build.ingest import place_batch
from tiles.model import MeshBatch
from tiles.build.workers import release_memory


def spill_batch(batch: MeshBatch, origin: np.ndarray, material: int, textured: bool,
                label: str, path: str, feature_stats: bool) -> dict:
    """Repair and place ``batch`` in the ENU frame at ``origin``, write it to ``path``.

    Returns warnings, the spill's hash, bounds, triangle count, the triangle centroids
    (float32, for planning) and, for ADD trees, the per-feature statistics.
    """
    chunk, warnings = place_batch(batch, origin, material, textured, label)
    if chunk is None:
        return {"warnings": warnings, "path": None}
    data = chunk_file_bytes([chunk])
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    out = {"warnings": warnings, "path": path,
           "digest": hashlib.blake2b(data, digest_size=16).digest(),
           "lo": chunk.positions.min(axis=0), "hi": chunk.positions.max(axis=0),
           "triangles": chunk.triangle_count,
           "centroids": chunk.centroids().astype(np.float32), "features": None}
    if feature_stats:
        out["features"] = feature_part(chunk)
    del chunk, data
    release_memory()
    return out


def bucket_spill(spill: str, plan, buckets: str, number: int) -> dict[str, ChunkRef]:
    """Sort one spill by tile into one bucket file ``<number>.chk`` (one part per tile).

    ``plan`` is a :class:`tiles.build.tiling.TilePlan` (or ADD plan with ``place``).
    Returns where each tile's part is: tile key -> (path, offset, length). One file per
    spill, not one per tile and spill: file creation dominated partitioning.
    """
    parts: dict[str, list] = {}
    for chunk in read_chunk_file(spill):
        if hasattr(plan, "place"):
            node = plan.place(chunk)
        else:
            node = plan.assign_triangles(chunk.positions, chunk.indices)
        order = np.argsort(node, kind="stable")
        ids, starts = np.unique(node[order], return_index=True)
        ends = list(starts[1:]) + [len(order)]
        for index, start, end in zip(ids, starts, ends):
            parts.setdefault(plan.nodes[index].key, []).append(chunk.select(order[start:end]))
    path = Path(buckets) / f"{number:07d}.chk"
    refs: dict[str, ChunkRef] = {}
    offset = 0
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        for key in sorted(parts):
            data = chunk_file_bytes(parts.pop(key))
            handle.write(data)
            refs[key] = (str(path), offset, len(data))
            offset += len(data)
    tmp.replace(path)
    release_memory()
    return refs
