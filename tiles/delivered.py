"""Import a delivered 3D Tiles set: check it, copy it into the store, publish atomically.

The tileset is scanned (:func:`tiles.readers.tileset.scan_tileset`, which refuses any
content URI leaving its folder), checked against the 3D Tiles rules
(:func:`tiles.check.check_directory`) and every glb goes through gltf-validator.
Anything wrong comes back as one report (:class:`DeliveredTilesetError`) and nothing
is published. Legacy b3dm/i3dm/pnts/cmpt contents are copied and served as delivered.

Delivered tilesets often give leaves a non-zero geometricError; 3D Tiles allows it, so
that rule of ``tiles.check`` (which holds for what cimtwin builds) is a warning here.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from tiles import georef
from tiles.errors import InputError
from tiles.readers.tileset import TilesetScan, scan_tileset
from tiles.model import TileStore
from tiles.store import write_tileset

_RELAXED = ("leaf tile has geometricError",)


class DeliveredTilesetError(InputError):
    """A delivered tileset that cannot be published; ``report`` lists every problem."""

    def __init__(self, message: str, report: list[str]):
        super().__init__(message + "\n" + "\n".join(f"  - {r}" for r in report[:100]))
        self.report = report


def check_delivered(scan: TilesetScan, validate: bool = True) -> tuple[list[str], list[str]]:
    """(errors, warnings) of a scanned tileset: structure, rules and every glb."""
    from tiles.check import check_directory
    from tiles.validate_early import EarlyValidator
    validator = EarlyValidator() if validate and scan.glbs else None
    try:
        errors = list(scan.problems)
        report = check_directory(scan.folder, validate_glb=False)
        warnings = [w for w in report.warnings if "is not glb; not checked" not in w]
        for error in report.errors:
            if error.endswith("is missing") and scan.problems:
                continue  # the scan already named the missing file
            (warnings if error.split(": ", 1)[-1].startswith(_RELAXED) else errors) \
                .append(error)
        if validator is not None:
            errors += [r.summary() for r in validator.run(scan.glbs) if not r.ok]
    finally:
        if validator is not None:
            validator.close()
    return errors, warnings


def _volume_bounds(document: dict) -> tuple[list[float], list[float]]:
    """lon/lat bounds and height range of the root's bounding volume."""
    root = document["root"]
    volume = root.get("boundingVolume") or {}
    if "region" in volume:
        w, s, e, n, lo, hi = volume["region"]
        return [float(np.degrees(v)) for v in (w, s, e, n)], [float(lo), float(hi)]
    matrix = np.asarray(root.get("transform", np.eye(4).reshape(-1)), float).reshape(4, 4).T
    if "box" in volume:
        c, h = np.asarray(volume["box"][:3]), np.asarray(volume["box"][3:]).reshape(3, 3)
        corners = np.array([c + a * h[0] + b * h[1] + d * h[2] for a in (-1, 1)
                            for b in (-1, 1) for d in (-1, 1)])
    elif "sphere" in volume:
        c, r = np.asarray(volume["sphere"][:3]), float(volume["sphere"][3])
        corners = np.array([c + r * np.array(s) for s in np.eye(3).tolist()
                            + (-np.eye(3)).tolist()])
    else:
        raise InputError("the root tile has no boundingVolume")
    ecef = (np.hstack([corners, np.ones((len(corners), 1))]) @ matrix.T)[:, :3]
    llh = georef.ecef_to_lonlatheight(ecef)
    return ([float(llh[:, 0].min()), float(llh[:, 1].min()), float(llh[:, 0].max()),
             float(llh[:, 1].max())], [float(llh[:, 2].min()), float(llh[:, 2].max())])


def import_delivered(path: str | Path, store: TileStore, tileset_id: str,
                     name: str = "", validate: bool = True, check_bounds=None,
                     upgrade: bool = False):
    """Check and publish the tileset at ``path``; returns a BuildSummary.

    ``check_bounds(lon/lat bounds)`` may refuse the tileset before anything is copied.
    ``upgrade``: legacy contents are converted to glb first (:mod:`tiles.upgrade`, on a
    copy in a temporary folder; the delivery is never written to), then checked.
    """
    from tiles.store import check_tileset_id
    check_tileset_id(tileset_id)
    started = time.monotonic()
    scan = scan_tileset(path)
    if not (upgrade and scan.legacy):
        return _publish(scan, scan.folder, store, tileset_id, name, validate, check_bounds,
                        started, [])
    import tempfile

    from tiles.upgrade import upgrade_folder
    with tempfile.TemporaryDirectory(prefix="cimtwin-upgrade-") as work:
        report = upgrade_folder(scan, Path(work))
        upgraded = scan_tileset(Path(work) / scan.entry.relative_to(scan.folder))
        converted = sum(len(v) for v in report.converted.values())
        notes = [f"upgraded {len(report.converted)} legacy contents to {converted} glb"]
        return _publish(upgraded, scan.folder, store, tileset_id, name, validate,
                        check_bounds, started, notes + report.warnings)


def _publish(scan: TilesetScan, source: Path, store: TileStore, tileset_id: str, name: str,
             validate: bool, check_bounds, started: float, notes: list[str]):
    import json

    from tiles.pipeline import BuildSummary
    errors, warnings = check_delivered(scan, validate)
    warnings = notes + warnings
    if errors:
        raise DeliveredTilesetError(f"the tileset at {source} is broken and was not "
                                    f"imported ({len(errors)} problems):", errors)
    document = json.loads(scan.entry.read_text(encoding="utf-8"))
    bounds, height = _volume_bounds(document)
    if check_bounds is not None:
        check_bounds(bounds)
    write_tileset(store, tileset_id, ((file.relative_to(scan.folder).as_posix(),
                                        file.read_bytes()) for file in scan.files))
    if scan.legacy and not notes:
        warnings.insert(0, f"{len(scan.legacy)} legacy contents (b3dm/i3dm/pnts/cmpt) are "
                           "served as delivered; import with --upgrade to convert them")
    return BuildSummary(
        tileset_id=tileset_id, name=name or tileset_id, kind="tileset", triangles=0,
        tiles=scan.tiles, features=0, bounds=bounds, height=height,
        root_transform=document["root"].get("transform", []),
        frame={"delivered": str(source), "glb": len(scan.glbs),
               "legacy": len(scan.legacy)},
        warnings=warnings, seconds=round(time.monotonic() - started, 3),
        refine=document["root"].get("refine", "ADD"))
