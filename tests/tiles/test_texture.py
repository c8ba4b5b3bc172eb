"""Textures per level: smaller images, and atlases without seams."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tiles.errors import TilesError
from tiles.glb.texture import build_atlas, downsample, mime_of


def image(color, size, fmt="PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, fmt)
    return out.getvalue()


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)


def test_downsample_keeps_format_and_aspect():
    big = image((10, 120, 200), (1000, 500), "JPEG")
    small = downsample(big, 256)
    assert mime_of(small) == "image/jpeg"
    assert Image.open(io.BytesIO(small)).size == (256, 128)
    assert downsample(small, 512) == small  # already small: untouched


def test_atlas_uvs_hit_their_own_image():
    red, blue = image((255, 0, 0), (64, 32)), image((0, 0, 255), (32, 64))
    uv = np.array([[0.0, 0.0], [1.0, 1.0], [0.5, 0.5], [0.0, 1.0], [1.0, 0.0]], np.float32)
    atlas, (uv_red, uv_blue) = build_atlas([(red, uv), (blue, uv)])
    px = pixels(atlas)
    h, w = px.shape[:2]
    for uvs, colour in ((uv_red, (255, 0, 0)), (uv_blue, (0, 0, 255))):
        for u, v in uvs:  # OBJ convention: v=0 is the bottom row
            x = min(int(u * w), w - 1)
            y = min(int((1 - v) * h), h - 1)
            assert np.abs(px[y, x] - colour).max() <= 2


def test_atlas_borders_bleed_so_filtering_finds_no_neighbour():
    red, green = image((255, 0, 0), (16, 16)), image((0, 255, 0), (16, 16))
    uv = np.array([[0.0, 0.0], [1.0, 1.0]], np.float32)
    atlas, remapped = build_atlas([(red, uv), (green, uv)], padding=4)
    px = pixels(atlas)
    h, w = px.shape[:2]
    for uvs, colour in zip(remapped, ((255, 0, 0), (0, 255, 0))):
        (u0, v0), (u1, v1) = uvs
        x0, x1 = int(round(u0 * w)), int(round(u1 * w))
        y0, y1 = int(round((1 - v1) * h)), int(round((1 - v0) * h))
        # up to 3 pixels outside the image's own rectangle still show its colour
        ring = px[max(y0 - 3, 0):y1 + 3, max(x0 - 3, 0):x1 + 3]
        assert (np.abs(ring - colour).max(axis=2) <= 2).all()


def test_atlas_respects_max_size():
    imgs = [(image((i * 20, 0, 0), (512, 512)), np.zeros((1, 2), np.float32)) for i in range(8)]
    atlas, _ = build_atlas(imgs, max_px=1024)
    assert max(Image.open(io.BytesIO(atlas)).size) <= 1024


def test_not_an_image_is_a_clear_error():
    with pytest.raises(TilesError, match="PNG, JPEG nor WebP"):
        downsample(b"GIF89a....", 64)


def test_a_parent_draws_its_children_from_one_atlas_at_half_density():
    from tiles.build.chunk import Chunk
    from tiles.model import Material
    from tiles.build.parent_texture import atlas_parent
    red, blue = image((220, 20, 20), (128, 128)), image((20, 20, 220), (128, 64))
    materials = [Material(name="a", texture=red), Material(name="b", texture=blue),
                 Material(name="plain")]
    quad = np.array([[0, 1, 2], [0, 2, 3]], np.uint32)
    uv = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float32)

    def chunk(material, dx, uvs=uv):
        pos = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], float) + [dx, 0, 0]
        return Chunk(positions=pos, indices=quad, feature_ids=np.zeros(4, np.uint32),
                     material=material, uvs=uvs)
    # two children cut from the red image, one from the blue, one without texture
    parts = [chunk(0, 0), chunk(0, 2, uv * 0.5), chunk(1, 4), chunk(2, 6, None)]
    out = atlas_parent(parts, materials, max_px=1024)
    textured = [c for c in out if c.uvs is not None]
    assert len({c.texture for c in textured}) == 1, "one image for the whole parent"
    atlas = textured[0].texture
    w, h = Image.open(io.BytesIO(atlas)).size
    # each image once, at half its texel density, plus padding: far below 2x128 + 64
    assert w * h <= (64 + 8) * (64 + 8) + (64 + 8) * (32 + 8) + 64 * 64
    assert [c.uvs is None for c in out].count(True) == 1  # the plain part is untouched
    # every textured corner samples its own image's colour in the atlas
    px = pixels(atlas)
    for c in textured:
        for (x, _, _), (u, v) in zip(c.positions, c.uvs):
            want = (220, 20, 20) if x < 4 else (20, 20, 220)  # red parts at x 0..3
            col = min(int(u * w), w - 1)
            row = min(int((1 - v) * h), h - 1)
            assert np.abs(px[row, col] - want).max() < 40


def test_raw_osgb_pixels_encode_as_webp_and_the_glb_declares_it_for_the_validator():
    """`import photo --texture-format webp`: raw OSG pixel arrays become WebP, the glb
    uses EXT_texture_webp (required: no fallback is stored) and passes gltf-validator."""
    from tiles.glb.builder import read_glb
    from tiles.glb.encode import Primitive, to_glb
    from tiles.model import Material
    from tiles.readers.osgb import encode_pixels
    from tiles.validate import validate_glb
    rgb = np.zeros((16, 32, 3), np.uint8)
    rgb[:, 16:] = (200, 40, 10)
    info = {"name": "t.png", "format": 6407, "type": 5121, "w": 32, "h": 16,
            "origin": 1, "data": [0, rgb.size]}
    texture = encode_pixels(info, memoryview(rgb.tobytes()), "webp")
    assert texture.mime == "image/webp" and mime_of(texture.data) == "image/webp"
    decoded = pixels(texture.data)
    assert np.abs(decoded[:, 20:] - (200, 40, 10)).max() < 12 and decoded[:, :12].max() < 12
    square = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], np.float32)
    glb = to_glb([Primitive(square, np.array([[0, 1, 2], [0, 2, 3]], np.uint32),
                            Material(texture=texture.data, texture_mime=texture.mime),
                            uvs=square[:, :2].copy())])
    gltf, _ = read_glb(glb)
    assert gltf["extensionsRequired"] == ["EXT_texture_webp"]
    assert gltf["textures"][0]["extensions"]["EXT_texture_webp"]["source"] == 0
    [report] = validate_glb(glb)
    assert report.ok, report.summary()


def test_an_atlas_of_webp_images_stays_webp():
    atlas, _ = build_atlas([(image((255, 0, 0), (8, 8), "WEBP"), np.zeros((1, 2))),
                            (image((0, 0, 255), (8, 8), "WEBP"), np.zeros((1, 2)))])
    assert mime_of(atlas) == "image/webp"
