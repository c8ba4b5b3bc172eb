"""One tile's chunks -> glb bytes through :func:`tiles.glb.encode.to_glb`.

Feature ids are global within an import; a tile's property table holds only the
features present in it, so ids are remapped to table rows here (row order = sorted
global id). Vertices without a feature get a row with no properties (all noData), so
every vertex stays pickable-consistent and the table stays rectangular.
"""
from __future__ import annotations

import dataclasses
import functools

import numpy as np

from tiles.build.chunk import NO_FEATURE, Chunk
from tiles.glb.encode import Primitive, to_glb
from tiles.glb.metadata import MetadataSchema, PropertyTable
from tiles.model import Material
from tiles.glb.texture import downsample, mime_of


@functools.lru_cache(maxsize=8)
def _downsampled(texture: bytes, max_px: int) -> bytes:
    """Texture bytes no larger than ``max_px`` a side (cached: siblings share textures;
    a few entries only, as each holds megabytes of image in a long-lived worker)."""
    return downsample(texture, max_px)


def material_for_level(material: Material, max_px: int) -> Material:
    """The material with its texture downsampled to ``max_px`` (parents get smaller ones)."""
    if material.texture is None:
        return material
    data = _downsampled(material.texture, max(8, int(max_px)))
    if data is material.texture:
        return material
    return dataclasses.replace(material, texture=data, texture_mime=mime_of(data))


def feature_rows(chunks: list[Chunk]) -> tuple[np.ndarray, bool]:
    """Sorted global feature ids present in ``chunks`` and whether any vertex has none."""
    ids = [np.unique(c.feature_ids) for c in chunks]
    present = np.unique(np.concatenate(ids)) if ids else np.empty(0, np.uint32)
    has_null = bool(len(present) and present[-1] == NO_FEATURE)
    return present[present != NO_FEATURE], has_null


def encode_tile(chunks: list[Chunk], centre: np.ndarray, materials: list[Material],
                features: dict[int, dict], schema: MetadataSchema | None,
                compression: str, texture_px: int) -> bytes:
    """glb bytes for ``chunks`` (ENU metres); vertex positions are float32 rel. ``centre``."""
    ids, has_null = feature_rows(chunks)
    with_features = schema is not None and (len(ids) > 0)
    rows: list[dict] = [features.get(int(i), {}) for i in ids]
    null_row = len(rows)
    if with_features and has_null:
        rows.append({})
    primitives = []
    for chunk in chunks:
        fids = None
        if with_features:
            local = np.searchsorted(ids, chunk.feature_ids)
            local = np.where(chunk.feature_ids == NO_FEATURE, null_row, local)
            fids = local.astype(np.uint32)
        material = materials[chunk.material]
        if chunk.texture is not None:  # a parent's atlas replaces the material's image
            material = dataclasses.replace(material, texture=chunk.texture,
                                           texture_mime=mime_of(chunk.texture))
        material = material_for_level(material, texture_px)
        primitives.append(Primitive(
            positions=(chunk.positions - centre).astype(np.float32),
            indices=chunk.indices.astype(np.uint32), material=material,
            normals=chunk.normals, uvs=chunk.uvs if material.texture is not None else None,
            colors=chunk.colors, feature_ids=fids))
    table = PropertyTable(schema=schema, rows=rows) if with_features else None
    return to_glb(primitives, translation=tuple(float(v) for v in centre),
                  properties=table, compression=compression)
