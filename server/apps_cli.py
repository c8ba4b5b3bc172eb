"""`cimtwin apps add|list|revoke`: registered applications (server.apps, docs/api.md).

Registering an app is a data-admin's task on the server, like `cimtwin users`; each run
is recorded in the audit log as the local operator.
"""
from __future__ import annotations

from server.admin_cli import _audit, _operator, _print
from server.app_scopes import APP_SCOPES
from server.config import CLASSIFICATIONS


def cmd_apps(args, services) -> int:
    apps = services.security.apps
    if args.apps_action == "list":
        rows = [a.to_dict() for a in apps.list()]
        _print(rows, args.json, "\n".join(
            f"{a['client_id']}  {a['name']:20} {a['level']:10} {','.join(a['scopes']):40} "
            f"{'revoked ' + a['revoked'] if a['revoked'] else 'active'}" for a in rows)
            or "no apps")
        return 0
    if args.apps_action == "revoke":
        app = apps.revoke(args.name)
        _audit(services, "app.revoke", f"app:{app.name}", client_id=app.id)
        print(f"revoked app {app.name} ({app.id}); its tokens stop working now")
        return 0
    scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
    app, secret = apps.add(args.name, scopes, args.level, args.origin, created_by=_operator())
    _audit(services, "app.add", f"app:{app.name}", client_id=app.id,
           scopes=sorted(app.scopes), level=app.level, origins=list(app.origins))
    _print(app.to_dict() | {"client_secret": secret}, args.json,
           f"app {app.name} ({app.level}; {', '.join(sorted(app.scopes))})\n"
           f"client id:     {app.id}\nclient secret: {secret}\n"
           "(the secret is shown once; it is stored hashed)")
    return 0


def add_app_commands(sub) -> None:
    p = sub.add_parser("apps", help="registered applications: client credentials, scopes")
    s = p.add_subparsers(dest="apps_action", required=True)
    q = s.add_parser("add", help="register an app; prints its client id and secret once")
    q.add_argument("name")
    q.add_argument("--scopes", required=True,
                   help="comma-separated: " + ", ".join(APP_SCOPES))
    q.add_argument("--level", default="public", choices=CLASSIFICATIONS,
                   help="the highest classification the app may read (default public)")
    q.add_argument("--origin", action="append", default=[],
                   help="a web origin allowed by CORS (repeatable), e.g. https://dust.gov.cn")
    q.add_argument("--json", action="store_true")
    q = s.add_parser("list")
    q.add_argument("--json", action="store_true")
    s.add_parser("revoke", help="revoke an app and its tokens").add_argument("name")
    p.set_defaults(func=cmd_apps)
