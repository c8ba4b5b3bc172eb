"""A parent over photogrammetry tile folders: seam-free simplification + orthophoto re-bake.

The children's coarsest levels are textured meshes cut by UV seams (every chart border
is a row of duplicated vertices). A simplifier that keeps UVs valid must keep those
seams, and on photogrammetry they are everywhere: it stopped at ~95 % of its input, so
parents high in a production's quadtree carried most of their children's triangles.
Here the geometry is welded by position (UVs dropped), simplified to the budget like
any surface, and given a new texture: a top-down orthophoto of the children, rendered
from their own textures (:func:`orthophoto`). Reality meshes of a district are 2.5D
(ground and roofs seen from above), which is what a parent is looked at from; walls
get the colour of their top edge, which at a parent's distance (tens of metres of
geometric error) is below a pixel on screen.

The orthophoto is drawn by a painter's algorithm: each child triangle, lowest first, is
filled with its index into an integer image (PIL's polygon fill), so a roof covers the
ground under it; then every pixel takes barycentric weights in its triangle, interpolates
that triangle's UVs and samples its texture bilinearly. Pixels no triangle covers take
their nearest covered neighbour's colour (edge bleed, so mipmaps pull in no black).
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw

from tiles.build.chunk import NO_FEATURE, Chunk
from tiles.glb.texture import encode, mime_of

#: Vertices closer than this (m) are one vertex when the children are welded.
WELD_M = 1e-3
#: Texel density of a parent relative to its children (one level coarser).
LEVEL_SCALE = 0.5
#: Smallest orthophoto side (px), so a parent over small textures is still readable.
MIN_PX = 256
#: Pixels of bleed grown around covered pixels (the rest take the mean colour).
BLEED_PX = 8


def weld(chunks: list[Chunk]) -> tuple[np.ndarray, np.ndarray]:
    """All chunks' triangles over shared vertices (positions equal to ``WELD_M``);
    triangles that collapse to a line or point are dropped, and unused vertices."""
    positions = np.concatenate([c.positions for c in chunks])
    offsets = np.cumsum([0] + [len(c.positions) for c in chunks[:-1]])
    indices = np.concatenate([c.indices.astype(np.int64) + o for c, o in zip(chunks, offsets)])
    keys = np.round(positions / WELD_M).astype(np.int64)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    indices = inverse.reshape(-1)[indices]
    keep = (indices[:, 0] != indices[:, 1]) & (indices[:, 1] != indices[:, 2]) & \
        (indices[:, 2] != indices[:, 0])
    indices = indices[keep]
    used = np.unique(indices)
    remap = np.zeros(len(first), dtype=np.int64)
    remap[used] = np.arange(len(used))
    return positions[first[used]], remap[indices].astype(np.uint32)


def texels(chunks: list[Chunk]) -> int:
    """Pixels of the children's textures (each chunk's image counted once)."""
    total = 0
    for chunk in chunks:
        if chunk.texture is not None and chunk.uvs is not None:
            width, height = Image.open(io.BytesIO(chunk.texture)).size
            total += width * height
    return total


def ortho_size(chunks: list[Chunk], max_px: int) -> int:
    """Longer side of a parent's orthophoto: half its children's texel density."""
    side = LEVEL_SCALE * np.sqrt(texels(chunks))
    return int(min(max_px, max(MIN_PX, round(side))))


def orthophoto(chunks: list[Chunk], lo: np.ndarray, hi: np.ndarray,
               px: int) -> tuple[np.ndarray, tuple[float, float, float]]:
    """RGB image (rows north to south) of the textured ``chunks`` seen from above over
    the box ``lo``-``hi``, longer side ``px``; returns (image, (x0, y_top, px per m))."""
    span = max(float(hi[0] - lo[0]), float(hi[1] - lo[1]), 1e-6)
    scale = px / span
    width = max(1, int(np.ceil((hi[0] - lo[0]) * scale)))
    height = max(1, int(np.ceil((hi[1] - lo[1]) * scale)))
    frame = (float(lo[0]), float(hi[1]), scale)
    corners, uvs, image_of, images = [], [], [], []
    for chunk in chunks:
        if chunk.texture is None or chunk.uvs is None or not chunk.triangle_count:
            continue
        tri = chunk.positions[chunk.indices]
        corners.append(tri)
        uvs.append(chunk.uvs[chunk.indices].astype(np.float64))
        image_of.append(np.full(len(tri), len(images)))
        images.append(np.asarray(Image.open(io.BytesIO(chunk.texture)).convert("RGB")))
    out = np.full((height, width, 3), 204, dtype=np.uint8)  # the untextured grey
    if not corners:
        return out, frame
    tri, tri_uv, tri_image = np.concatenate(corners), np.concatenate(uvs), \
        np.concatenate(image_of)
    xy = np.stack([(tri[..., 0] - frame[0]) * scale, (frame[1] - tri[..., 1]) * scale],
                  axis=-1)
    ids = _draw_ids(xy, tri[..., 2].mean(axis=1), width, height)
    covered = ids >= 0
    rows, cols = np.nonzero(covered)
    t = ids[rows, cols]
    weights = _barycentric(np.stack([cols + 0.5, rows + 0.5], axis=1), xy[t])
    uv = np.einsum("ij,ijk->ik", weights, tri_uv[t]) % 1.0
    for number, pixels in enumerate(images):
        mask = tri_image[t] == number
        out[rows[mask], cols[mask]] = _sample(pixels, uv[mask])
    return _bleed(out, covered), frame


def _draw_ids(xy: np.ndarray, height_z: np.ndarray, width: int, height: int) -> np.ndarray:
    """Integer image: index of the highest triangle over each pixel, -1 where none."""
    canvas = Image.new("I", (width, height), -1)
    draw = ImageDraw.Draw(canvas)
    for i in np.argsort(height_z, kind="stable"):
        a, b, c = xy[i]
        draw.polygon([(a[0], a[1]), (b[0], b[1]), (c[0], c[1])], fill=int(i))
    return np.asarray(canvas, dtype=np.int32)


def _barycentric(points: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """(N, 3) weights of each point in its 2D triangle, clipped into it (a pixel a thin
    triangle's outline touches takes the triangle's nearest colour)."""
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    v0, v1, v2 = b - a, c - a, points - a
    den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
    safe = np.where(np.abs(den) > 1e-12, den, 1.0)
    w1 = (v2[:, 0] * v1[:, 1] - v1[:, 0] * v2[:, 1]) / safe
    w2 = (v0[:, 0] * v2[:, 1] - v2[:, 0] * v0[:, 1]) / safe
    weights = np.clip(np.stack([1.0 - w1 - w2, w1, w2], axis=1), 0.0, None)
    weights[np.abs(den) <= 1e-12] = 1.0 / 3.0
    return weights / np.maximum(weights.sum(axis=1, keepdims=True), 1e-12)


def _sample(pixels: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Bilinear samples of an RGB image at UVs (origin bottom-left, OBJ convention)."""
    height, width = pixels.shape[:2]
    x = np.clip(uv[:, 0] * width - 0.5, 0, width - 1)
    y = np.clip((1.0 - uv[:, 1]) * height - 0.5, 0, height - 1)
    x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    x1, y1 = np.minimum(x0 + 1, width - 1), np.minimum(y0 + 1, height - 1)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    top = pixels[y0, x0] * (1 - fx) + pixels[y0, x1] * fx
    bottom = pixels[y1, x0] * (1 - fx) + pixels[y1, x1] * fx
    return np.round(top * (1 - fy) + bottom * fy).astype(np.uint8)


def _bleed(image: np.ndarray, covered: np.ndarray) -> np.ndarray:
    """Uncovered pixels take a covered neighbour's colour, ``BLEED_PX`` rings deep; the
    rest take the mean colour of the covered ones."""
    if covered.all() or not covered.any():
        return image
    image, covered = image.copy(), covered.copy()
    for _ in range(BLEED_PX):
        grown = covered.copy()
        for axis, step in ((0, 1), (0, -1), (1, 1), (1, -1)):
            shifted = np.roll(covered, step, axis=axis)
            take = shifted & ~grown
            image[take] = np.roll(image, step, axis=axis)[take]
            grown |= take
        covered = grown
        if covered.all():
            return image
    image[~covered] = image[covered].mean(axis=0).astype(np.uint8)
    return image


def baked_chunk(positions: np.ndarray, indices: np.ndarray, sources: list[Chunk],
                max_px: int) -> Chunk:
    """The parent's one chunk: ``positions``/``indices`` (ENU) drawn from an orthophoto
    of ``sources`` (material 0, the photo material; 1, untextured, when no source has a
    texture)."""
    used = positions[np.unique(indices)]
    lo, hi = used.min(axis=0), used.max(axis=0)
    fids = np.full(len(positions), NO_FEATURE, dtype=np.uint32)
    textured = [c for c in sources if c.texture is not None and c.uvs is not None]
    if not textured:
        return Chunk(positions=positions, indices=indices, feature_ids=fids, material=1)
    image, (x0, y_top, scale) = orthophoto(textured, lo, hi, ortho_size(textured, max_px))
    height, width = image.shape[:2]
    uvs = np.stack([(positions[:, 0] - x0) * scale / width,
                    1.0 - (y_top - positions[:, 1]) * scale / height], axis=1)
    mimes = {mime_of(c.texture) for c in textured}
    data = encode(Image.fromarray(image, "RGB"),
                  "image/webp" if mimes == {"image/webp"} else "image/jpeg")
    return Chunk(positions=positions, indices=indices, feature_ids=fids, material=0,
                 uvs=uvs.astype(np.float32), texture=data)
