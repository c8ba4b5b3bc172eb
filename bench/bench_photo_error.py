"""How far is each PagedLOD level of the shared production from its finest level?

    python bench/bench_photo_error.py

For each tile folder and level (0 = the root file ... 4 = L18), the distance from the
finest level's vertices (L19, every 4th vertex) to that level's surface, in metres:
median, 95th percentile and maximum. Printed beside the geometric error the tileset
gives the level (tiles.build.pyramid.geometric_error, from the PagedLOD range), so the
formula can be checked against the real error (docs/tiling.md).
"""
from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PRODUCTION = ROOT.parent / "shared" / "data" / "photogrammetry" / "cc_osgb_production5"


def levels(folder: Path) -> dict[int, list]:
    """level -> [(positions, indices, error)] for every node of that level's files."""
    from tiles.build.pyramid import geometric_error
    from tiles.readers.osgb import lod_suffix, read_osgb
    out = defaultdict(list)
    files = sorted(folder.glob("*.osgb"))
    depth = {level: i for i, level in enumerate(sorted({lod_suffix(f)[0] for f in files}))}
    for path in files:
        for node in read_osgb(path).nodes:
            for g in node.geometries:
                out[depth[lod_suffix(path)[0]]].append((g.positions, g.indices,
                                                        geometric_error(node)))
    return out


def main() -> None:
    from tiles.build.nearest import point_mesh_distance
    print("folder level triangles formula_m median_m p95_m max_m")
    for folder in sorted((PRODUCTION / "Data").iterdir()):
        by_level = levels(folder)
        finest = max(by_level)
        points = np.concatenate([p for p, _, _ in by_level[finest]])[::4]
        for level in sorted(by_level):
            if level == finest:
                continue
            parts = by_level[level]
            offsets = np.cumsum([0] + [len(p) for p, _, _ in parts[:-1]])
            positions = np.concatenate([p for p, _, _ in parts])
            indices = np.concatenate([i.astype(np.int64) + o for (_, i, _), o in
                                      zip(parts, offsets)])
            d = point_mesh_distance(points, positions, indices)
            error = max(e for _, _, e in parts)
            print(f"{folder.name} {level} {len(indices)} {error:.2f} {np.median(d):.3f} "
                  f"{np.percentile(d, 95):.3f} {d.max():.3f}", flush=True)


if __name__ == "__main__":
    main()
