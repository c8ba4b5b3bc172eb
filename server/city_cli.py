"""`cimtwin import buildings` and `cimtwin import citymodel`: thin wrappers over
:mod:`server.city_imports` (argument parsing and the printed report only)."""
from __future__ import annotations

import argparse
import json
import sys

from server.config import CLASSIFICATIONS


def _common(p: argparse.ArgumentParser, crs_help: str) -> None:
    p.add_argument("file")
    p.add_argument("--name")
    p.add_argument("--id", dest="tileset_id", help="tileset id (default: from the name)")
    p.add_argument("--crs", help=crs_help)
    p.add_argument("--classification", choices=CLASSIFICATIONS, default="internal",
                   help="who may see it (anonymous users see public only; default internal)")
    p.add_argument("--compression", choices=("none", "draco", "meshopt"))
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _report(result: dict, as_json: bool, title: str) -> None:
    if as_json:
        print(json.dumps(result, ensure_ascii=False, default=str))
        return
    print(f"{title}: {result.get('id')}")
    for key in ("name", "classification", "crs", "buildings", "height_sources", "objects",
                "lods", "surfaces", "layer", "triangles", "tiles", "bounds", "seconds"):
        if result.get(key) is not None:
            print(f"  {key:15} {result[key]}")
    for warning in result.get("warnings") or []:
        print(f"  warning: {warning}")


def _progress(args):
    from tiles.progress import tqdm_progress
    return tqdm_progress(file=sys.stderr, dynamic_ncols=True) \
        if not args.json and sys.stderr.isatty() else None


def cmd_import_buildings(args, services) -> int:
    from server.city_imports import import_buildings
    result = import_buildings(
        services, args.file, crs=args.crs, height_field=args.height_field,
        floors_field=args.floors_field, storey_height=args.storey_height,
        default_height=args.default_height, base_height=args.base_height, name=args.name,
        tileset_id=args.tileset_id, layer_id=args.layer_id, classification=args.classification,
        compression=args.compression, progress=_progress(args))
    _report(result, args.json, "imported white models")
    return 0


def cmd_import_citymodel(args, services) -> int:
    from server.city_imports import import_citymodel
    result = import_citymodel(services, args.file, crs=args.crs, name=args.name,
                              tileset_id=args.tileset_id, classification=args.classification,
                              compression=args.compression, progress=_progress(args))
    _report(result, args.json, "imported city model")
    return 0


def add_city_import_commands(imp) -> None:
    """Add `buildings` and `citymodel` to the `cimtwin import` subcommands."""
    p = imp.add_parser("buildings", help="building footprints -> white models (LoD1, flat "
                       "roofs) as 3D Tiles, plus the footprint layer")
    _common(p, "source CRS when the file has none (e.g. EPSG:4548)")
    p.add_argument("--layer-id", help="id of the footprint layer (default: from the file name)")
    p.add_argument("--height-field", help="column with the height in metres "
                   "(default: height_m, height, ... if present)")
    p.add_argument("--floors-field", help="column with the number of floors "
                   "(default: floors, levels, building:levels, 层数 ... if present)")
    p.add_argument("--storey-height", type=float, default=3.0,
                   help="metres per floor with --floors-field (default 3.0)")
    p.add_argument("--default-height", type=float,
                   help="height in metres for buildings with neither (a warning counts them)")
    p.add_argument("--base-height", type=float, default=0.0,
                   help="ground height in metres where a footprint has no Z (default 0)")
    p.set_defaults(func=cmd_import_buildings)

    p = imp.add_parser("citymodel", help="CityJSON 1.1/2.0 or CityGML 1.0/2.0 buildings "
                       "(LoD1/LoD2) -> 3D Tiles, one feature per Building/BuildingPart")
    _common(p, "CRS when the file declares none (e.g. EPSG:4548 or EPSG:4548+5773)")
    p.set_defaults(func=cmd_import_citymodel)
