"""Parents over a production's tile folders: a quadtree on their grid positions.

Cells split in four until one tile folder is left, so a parent has at most four
children and the tree's depth grows with log4 of the folder count. A parent's content
is its children's coarsest levels (each folder's root file, or a child parent's own
content) merged, simplified to a quarter (at most ``max_triangles_per_tile``) and
drawn from one texture atlas at half the children's texel density
(:func:`tiles.parent_texture.atlas_parent`). Its geometric error is twice its largest
child's, one step of the producer's own pyramid (whose errors halve per level).

Parents are built bottom-up, one wave per depth, on the build's executor; a parent
finished by a killed run (its marker in the work folder) is reused.
"""
from __future__ import annotations

import concurrent.futures as cf
import json
from pathlib import Path

import numpy as np

from tiles.build.chunk import chunk_file_bytes, merge_by_signature, read_chunk_file
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


def simplify_parent_chunk(chunk, target: int):
    """Quadric simplification to about ``target`` triangles, UV seams kept (the
    simplifier keeps a subset of the input vertices, so UVs stay valid). The parent's
    error is set from its children's (module doc), so no deviation is measured here."""
    from tiles.build.lod import meshopt_simplify
    if chunk.triangle_count <= target:
        return chunk
    extent = float(np.ptp(chunk.positions, axis=0).max())
    kept, _ = meshopt_simplify(chunk.positions, chunk.indices, target,
                               max_error=extent / 64.0)
    return chunk.select(np.arange(0)) if not len(kept) else \
        type(chunk)(**{**chunk.__dict__, "indices": kept.astype(np.uint32)}).select(
            np.arange(len(kept)))


def build_parent(key: str, coarse: list[str], target: tuple, work_dir: str,
                 max_triangles: int, max_texture_px: int, compression: str) -> dict:
    """Content of one parent from its children's coarse chunk files (a worker task)."""
    from tiles.build.parent_texture import atlas_parent
    from tiles.build.pyramid import PHOTO_MATERIALS, encode_chunks, put
    marker = Path(work_dir) / "parents" / f"{key}.json"
    if marker.is_file():
        return json.loads(marker.read_text())
    chunks = merge_by_signature([c for path in coarse for c in read_chunk_file(path)])
    total = sum(c.triangle_count for c in chunks)
    budget = max(1, min(max_triangles, int(total * PARENT_RATIO)))
    simple = []
    for chunk in chunks:
        share = max(1, round(budget * chunk.triangle_count / total))
        reduced = simplify_parent_chunk(chunk, share)
        if reduced.triangle_count:
            simple.append(reduced)
    simple = atlas_parent(simple, PHOTO_MATERIALS, max_texture_px)
    lo = np.min([c.positions.min(axis=0) for c in simple], axis=0)
    hi = np.max([c.positions.max(axis=0) for c in simple], axis=0)
    uri = f"tiles/_parents/{key}.glb"
    put(target, uri, encode_chunks(simple, (lo + hi) / 2.0, compression))
    own = Path(work_dir) / "coarse" / f"_{key}.chk"
    write_atomic(own, chunk_file_bytes(simple))
    result = {"content": uri, "content_lo": lo.tolist(), "content_hi": hi.tolist(),
              "coarse": str(own), "triangles": sum(c.triangle_count for c in simple)}
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
            error = ERROR_STEP * max(float(t["error"]) for t in tiles)
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
