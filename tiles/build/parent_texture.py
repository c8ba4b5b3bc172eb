"""One padded texture atlas per parent tile (REPLACE trees of textured reality meshes).

A parent merges the simplified meshes of its children, each with its own texture (a
child atlas or a source material's image). Drawing them with separate images would
multiply draw calls per level and, worse, let bilinear filtering and mipmaps at a
child's image border pull in nothing (seams where children meet). So every textured
chunk of a parent is packed into one atlas with edge-bleed padding
(:func:`tiles.glb.texture.build_atlas`), each image at half its child's texel density (one
level coarser), and the atlas is capped at ``max_texture_px``.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from tiles.build.chunk import Chunk, merge_by_signature, texture_digest
from tiles.model import Material
from tiles.glb.texture import build_atlas

#: Texel density of a parent relative to its children.
LEVEL_SCALE = 0.5
#: Pixels of edge bleed around each packed image.
PADDING = 4


def effective_texture(chunk: Chunk, materials: list[Material]) -> bytes | None:
    """The image a chunk is drawn with: its own (an atlas) or its material's."""
    if chunk.uvs is None:
        return None
    return chunk.texture if chunk.texture is not None else materials[chunk.material].texture


def atlas_parent(chunks: list[Chunk], materials: list[Material], max_px: int) -> list[Chunk]:
    """``chunks`` with every textured one drawn from one shared atlas (see module doc).

    Chunks drawn with the same image share one place in the atlas (siblings cut from
    one source texture are not packed four times).
    """
    textured = [c for c in chunks if effective_texture(c, materials) is not None]
    if not textured:
        return chunks
    plain = [c for c in chunks if effective_texture(c, materials) is None]
    groups: dict[str, list[int]] = {}
    images: dict[str, bytes] = {}
    for i, chunk in enumerate(textured):
        image = effective_texture(chunk, materials)
        key = texture_digest(image)
        groups.setdefault(key, []).append(i)
        images[key] = image
    keys = list(groups)
    items = [(images[k], np.concatenate([textured[i].uvs for i in groups[k]])) for k in keys]
    atlas, remapped = build_atlas(items, padding=PADDING, max_px=max_px, scale=LEVEL_SCALE)
    material = textured[0].material
    packed = []
    for key, uvs in zip(keys, remapped):
        start = 0
        for i in groups[key]:
            chunk = textured[i]
            end = start + len(chunk.uvs)
            packed.append(dataclasses.replace(chunk, uvs=uvs[start:end], texture=atlas,
                                              material=material))
            start = end
    return plain + merge_by_signature(packed)
