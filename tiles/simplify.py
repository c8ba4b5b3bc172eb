"""Simplify one chunk for a parent tile, keeping UVs, colours and feature ids.

The work is :func:`tiles.lod.simplify` (meshoptimizer's quadric simplifier, which keeps
a subset of the input vertices, splits vertices shared by two features so ids never
blend, and measures the max deviation from the input surface). This module only adapts
the engine's :class:`tiles.chunk.Chunk` to it.
"""
from __future__ import annotations

from tiles.chunk import Chunk
from tiles.lod import simplify


def simplify_chunk(chunk: Chunk, target_triangles: int) -> tuple[Chunk, float]:
    """The chunk reduced to about ``target_triangles``; returns (chunk, deviation m)."""
    if chunk.triangle_count <= target_triangles:
        return chunk, 0.0
    result = simplify(chunk.positions, chunk.indices, target_triangles,
                      feature_ids=chunk.feature_ids, uvs=chunk.uvs, normals=chunk.normals,
                      colors=chunk.colors)
    return Chunk(positions=result.positions, indices=result.indices,
                 feature_ids=result.feature_ids, material=chunk.material,
                 normals=result.normals, uvs=result.uvs, colors=result.colors), result.error
