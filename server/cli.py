"""`cimtwin`: a thin command line over the library functions the tests call too."""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Callable, Sequence

from tqdm import tqdm

from server.analysis_cli import add_check_commands
from server.config import ConfigError, load_config
from server.demo.simulator import simulate_http, start_simulator_thread
from server.imports import ImportOptionError, Option, get_kind, kinds, pairs, run_import
from server.metrics_cli import add_commands as add_metrics_commands
from server.services import Services, open_services
from tiles.check import check_tileset
from tiles.progress import tqdm_progress


class StepBar:
    """A tqdm bar over the demo build's steps (events with stage, done, total)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar = None

    def __call__(self, status: dict) -> None:
        if not self.enabled:
            return
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
    for key in ("name", "kind", "classification", "crs", "buildings", "height_sources",
                "objects", "lods", "surfaces", "layer", "triangles", "tiles", "features",
                "elements", "count", "bounds", "georef_source", "seconds"):
        if result.get(key) is not None:
            print(f"  {key:15} {result[key]}")
    for warning in result.get("warnings") or []:
        print(f"  warning: {warning}")


def cmd_import(args, services: Services) -> int:
    """Any registered import kind: its options from the registry, a progress bar on a tty."""
    kind = get_kind(args.import_kind)
    bar = tqdm_progress(file=sys.stderr, dynamic_ncols=True) \
        if not args.json and sys.stderr.isatty() else None
    values = {option.name: getattr(args, option.name) for option in kind.options}
    result = run_import(services, kind.name, args.file, progress=bar, **values)
    _print_summary(result, args.json, kind.title or f"imported {kind.name}")
    return 0


def cmd_serve(args, services: Services) -> int:
    # Flask and waitress load only for `serve` (Flask alone is ~0.3 s of every CLI start).
    from waitress import serve
    from server.app import create_app
    workers = args.workers if args.workers is not None else services.config["server"]["workers"]
    if workers:  # before any app is made: the workers share their Prometheus values
        from server.production import metrics_dir
        metrics_dir(services.config)
    app = create_app(services.config)
    host = args.host or services.config["server"]["host"]
    port = args.port if args.port is not None else services.config["server"]["port"]
    from server.hardening import check_serve_tokens
    if (refusal := check_serve_tokens(host, os.environ)) is not None:
        print(f"cimtwin: {refusal}", file=sys.stderr)
        return 2
    if args.simulate:
        start_simulator_thread(app.extensions["cimtwin"], interval_s=args.simulate_interval)
    if workers:  # production: gunicorn + gevent workers (docs/deploy.md)
        return _serve_gunicorn(args, services, host, port, workers)
    print(f"cimtwin serving {services.data_dir} at http://{host}:{port}/", flush=True)
    from server.jobs_api import resume_jobs
    from server.observability import configure_logging
    configure_logging(services.config)
    resume_jobs(app)
    # Each Server-Sent Events client holds a thread: keep plenty.
    serve(app, host=host, port=port, threads=48, channel_timeout=120, ident="cimtwin")
    return 0


def _serve_gunicorn(args, services: Services, host: str, port: int, workers: int) -> int:
    if args.simulate:
        print("cimtwin: --simulate runs with the embedded server only; run "
              "'cimtwin simulate' beside the workers instead", file=sys.stderr)
        return 2
    from server import production  # gunicorn and gevent: only for --workers
    print(f"cimtwin serving {services.data_dir} at http://{host}:{port}/ "
          f"with {workers} gunicorn workers", flush=True)
    production.run(services.config, host, port, workers)
    return 0


def cmd_demo(args, services: Services) -> int:
    # The demo build loads the engine, shapely and ifcopenshell: only for `cimtwin demo`.
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
        print("no tilesets; import one with 'cimtwin import ...' or build the demo with "
              "'cimtwin demo'")
    for e in entries:
        print(f"{e['id']:32} {e['kind']:10} {e['classification']:10} {e['created']}  {e['name']}")
    return 0


def cmd_tilesets_check(args, services: Services) -> int:
    if services.catalog.get(args.id) is None and not services.store.exists(args.id, "tileset.json"):
        print(f"no tileset '{args.id}' (see 'cimtwin tilesets list')", file=sys.stderr)
        return 2
    report = check_tileset(services.store, args.id, validate_glb=not args.no_gltf)
    print(json.dumps(report.to_dict(), ensure_ascii=False) if args.json else report.to_text())
    return 0 if report.ok else 1


def cmd_tilesets_delete(args, services: Services) -> int:
    entry = services.catalog.get(args.id)
    existed = services.catalog.delete(args.id)
    services.store.delete(args.id)
    if existed:
        services.events.emit("tileset.deleted", {"id": args.id, "kind": entry["kind"]},
                             entry["classification"])
    print(f"deleted {args.id}" if existed else f"no tileset '{args.id}'")
    return 0 if existed else 2


def cmd_simulate(args, services: Services) -> int:
    return simulate_http(args.url, token=args.token, interval_s=args.interval, count=args.count)


def _cli_type(option: Option) -> Callable[[str], Any]:
    """The option's type as an argparse type (a bad value is a usage error)."""
    def parse(text: str) -> Any:
        try:
            return option.type(text)
        except (ValueError, ImportOptionError) as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    parse.__name__ = getattr(option.type, "__name__", "value")
    return parse


def add_option(parser: argparse.ArgumentParser, option: Option) -> None:
    """One registry option as a command-line flag."""
    if option.type is bool:
        parser.add_argument(option.flag, dest=option.name, action="store_true",
                            help=option.help)
        return
    parser.add_argument(option.flag, dest=option.name, type=_cli_type(option),
                        choices=option.choices, metavar=option.metavar, help=option.help,
                        action="append" if option.type is pairs else "store")


def add_import_commands(sub):
    """``cimtwin import <kind>`` for every kind in the registry."""
    imp = sub.add_parser("import", help="import data").add_subparsers(dest="what", required=True)
    for kind in kinds():
        p = imp.add_parser(kind.name, help=kind.help, description=kind.help)
        p.add_argument("file", metavar=kind.inputs.metavar,
                       help=f"what to import: {kind.inputs.describe()}")
        for option in kind.options:
            add_option(p, option)
        p.add_argument("--json", action="store_true", help="print one JSON object")
        p.set_defaults(func=cmd_import, import_kind=kind.name)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cimtwin", description="District digital-twin server")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="serve tiles, layers, metrics and the viewer")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--simulate", action="store_true", help="also run the demo sensor simulator")
    p.add_argument("--simulate-interval", type=float, default=2.0)
    p.add_argument("--workers", type=int, help="gunicorn worker processes (production, "
                   "docs/deploy.md); default server.workers, 0 = embedded server")
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

    add_import_commands(sub)

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
    from server.apps_cli import add_app_commands  # apps add|list|revoke (docs/api.md)
    add_app_commands(sub)
    admin_cli.audit_writes(parser)
    return parser


def _user_errors() -> tuple[type[Exception], ...]:
    """Errors whose message tells the user what to do: no traceback for them."""
    # Only when an error is raised: server.errors loads Flask, bim_import ifcopenshell.
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
    try:
        code = main(argv)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader left (`cimtwin tilesets list --json | head`): not an error to report.
        # Point stdout at /dev/null so the interpreter's final flush stays quiet too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 1
    if argv[:1] == ["import"]:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    console_main()
