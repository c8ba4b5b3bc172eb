"""Generate large test meshes: a wavy terrain grid with feature ids (and optional UVs).

Used by bench/bench_tiles.py and by tests that need "large generated meshes". The grid
is split into batches of about ``batch_triangles`` so input streams like a real reader.
Deterministic (seeded), so the same arguments give the same bytes (resumable builds).
"""
from __future__ import annotations

import argparse
from typing import Iterator

import numpy as np

from tiles.model import GeoFrame, Material, MeshBatch

#: Lixia CBD, Jinan, in CGCS2000 / 3-degree Gauss-Kruger CM 117E (EPSG:4548).
LIXIA_ORIGIN = (510900.0, 4057100.0, 30.0)


def terrain_batches(triangles: int, batch_triangles: int = 200_000, size_m: float = 3000.0,
                    frame: GeoFrame | None = None, textured: bool = False,
                    features_per_batch: int = 4) -> Iterator[MeshBatch]:
    """~``triangles`` triangles of wavy terrain over ``size_m`` x ``size_m`` metres."""
    frame = frame or GeoFrame(crs="EPSG:4548", origin=LIXIA_ORIGIN)
    n_batches = max(1, int(round(triangles / batch_triangles)))
    cols = int(np.ceil(np.sqrt(n_batches)))
    rows = int(np.ceil(n_batches / cols))
    per = triangles / (cols * rows)
    cells = max(1, int(np.sqrt(per / 2)))
    patch = size_m / max(cols, rows)
    material = Material(name="terrain", base_color=(0.55, 0.6, 0.5, 1.0))
    if textured:
        material = _checker_material()
    fid = 0
    for r in range(rows):
        for c in range(cols):
            yield _patch(c * patch, r * patch, patch, cells, frame, material, fid,
                         features_per_batch, textured)
            fid += features_per_batch


def _checker_material() -> Material:
    import io
    from PIL import Image
    tile = np.indices((256, 256)).sum(axis=0) // 32 % 2
    rgb = np.stack([tile * 200 + 40, tile * 120 + 60, 90 + 0 * tile], axis=-1).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format="JPEG", quality=80)
    return Material(name="photo", base_color=(1, 1, 1, 1), texture=out.getvalue(),
                    texture_mime="image/jpeg")


def _patch(x0, y0, size, cells, frame, material, fid0, nfeat, textured) -> MeshBatch:
    lin = np.linspace(0.0, size, cells + 1)
    gx, gy = np.meshgrid(x0 + lin, y0 + lin)
    gz = 8.0 * np.sin(gx / 97.0) * np.cos(gy / 131.0) + 3.0 * np.sin(gx / 13.0 + gy / 17.0)
    positions = np.column_stack([gx.ravel(), gy.ravel(), gz.ravel()])
    i = np.arange(cells)
    a = (i[None, :] + (cells + 1) * i[:, None]).ravel()
    quads = np.stack([a, a + 1, a + cells + 2, a + cells + 1], axis=1)
    indices = np.concatenate([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]]).astype(np.uint32)
    band = np.minimum((np.arange(len(positions)) % (cells + 1)) * nfeat // (cells + 1),
                      nfeat - 1)
    feature_ids = (fid0 + band).astype(np.uint32)
    features = {int(f): {"name": f"patch {f}", "kind": "terrain", "index": int(f),
                         "area_m2": float(size * size / nfeat), "checked": bool(f % 2)}
                for f in range(fid0, fid0 + nfeat)}
    uvs = None
    if textured:
        uvs = np.column_stack([(gx.ravel() - x0) / size, (gy.ravel() - y0) / size])
        uvs = uvs.astype(np.float32)
    return MeshBatch(positions=positions, indices=indices, frame=frame, material=material,
                     feature_ids=feature_ids, features=features, uvs=uvs)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("triangles", type=int)
    args = parser.parse_args()
    total = sum(b.triangle_count for b in terrain_batches(args.triangles))
    print(f"{total} triangles generated")
