"""Textures for levels of detail: downsample per level and pack into padded atlases.

A parent tile merges the textured meshes of its children; one atlas per parent keeps the
draw calls and requests down. Each packed image is surrounded by ``padding`` pixels copied
from its own border (edge bleed), so bilinear filtering and lower mip levels never pull in
a neighbour's colours: no seams. UVs use the OBJ convention (origin bottom-left), like
:class:`tiles.glb.encode.Primitive`.
"""
from __future__ import annotations

import io
from typing import Sequence

import numpy as np
from PIL import Image

from tiles.errors import TilesError

JPEG_QUALITY = 85


def mime_of(data: bytes) -> str:
    """``image/png``, ``image/jpeg`` or ``image/webp`` from the magic bytes; TilesError
    otherwise."""
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    raise TilesError("texture is neither PNG, JPEG nor WebP; convert it before importing")


def _open(data: bytes) -> Image.Image:
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except Exception as exc:
        raise TilesError(f"cannot decode a texture image ({exc}); the file is damaged "
                         "or not an image") from exc
    return img


def encode(img: Image.Image, mime: str) -> bytes:
    """PNG keeps alpha; JPEG (quality 85) for opaque photographs; WebP (quality 85, alpha
    kept) where the import asked for it (EXT_texture_webp)."""
    out = io.BytesIO()
    if mime == "image/webp":
        img.save(out, "WEBP", quality=JPEG_QUALITY, method=4)
    elif mime == "image/jpeg":
        img.convert("RGB").save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    else:
        img.save(out, "PNG", optimize=False)
    return out.getvalue()


def downsample(data: bytes, max_px: int) -> bytes:
    """Shrink an image so its longer side is at most ``max_px`` (same format, aspect
    kept); images already small enough come back unchanged, byte for byte."""
    if max_px < 1:
        raise TilesError(f"max_px must be positive, got {max_px}")
    mime = mime_of(data)
    img = _open(data)
    w, h = img.size
    if max(w, h) <= max_px:
        return data
    scale = max_px / max(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return encode(img.resize(size, Image.Resampling.LANCZOS), mime)


def _shelf_pack(sizes: list[tuple[int, int]], width: int) -> tuple[list[tuple[int, int]], int]:
    """Place (w, h) boxes on shelves of a strip ``width`` wide, tallest first."""
    order = sorted(range(len(sizes)), key=lambda i: -sizes[i][1])
    places: list[tuple[int, int]] = [(0, 0)] * len(sizes)
    x = y = shelf = 0
    for i in order:
        w, h = sizes[i]
        if x + w > width:
            x, y, shelf = 0, y + shelf, 0
        places[i] = (x, y)
        x, shelf = x + w, max(shelf, h)
    return places, y + shelf


def build_atlas(items: Sequence[tuple[bytes, np.ndarray]], *, padding: int = 4,
                max_px: int = 4096, scale: float = 1.0) -> tuple[bytes, list[np.ndarray]]:
    """Pack images into one atlas and remap each image's UVs into it.

    items: (encoded image, uvs (N,2) in [0,1], origin bottom-left) per source. UVs outside
    [0,1] cannot repeat inside an atlas, so they are clamped (readers wrap them first).
    Returns (atlas bytes: WebP if every input is WebP, JPEG if every input is JPEG, else
    PNG; remapped uvs per item).
    Images are scaled by ``scale`` (0.5 for a parent level: half the texel density),
    and further down together when the atlas would exceed ``max_px``.
    """
    if not items:
        raise TilesError("build_atlas needs at least one image")
    images = [_open(data).convert("RGBA") for data, _ in items]
    mimes = {mime_of(data) for data, _ in items}
    for _ in range(12):
        sizes = [(max(1, round(im.width * scale)) + 2 * padding,
                  max(1, round(im.height * scale)) + 2 * padding) for im in images]
        width = max(max(w for w, _ in sizes), int(np.ceil(np.sqrt(sum(w * h for w, h in sizes)))))
        places, height = _shelf_pack(sizes, width)
        if max(width, height) <= max_px:
            break
        scale *= 0.8 * max_px / max(width, height)
    else:
        raise TilesError(f"cannot fit {len(images)} textures into {max_px} px")
    atlas = np.zeros((height, width, 4), dtype=np.uint8)
    remapped = []
    for im, (x, y), (w, h), (_, uvs) in zip(images, places, sizes, items):
        inner = (w - 2 * padding, h - 2 * padding)
        pixels = np.asarray(im.resize(inner, Image.Resampling.LANCZOS) if inner != im.size
                            else im)
        atlas[y:y + h, x:x + w] = np.pad(pixels, ((padding, padding), (padding, padding),
                                                  (0, 0)), mode="edge")
        uv = np.clip(np.asarray(uvs, dtype=np.float64), 0.0, 1.0)
        u = (x + padding + uv[:, 0] * inner[0]) / width
        v = 1.0 - (y + padding + (1.0 - uv[:, 1]) * inner[1]) / height
        remapped.append(np.stack([u, v], axis=1).astype(np.float32))
    img = Image.fromarray(atlas, "RGBA")
    if mimes in ({"image/jpeg"}, {"image/webp"}):
        return encode(img, mimes.pop()), remapped
    return encode(img, "image/png"), remapped
