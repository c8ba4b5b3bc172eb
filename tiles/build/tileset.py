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
from tiles.model import TileNode

#: The tileset's geometricError is the root box diagonal times this (root always drawn).
TILESET_ERROR_FACTOR = 1.0


def tile_json(tile: TileNode, parent_refine: str | None = None) -> dict[str, Any]:
    """The JSON of ``tile`` and its non-empty subtree; ``refine`` where it changes."""
    out: dict[str, Any] = {"boundingVolume": {"box": tile.bounds.to_json()},
                           "geometricError": float(tile.geometric_error)}
    if tile.refine != parent_refine:
        out["refine"] = tile.refine
    if tile.content:
        out["content"] = {"uri": tile.content,
                          "boundingVolume": {"box": tile.content_bounds.to_json()}}
    kids = [tile_json(child, tile.refine) for child in tile.children
            if child.bounds is not None]
    if kids:
        out["children"] = kids
    else:
        out["geometricError"] = 0.0
    return out


def tileset_json(root: TileNode, enu_to_ecef: np.ndarray, extras: dict | None = None
                 ) -> bytes:
    """Serialise the tree under ``root`` into tileset.json bytes."""
    tile = tile_json(root)
    tile["transform"] = column_major(enu_to_ecef)
    document = {
        "asset": {"version": "1.1", "generator": "cimtwin"},
        "geometricError": max(root.bounds.diagonal * TILESET_ERROR_FACTOR,
                              tile["geometricError"], 1.0),
        "root": tile,
    }
    if extras:
        document["asset"]["extras"] = extras
    return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")
