"""`cimtwin`: a thin command line over the library functions the tests call too."""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Callable, Sequence

from server.analysis_cli import add_check_commands
from server.config import CLASSIFICATIONS, ConfigError, load_config
from server.metrics_cli import add_commands as add_metrics_commands
from server.services import Services, open_services


class StepBar:
    """A tqdm bar over the demo build's steps (events with stage, done, total)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar = None

    def __call__(self, status: dict) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm
        if self.bar is None:
            self.bar = tqdm(total=status.get("total"), unit="step", file=sys.stderr,
                            dynamic_ncols=True)
        self.bar.n = status.get("done", 0)
        self.bar.set_description(status.get("stage", ""))
        self.bar.set_postfix({k: status[k] for k in ("phase", "triangles", "tiles") if k in status},
                             refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _print_summary(result: dict, as_json: bool, title: str) -> None:
    if as_json:
        print(json.dumps(result, ensure_ascii=False, default=str))
        return
    print(f"{title}: {result.get('id')}")
    for key in ("name", "kind", "classification", "triangles", "tiles", "features",
                "elements", "count", "bounds", "georef_source", "seconds"):
        if result.get(key) is not None:
            print(f"  {key:15} {result[key]}")
    for warning in result.get("warnings") or []:
        print(f"  warning: {warning}")


def _run_import(args, services: Services, fn: Callable[..., dict], title: str, **kwargs) -> int:
    """Run an import with the engine's progress bar (triangles, tiles, ETA) on a terminal."""
    from tiles.progress import tqdm_progress
    bar = tqdm_progress(file=sys.stderr, dynamic_ncols=True) \
        if not args.json and sys.stderr.isatty() else None
    result = fn(services, args.file, progress=bar, **kwargs)
    _print_summary(result, args.json, title)
    return 0


def cmd_serve(args, services: Services) -> int:
    from waitress import serve
    from server.app import create_app
    app = create_app(services.config)
    host = args.host or services.config["server"]["host"]
    port = args.port if args.port is not None else services.config["server"]["port"]
    from server.hardening import check_serve_tokens
    if (refusal := check_serve_tokens(host, os.environ)) is not None:
        print(f"cimtwin: {refusal}", file=sys.stderr)
        return 2
    if args.simulate:
        from server.demo.simulator import start_simulator_thread
        start_simulator_thread(app.extensions["cimtwin"], interval_s=args.simulate_interval)
    print(f"cimtwin serving {services.data_dir} at http://{host}:{port}/", flush=True)
    # Each Server-Sent Events client holds a thread: keep plenty.
    serve(app, host=host, port=port, threads=48, channel_timeout=120, ident="cimtwin")
    return 0


def cmd_demo(args, services: Services) -> int:
    from server.demo.build import build_demo
    bar = StepBar(enabled=sys.stderr.isatty())
    try:
        result = build_demo(services, progress=bar)
    finally:
        bar.close()
    print(json.dumps(result, ensure_ascii=False, default=str) if args.json else
          f"demo district built in {services.data_dir}")
    return 0


def cmd_tilesets_list(args, services: Services) -> int:
    entries = services.catalog.list()
    if args.json:
        print(json.dumps(entries, ensure_ascii=False, default=str))
        return 0
    if not entries:
        print("no tilesets; import one with 'cimtwin import ...' or build the demo with 'cimtwin demo'")
    for e in entries:
        print(f"{e['id']:32} {e['kind']:10} {e['classification']:10} {e['created']}  {e['name']}")
    return 0


def cmd_tilesets_check(args, services: Services) -> int:
    from tiles.check import check_tileset
    if services.catalog.get(args.id) is None and not services.store.exists(args.id, "tileset.json"):
        print(f"no tileset '{args.id}' (see 'cimtwin tilesets list')", file=sys.stderr)
        return 2
    report = check_tileset(services.store, args.id, validate_glb=not args.no_gltf)
    print(json.dumps(report.to_dict(), ensure_ascii=False) if args.json else report.to_text())
    return 0 if report.ok else 1


def cmd_tilesets_delete(args, services: Services) -> int:
    existed = services.catalog.delete(args.id)
    services.store.delete(args.id)
    print(f"deleted {args.id}" if existed else f"no tileset '{args.id}'")
    return 0 if existed else 2


def cmd_import_mesh(args, services: Services) -> int:
    from server.imports import import_mesh
    return _run_import(args, services, import_mesh, "imported mesh", crs=args.crs,
                       origin=args.origin, name=args.name, classification=args.classification,
                       vertical=args.vertical, geoid_offset_m=args.geoid_offset,
                       compression=args.compression)


def cmd_import_photo(args, services: Services) -> int:
    from server.imports import import_production
    return _run_import(args, services, import_production, "imported reality mesh",
                       name=args.name, classification=args.classification,
                       geoid_offset_m=args.geoid_offset, compression=args.compression)


def cmd_import_bim(args, services: Services) -> int:
    from server.bim_api import import_bim_file
    return _run_import(args, services, import_bim_file, "imported BIM model", name=args.name,
                       crs=args.crs, origin=args.origin, rotation=args.rotation,
                       include_spaces=args.include_spaces, classification=args.classification)


def cmd_import_layer(args, services: Services) -> int:
    from layers.importer import import_layer
    info = import_layer(services.layers, args.file, layer_id=args.id, title=args.name,
                        kind=args.kind, crs=args.crs, classification=args.classification,
                        field_map=_pairs(args.map),
                        defaults=_pairs(args.default),
                        source_layer=args.source_layer, encoding=args.encoding,
                        description=args.description or "")
    result = info.to_dict() if hasattr(info, "to_dict") else dict(vars(info))
    _print_summary(result, args.json, "imported layer")
    return 0


def _pair(text: str) -> tuple[str, str]:
    """'field=value' -> ('field', 'value') (an argparse type)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected FIELD=VALUE, got {text!r}")
    return key.strip(), value.strip()


def _pairs(items: list[tuple[str, str]] | None) -> dict[str, str] | None:
    return dict(items) if items else None


def cmd_simulate(args, services: Services) -> int:
    from server.demo.simulator import simulate_http
    return simulate_http(args.url, token=args.token, interval_s=args.interval, count=args.count)


def _add_import_common(p: argparse.ArgumentParser, crs_help: str) -> None:
    p.add_argument("file")
    p.add_argument("--name")
    p.add_argument("--crs", help=crs_help)
    p.add_argument("--classification", choices=CLASSIFICATIONS, default="internal",
                   help="who may see it (anonymous users see public only; default internal)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cimtwin", description="District digital-twin server")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="serve tiles, layers, metrics and the viewer")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--simulate", action="store_true", help="also run the demo sensor simulator")
    p.add_argument("--simulate-interval", type=float, default=2.0)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("demo", help="build the demo district (Lixia, Jinan) into the data dir")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_demo)

    ts = sub.add_parser("tilesets", help="list, check or delete tilesets").add_subparsers(
        dest="action", required=True)
    p = ts.add_parser("list")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_tilesets_list)
    p = ts.add_parser("check", help="check a tileset against the 3D Tiles rules and gltf-validator")
    p.add_argument("id")
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-gltf", action="store_true", help="skip gltf-validator")
    p.set_defaults(func=cmd_tilesets_check)
    p = ts.add_parser("delete")
    p.add_argument("id")
    p.set_defaults(func=cmd_tilesets_delete)

    imp = sub.add_parser("import", help="import data").add_subparsers(dest="what", required=True)
    p = imp.add_parser("mesh", help="a mesh file (OBJ/PLY/glb) -> 3D Tiles")
    _add_import_common(p, "source CRS: EPSG code, PROJ string or WKT (required)")
    p.add_argument("--origin", help="E,N,H the mesh coordinates are relative to (CRS units)")
    p.add_argument("--vertical", choices=("ellipsoidal", "orthometric"), default="ellipsoidal")
    p.add_argument("--geoid-offset", type=float, help="N in metres (ellipsoidal = orthometric + N)")
    p.add_argument("--compression", choices=("none", "draco", "meshopt"))
    p.set_defaults(func=cmd_import_mesh)

    p = imp.add_parser("photo", help="a ContextCapture production folder (metadata.xml + "
                       "Data/ with OBJ or OSGB) -> 3D Tiles")
    p.add_argument("file", metavar="FOLDER")
    p.add_argument("--name")
    p.add_argument("--classification", choices=CLASSIFICATIONS, default="internal",
                   help="who may see it (anonymous users see public only; default internal)")
    p.add_argument("--geoid-offset", type=float,
                   help="heights are orthometric: N in metres (ellipsoidal = orthometric + N)")
    p.add_argument("--compression", choices=("none", "draco", "meshopt"))
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_import_photo)

    p = imp.add_parser("bim", help="an IFC model -> 3D Tiles with pickable elements")
    _add_import_common(p, "override the model's CRS (EPSG code, PROJ string or WKT)")
    p.add_argument("--origin", help="E,N,H of the model's origin in --crs")
    p.add_argument("--rotation", type=float, help="degrees from grid east to the model's x axis")
    p.add_argument("--include-spaces", action="store_true", help="also import IfcSpace volumes")
    p.set_defaults(func=cmd_import_bim)

    p = imp.add_parser("layer", help="a GIS layer (GeoJSON, Shapefile, GeoPackage, CSV)")
    _add_import_common(p, "source CRS when the file has none (e.g. EPSG:4548)")
    p.add_argument("--id", help="layer id (default: from the file name)")
    p.add_argument("--kind", choices=("facilities", "projects", "buildings", "sensors", "other"))
    p.add_argument("--map", action="append", type=_pair, metavar="FIELD=COLUMN",
                   help="take FIELD (e.g. stage) from the file's COLUMN; repeatable")
    p.add_argument("--default", action="append", type=_pair, metavar="FIELD=VALUE",
                   help="value for FIELD where the file has none (e.g. stage=completed)")
    p.add_argument("--source-layer", help="layer inside a GeoPackage/zip with several")
    p.add_argument("--encoding", help="text encoding of a Shapefile/CSV (e.g. GB18030)")
    p.add_argument("--description")
    p.set_defaults(func=cmd_import_layer)

    p = sub.add_parser("simulate", help="post simulated demo sensor readings to a server")
    p.add_argument("--url", default="http://127.0.0.1:8000")
    p.add_argument("--token", help="ingest token (default: $CIMTWIN_INGEST_TOKEN)")
    p.add_argument("--interval", type=float, default=2.0)
    p.add_argument("--count", type=int, default=0, help="rounds to send (0 = until stopped)")
    p.set_defaults(func=cmd_simulate)

    add_metrics_commands(sub)  # sensors add|import|list, ingest mqtt
    add_check_commands(sub)  # cimtwin check project ... (server/analysis_cli.py)
    from server import admin_cli  # users, share, audit, backup, restore (docs/security.md)
    admin_cli.add_commands(sub)
    admin_cli.audit_writes(parser)
    return parser


def _user_errors() -> tuple[type[Exception], ...]:
    """Errors whose message tells the user what to do: no traceback for them."""
    from server.errors import domain_errors
    from server.backup import BackupError
    from server.users import AccountError
    return (*domain_errors(), FileNotFoundError, AccountError, BackupError)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        services = open_services(load_config())
    except ConfigError as exc:
        print(f"cimtwin: configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        return args.func(args, services)
    except _user_errors() as exc:
        message: Any = str(exc)
        if getattr(args, "json", False):
            print(json.dumps({"error": type(exc).__name__, "message": message}, ensure_ascii=False))
        print(f"cimtwin: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("cimtwin: interrupted; the previous version of anything being written is kept",
              file=sys.stderr)
        return 130
    finally:
        services.close()


def console_main() -> None:
    """Entry point of the `cimtwin` script.

    After an import has finished and everything is flushed and closed, leave without
    the interpreter's shutdown (unloading scipy, ifcopenshell, pyproj costs 0.2-0.5 s,
    a large share of a small model's import); other commands exit normally.
    """
    argv = sys.argv[1:]
    code = main(argv)
    if argv[:1] == ["import"]:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    console_main()
