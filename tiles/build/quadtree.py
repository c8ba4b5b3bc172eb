"""Parents over a production's tile folders: a quadtree on their grid positions.

Cells split in four until one tile folder is left, so a parent has at most four
children and the tree's depth grows with log4 of the folder count. A parent's content
is made from its children's coarsest levels (each folder's root file, or a child
parent's own content): welded by position and simplified to a quarter (at most
``max_triangles_per_tile``) without UV seams, then re-textured by a top-down orthophoto
of the children at half their texel density (:mod:`tiles.build.parent_bake`). Keeping
the seams instead (the first version) stopped the simplifier at ~95 % of its input on
photogrammetry, and parents high in the tree carried most of their children's
triangles. Its geometric error is the larger of twice its largest child's (one step of
the producer's own pyramid, whose errors halve per level) and that child error plus the
parent's measured deviation from its children's surface.

Parents are built bottom-up, one wave per depth, on the build's executor; a parent
finished by a killed run (its marker in the work folder) is reused.
"""
from __future__ import annotations

import concurrent.futures as cf
import json
from pathlib import Path

import numpy as np

from tiles.build.chunk import chunk_file_bytes, read_chunk_file
from tiles.store import write_atomic

#: A parent keeps this share of its children's coarsest triangles.
PARENT_RATIO = 0.25
#: Error growth per quadtree level above the folders.
ERROR_STEP = 2.0


def quadtree(cells: list[tuple[int, int]]) -> dict:
    """Nested {"key", "items" | "children"} over item indices, split on the grid."""
    def split(indices: list[int], key: str) -> dict:
        if len(indices) == 1:
            return {"key": key, "items": indices}
        xs = np.array([cells[i][0] for i in indices])
        ys = np.array([cells[i][1] for i in indices])
        if xs.min() == xs.max() and ys.min() == ys.max():  # several folders, one cell
            return {"key": key, "items": indices}
        size = 1
        while size < max(xs.max() - xs.min(), ys.max() - ys.min()) + 1:
            size *= 2
        half = size // 2
        quads: dict[int, list[int]] = {}
        for i, x, y in zip(indices, xs, ys):
            quads.setdefault(int(x - xs.min() >= half) + 2 * int(y - ys.min() >= half),
                             []).append(i)
        return {"key": key, "children": [split(q, f"{key}{n}")
                                         for n, q in sorted(quads.items())]}
    return split(list(range(len(cells))), "p")


def simplified_surface(chunks, target: int) -> tuple[np.ndarray, np.ndarray, float]:
    """The children welded by position (no UV seams, :func:`tiles.build.parent_bake.weld`)
    and simplified to about ``target`` triangles; returns (positions, indices, measured
    deviation in metres, :func:`surface_deviation`). Collapses stop before one would move
    the surface by more than 1/64 of the extent; if that leaves more than
    ``OVER_TARGET`` x the target, vertex clustering finishes."""
    from tiles.build.lod import OVER_TARGET, _sloppy, meshopt_simplify
    from tiles.build.parent_bake import weld
    positions, indices = weld(chunks)
    if len(indices) <= target:
        return positions, indices, 0.0
    extent = float(np.ptp(positions, axis=0).max())
    kept, estimate = meshopt_simplify(positions, indices, target, max_error=extent / 64.0)
    if len(kept) > OVER_TARGET * target:
        kept, estimate = _sloppy(positions, kept, target), 0.0
    used = np.unique(kept)
    remap = np.zeros(len(positions), dtype=np.int64)
    remap[used] = np.arange(len(used))
    out_pos, out_idx = positions[used], remap[kept].astype(np.uint32)
    deviation = surface_deviation(positions, indices, out_pos, out_idx)
    return out_pos, out_idx, max(deviation, estimate)


#: Output triangles whose centroid and edge midpoints are measured against the input.
BACK_TRIANGLES = 1024


def surface_deviation(positions: np.ndarray, indices: np.ndarray, out_pos: np.ndarray,
                      out_idx: np.ndarray) -> float:
    """Largest distance (m) of **every** input vertex from the simplified surface, and of
    the centroids and edge midpoints of up to ``BACK_TRIANGLES`` output triangles from
    the input surface (the way back catches a triangle bridging a gap, which no input
    vertex sees). Exact nearest triangles in numpy (:mod:`tiles.build.nearest_grid`), so
    a parent task never loads numba."""
    from tiles.build.nearest_grid import point_mesh_distance
    if not len(out_idx):
        return float(np.ptp(positions, axis=0).max())
    forward = point_mesh_distance(positions, out_pos, out_idx).max()
    rng = np.random.default_rng(0)
    tris = out_idx[rng.choice(len(out_idx), min(len(out_idx), BACK_TRIANGLES),
                              replace=False)]
    corner = out_pos[tris]
    back = np.concatenate([corner.mean(axis=1), (corner[:, 0] + corner[:, 1]) / 2,
                           (corner[:, 1] + corner[:, 2]) / 2,
                           (corner[:, 2] + corner[:, 0]) / 2])
    return float(max(forward, point_mesh_distance(back, positions, indices).max()))


def build_parent(key: str, coarse: list[str], target: tuple, work_dir: str,
                 max_triangles: int, max_texture_px: int, compression: str) -> dict:
    """Content of one parent from its children's coarse chunk files (a worker task):
    the seam-free simplified surface, re-textured by an orthophoto of the children
    (:mod:`tiles.build.parent_bake`); ``deviation`` is its measured distance from them."""
    from tiles.build.parent_bake import baked_chunk
    from tiles.build.pyramid import encode_chunks, put
    marker = Path(work_dir) / "parents" / f"{key}.json"
    if marker.is_file():
        return json.loads(marker.read_text())
    chunks = [c for path in coarse for c in read_chunk_file(path) if c.triangle_count]
    total = sum(c.triangle_count for c in chunks)
    budget = max(1, min(max_triangles, int(total * PARENT_RATIO)))
    positions, indices, deviation = simplified_surface(chunks, budget)
    chunk = baked_chunk(positions, indices, chunks, max_texture_px)
    del chunks
    lo, hi = positions.min(axis=0), positions.max(axis=0)
    uri = f"tiles/_parents/{key}.glb"
    put(target, uri, encode_chunks([chunk], (lo + hi) / 2.0, compression))
    own = Path(work_dir) / "coarse" / f"_{key}.chk"
    write_atomic(own, chunk_file_bytes([chunk]))
    result = {"content": uri, "content_lo": lo.tolist(), "content_hi": hi.tolist(),
              "coarse": str(own), "triangles": chunk.triangle_count,
              "deviation": deviation}
    write_atomic(marker, json.dumps(result).encode())
    return result


def _union(tiles: list[dict], extra: list[dict] = ()) -> tuple[list, list]:
    boxes = [(t["lo"], t["hi"]) for t in tiles] + [(e["content_lo"], e["content_hi"])
                                                  for e in extra]
    return (np.min([b[0] for b in boxes], axis=0).tolist(),
            np.max([b[1] for b in boxes], axis=0).tolist())


def build_parents(folders: list[dict], cells: list[tuple[int, int]], target: tuple,
                  work: Path, options, executor) -> dict:
    """The production's root tile: parents over ``folders`` (see module doc)."""
    tree = quadtree(cells)
    waves: list[list[dict]] = []

    def collect(node: dict, depth: int) -> None:
        if "children" in node:
            while len(waves) <= depth:
                waves.append([])
            waves[depth].append(node)
            for child in node["children"]:
                collect(child, depth + 1)
    collect(tree, 0)
    built: dict[str, dict] = {}

    def children_of(node: dict) -> tuple[list[dict], list[str]]:
        """Tiles under a quadtree node and the coarse files its parent is made from."""
        if "items" in node:
            tiles = [t for i in node["items"] for t in folders[i]["tiles"]]
            return tiles, [folders[i]["coarse"] for i in node["items"] if folders[i]["coarse"]]
        tile = built[node["key"]]  # a parent of the wave below: its own content
        return [tile], [tile["coarse"]] if tile.get("coarse") else []

    for wave in reversed(waves):
        futures = {}
        for node in wave:
            kids = [children_of(c) for c in node["children"]]
            coarse = [path for _, paths in kids for path in paths]
            futures[executor.submit(build_parent, node["key"], coarse, target,
                                    str(work), options.max_triangles_per_tile,
                                    options.max_texture_px, options.compression)] = \
                (node, [t for tiles, _ in kids for t in tiles])
        for future in cf.as_completed(futures):
            node, tiles = futures[future]
            content = future.result()
            lo, hi = _union(tiles, [content])
            below = max(float(t["error"]) for t in tiles)
            error = max(ERROR_STEP * below, below + float(content["deviation"]))
            built[node["key"]] = dict(content, key=node["key"], children=tiles, lo=lo,
                                      hi=hi, error=max(error, 1.0))
    if "children" in tree:
        return built[tree["key"]]
    tiles = folders[tree["items"][0]]["tiles"] if len(tree["items"]) == 1 else \
        [t for i in tree["items"] for t in folders[i]["tiles"]]
    if len(tiles) == 1:
        return tiles[0]
    lo, hi = _union(tiles)  # one folder with several root nodes: an empty root over them
    return {"key": "p", "children": tiles, "lo": lo, "hi": hi,
            "error": ERROR_STEP * max(float(t["error"]) for t in tiles)}
