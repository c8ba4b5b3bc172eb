"""A textured terrain patch standing in for the oblique-photography reality mesh.

Written like a ContextCapture OBJ production: ``metadata.xml`` (SRS EPSG:4548 and the
SRSOrigin) next to ``Data/Tile_+00X_+00Y/`` folders, each holding an OBJ + MTL + PNG whose
vertices are metres relative to the origin (x east, y north, z up). The texture is
painted from the district plan (roads with markings, paved blocks, parks, sports fields,
building footprints, construction sites) so the extruded buildings and layers line up
with what the "photo" shows.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from . import layout

#: Colours (RGB) of the painted ground.
PAVED = (196, 193, 184)
GREEN = (104, 146, 78)
ASPHALT = (66, 68, 72)
MARKING = (236, 236, 230)
YELLOW = (222, 184, 60)
ROOF_SHADOW = (128, 126, 122)
SITE_SOIL = (168, 136, 98)
TRACK = (178, 86, 66)


def _to_px(x, y, size: int) -> tuple[float, float]:
    """Local metres -> pixel coordinates of the whole-district image (row 0 = north)."""
    scale = size / (2 * layout.HALF)
    return (x + layout.HALF) * scale, (layout.HALF - y) * scale


def _poly(draw: ImageDraw.ImageDraw, coords, size: int, fill) -> None:
    draw.polygon([_to_px(x, y, size) for x, y in coords], fill=fill)


def _rect(draw, x0, y0, x1, y1, size, fill) -> None:
    _poly(draw, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)], size, fill)


def _paint_blocks(draw, size: int) -> None:
    for b in layout.blocks():
        if b.use == "park":
            _rect(draw, b.x0, b.y0, b.x1, b.y1, size, GREEN)
        elif b.use == "school":  # running track and pitch in the south half
            cx, cy = b.centre[0], (b.y0 + b.centre[1]) / 2
            _rect(draw, cx - 90, cy - 45, cx + 90, cy + 45, size, TRACK)
            _rect(draw, cx - 75, cy - 32, cx + 75, cy + 32, size, GREEN)
        elif b.use == "residential":  # lawns between the slabs
            _rect(draw, b.x0 + 6, b.y0 + 6, b.x1 - 6, b.y1 - 6, size, (150, 170, 120))


def _paint_roads(draw, size: int) -> None:
    """Asphalt, a yellow centre line and white edge lines on every road."""
    for centre, width, _name in layout.NS_ROADS:
        _rect(draw, centre - width / 2, -layout.HALF, centre + width / 2, layout.HALF, size,
              ASPHALT)
    for centre, width, _name in layout.EW_ROADS:
        _rect(draw, -layout.HALF, centre - width / 2, layout.HALF, centre + width / 2, size,
              ASPHALT)
    for centre, width, _name in layout.NS_ROADS:
        _rect(draw, centre - 0.4, -layout.HALF, centre + 0.4, layout.HALF, size, YELLOW)
        for edge in (centre - width / 2 + 1.5, centre + width / 2 - 1.5):
            _rect(draw, edge - 0.2, -layout.HALF, edge + 0.2, layout.HALF, size, MARKING)
    for centre, width, _name in layout.EW_ROADS:
        _rect(draw, -layout.HALF, centre - 0.4, layout.HALF, centre + 0.4, size, YELLOW)
        for edge in (centre - width / 2 + 1.5, centre + width / 2 - 1.5):
            _rect(draw, -layout.HALF, edge - 0.2, layout.HALF, edge + 0.2, size, MARKING)


def paint_texture(size: int, buildings: list[dict], projects: list[dict],
                  rng: np.random.Generator) -> Image.Image:
    """The whole district's ground image, ``size`` x ``size`` pixels, north up."""
    image = Image.new("RGB", (size, size), PAVED)
    draw = ImageDraw.Draw(image)
    _paint_blocks(draw, size)
    for p in projects:
        stage = p["properties"]["stage"]
        if stage in ("under_construction", "approved", "planned"):
            fill = SITE_SOIL if stage == "under_construction" else (170, 176, 140)
            _poly(draw, p["geometry"].exterior.coords, size, fill)
    for b in buildings:
        _poly(draw, b["geometry"].buffer(1.5).exterior.coords, size, ROOF_SHADOW)
    _paint_roads(draw, size)
    pixels = np.asarray(image, dtype=np.int16)
    grain = rng.integers(-7, 8, size=(size, size, 1), dtype=np.int16)
    return Image.fromarray(np.clip(pixels + grain, 0, 255).astype(np.uint8), "RGB")


def _grid(x0: float, y0: float, span: float, step: float):
    """Vertices, uvs, normals and triangles of one tile's height grid."""
    n = int(round(span / step)) + 1
    xs = x0 + np.arange(n) * step
    ys = y0 + np.arange(n) * step
    gx, gy = np.meshgrid(xs, ys)  # row j = y, column i = x
    gz = layout.ground_height(gx, gy)
    e = 0.5
    dzdx = (layout.ground_height(gx + e, gy) - layout.ground_height(gx - e, gy)) / (2 * e)
    dzdy = (layout.ground_height(gx, gy + e) - layout.ground_height(gx, gy - e)) / (2 * e)
    normals = np.stack([-dzdx, -dzdy, np.ones_like(gz)], axis=-1)
    normals /= np.linalg.norm(normals, axis=-1, keepdims=True)
    uv = np.stack([(gx - x0) / span, (gy - y0) / span], axis=-1)
    idx = np.arange(n * n).reshape(n, n)
    a, b, c, d = idx[:-1, :-1], idx[:-1, 1:], idx[1:, 1:], idx[1:, :-1]
    tris = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3),
                           np.stack([a, c, d], -1).reshape(-1, 3)])
    pos = np.stack([gx, gy, gz], axis=-1).reshape(-1, 3)
    return pos, uv.reshape(-1, 2), normals.reshape(-1, 3), tris


def _obj_text(name: str, pos, uv, normals, tris) -> str:
    """OBJ with one vertex/uv/normal per grid point (1-based indices, v/vt/vn)."""
    lines = [f"# cimtwin demo terrain tile {name}", f"mtllib {name}.mtl", f"o {name}"]
    lines += [f"v {x:.3f} {y:.3f} {z:.3f}" for x, y, z in pos]
    lines += [f"vt {u:.6f} {v:.6f}" for u, v in uv]
    lines += [f"vn {x:.5f} {y:.5f} {z:.5f}" for x, y, z in normals]
    lines.append(f"usemtl {name}")
    lines += [f"f {a}/{a}/{a} {b}/{b}/{b} {c}/{c}/{c}" for a, b, c in tris + 1]
    return "\n".join(lines) + "\n"


def _metadata_xml() -> str:
    ox, oy, oz = layout.ORIGIN
    return ('<?xml version="1.0" encoding="utf-8"?>\n<ModelMetadata version="1">\n'
            f"\t<SRS>{layout.CRS}</SRS>\n\t<SRSOrigin>{ox:.3f},{oy:.3f},{oz:.3f}</SRSOrigin>\n"
            "\t<Texture>\n\t\t<ColorSource>Visible</ColorSource>\n\t</Texture>\n"
            "</ModelMetadata>\n")


def write_terrain(out_dir: Path, image: Image.Image, tiles_per_side: int = 2,
                  step_m: float = 10.0) -> list[Path]:
    """Write the ContextCapture-style production; returns the OBJ paths (sorted)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metadata.xml").write_text(_metadata_xml(), encoding="utf-8")
    span = 2 * layout.HALF / tiles_per_side
    px = image.width // tiles_per_side
    objs = []
    for i in range(tiles_per_side):
        for j in range(tiles_per_side):
            name = f"Tile_+{i:03d}_+{j:03d}"
            tile_dir = out_dir / "Data" / name
            tile_dir.mkdir(parents=True, exist_ok=True)
            x0, y0 = -layout.HALF + i * span, -layout.HALF + j * span
            pos, uv, normals, tris = _grid(x0, y0, span, step_m)
            (tile_dir / f"{name}.obj").write_text(_obj_text(name, pos, uv, normals, tris),
                                                  encoding="utf-8")
            (tile_dir / f"{name}.mtl").write_text(
                f"newmtl {name}\nKa 1 1 1\nKd 1 1 1\nd 1\nillum 1\nmap_Kd {name}.png\n",
                encoding="utf-8")
            top = (tiles_per_side - 1 - j) * px  # image row 0 is north
            image.crop((i * px, top, (i + 1) * px, top + px)).save(
                tile_dir / f"{name}.png", optimize=False)
            objs.append(tile_dir / f"{name}.obj")
    return objs
