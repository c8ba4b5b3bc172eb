"""tileset.json for a built tree (3D Tiles 1.1).

All boxes are axis-aligned in the build's ENU frame; the root carries the ENU->ECEF
``transform`` (column-major), so every child box and glb node translation is in metres
around the data's centre. Each content has its own tight ``boundingVolume``, which lets
the runtime cull by content and lets ``tiles.check`` verify content lies inside its tile.
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np

from tiles.georef import column_major

#: The tileset's geometricError is the root box diagonal times this (root always drawn).
TILESET_ERROR_FACTOR = 1.0


def box_json(lo, hi) -> list[float]:
    """3D Tiles box (centre + three half-axes) for an axis-aligned box [lo, hi]."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    centre, half = (lo + hi) / 2.0, np.maximum((hi - lo) / 2.0, 1e-3)
    return [float(v) for v in centre] + [float(half[0]), 0.0, 0.0,
                                         0.0, float(half[1]), 0.0,
                                         0.0, 0.0, float(half[2])]


def tile_json(key: str, results: dict[str, dict], children: dict[str, list[str]],
              refine: str) -> dict[str, Any]:
    """The JSON of tile ``key`` and its non-empty subtree."""
    result = results[key]
    tile: dict[str, Any] = {
        "boundingVolume": {"box": box_json(result["lo"], result["hi"])},
        "geometricError": float(result["error"]),
    }
    if result.get("content"):
        tile["content"] = {"uri": result["content"], "boundingVolume": {
            "box": box_json(result["content_lo"], result["content_hi"])}}
    kids = [tile_json(k, results, children, refine) for k in children.get(key, [])
            if results.get(k, {}).get("lo") is not None]
    if kids:
        tile["children"] = kids
    else:
        tile["geometricError"] = 0.0
    return tile


def tileset_json(results: dict[str, dict], children: dict[str, list[str]], root_key: str,
                 refine: str, enu_to_ecef: np.ndarray, extras: dict | None = None) -> bytes:
    """Serialise the tree rooted at ``root_key`` into tileset.json bytes."""
    root = tile_json(root_key, results, children, refine)
    root["refine"] = refine
    root["transform"] = column_major(enu_to_ecef)
    lo, hi = np.asarray(results[root_key]["lo"]), np.asarray(results[root_key]["hi"])
    diagonal = float(np.linalg.norm(hi - lo))
    document = {
        "asset": {"version": "1.1", "generator": "cimtwin"},
        "geometricError": max(diagonal * TILESET_ERROR_FACTOR, root["geometricError"], 1.0),
        "root": root,
    }
    if extras:
        document["asset"]["extras"] = extras
    return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")
