"""`cimtwin users|share|audit|backup|restore`: the security commands (docs/security.md).

``add_commands(sub)`` adds them to the CLI's sub-parsers; ``audit_writes(parser)`` wraps
the data-changing commands of the CLI (imports, deletes, the demo build) so each run is
recorded in the audit log as the local operator ``cli:<os user>``.
"""
from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from server.roles import ACTIONS, ROLES

#: Commands (argparse path) that change data and are recorded when run.
AUDITED = {("import",), ("tilesets", "delete"), ("demo",)}


def _operator() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in a container: still record the run
        return "cli:unknown"


def _audit(services, action: str, target: str = "", outcome: str = "ok", **detail) -> None:
    services.security.audit.append(actor=_operator(), role="", via="cli", action=action,
                                   target=target, outcome=outcome, detail=detail or None)


def _read_password(args) -> str:
    """From --password-file, else stdin (asked twice on a terminal)."""
    if args.password_file:
        return Path(args.password_file).read_text(encoding="utf-8").splitlines()[0]
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if first != getpass.getpass("again: "):
            raise SystemExit("cimtwin: the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\n")


def _print(value, as_json: bool, text: str) -> None:
    print(json.dumps(value, ensure_ascii=False, default=str) if as_json else text)


def cmd_users(args, services) -> int:
    users = services.security.users
    action = args.users_action
    if action == "list":
        rows = [u.to_dict() for u in users.list()]
        _print(rows, args.json, "\n".join(
            f"{u['name']:20} {u['role']:11} {'disabled' if u['disabled'] else 'active':9}"
            f" {','.join(u['grants']) or '-':12} {u['created']}" for u in rows) or "no users")
        return 0
    if action == "tokens":
        rows = users.tokens(args.name)
        _print(rows, args.json, "\n".join(
            f"{t['id']}  {t['user']:16} {','.join(t['scopes']):24} "
            f"{'revoked ' + t['revoked'] if t['revoked'] else 'active'}  {t['note']}"
            for t in rows) or "no tokens")
        return 0
    if action == "revoke":
        info = users.revoke_token(args.token_id)
        _audit(services, "token.revoke", info["user"], token=args.token_id)
        print(f"revoked token {args.token_id} of {info['user']}")
        return 0
    return _change_user(args, services, action)


def _change_user(args, services, action: str) -> int:
    users = services.security.users
    if action == "add":
        user = users.add(args.name, args.role, _read_password(args))
    elif action == "passwd":
        user = users.set_password(args.name, _read_password(args))
    elif action in ("disable", "enable"):
        user = users.set_disabled(args.name, action == "disable")
    elif action == "role":
        user = users.set_role(args.name, args.role)
    elif action == "grant":
        user = users.set_grants(args.name, args.levels)
    else:  # token
        secret, info = users.create_token(args.name, args.scope, args.note or "")
        _audit(services, "token.create", args.name, token=info["id"], scopes=info["scopes"])
        _print(info | {"token": secret}, args.json,
               f"token {info['id']} for {args.name} ({', '.join(info['scopes'])}):\n{secret}\n"
               "(shown once; it is stored hashed)")
        return 0
    _audit(services, f"user.{action}", user.name, role=user.role, grants=sorted(user.grants))
    _print(user.to_dict(), getattr(args, "json", False), f"{action}: {user.name} ({user.role})")
    return 0


def _dataset(services, dataset: str, kind: str | None) -> tuple[str, str]:
    """(kind, classification) of a tileset or layer id; a clear error when unknown."""
    from server.users import AccountError
    if kind in (None, "tileset"):
        entry = services.catalog.get(dataset)
        if entry:
            return "tileset", entry["classification"]
    if kind in (None, "layer"):
        try:
            return "layer", services.layers.get_layer(dataset).classification
        except Exception:  # LayerNotFound
            pass
    raise AccountError(f"no tileset or layer '{dataset}' (see 'cimtwin tilesets list')")


def cmd_share(args, services) -> int:
    from server.auth_api import share_url
    shares = services.security.shares
    if args.share_action == "list":
        rows = shares.list()
        _print(rows, args.json, "\n".join(
            f"{s['id']}  {s['kind']:7} {s['dataset']:24} until {s['expires']}"
            f"{'  REVOKED' if s['revoked'] else ''}  {s['note']}" for s in rows) or "no shares")
        return 0
    if args.share_action == "revoke":
        share = shares.revoke(args.id)
        _audit(services, "share.revoke", f"{share['kind']}:{share['dataset']}", share=args.id)
        print(f"revoked share {args.id}")
        return 0
    kind, level = _dataset(services, args.id, args.kind)
    share = shares.create(kind, args.id, level, expires_in=args.expires,
                          created_by=_operator(), note=args.note or "")
    _audit(services, "share.create", f"{kind}:{args.id}", share=share["id"],
           expires=share["expires"])
    url = share_url(share, args.base_url)
    _print(share | {"url": url}, args.json,
           f"share {share['id']} of {kind} {args.id} until {share['expires']}:\n{url}")
    return 0


def cmd_audit(args, services) -> int:
    from server.audit import to_csv
    log = services.security.audit
    if args.audit_action == "verify":
        report = log.verify()
        print(report.to_text())
        return 0 if report.ok else 1
    if args.audit_action == "prune":
        days = args.days or services.config["audit"]["retention_days"]
        removed = log.prune(days)
        _audit(services, "audit.prune", "audit", removed=removed, retention_days=days)
        print(f"removed {removed} records older than {days} days")
        return 0
    rows = log.query(actor=args.actor, action=args.action, outcome=args.outcome,
                     since=args.since, until=args.until, limit=args.limit)
    if args.csv:
        sys.stdout.write(to_csv(rows))
    else:
        for r in rows:
            print(f"{r['seq']:6} {r['time']} {r['actor']:16} {r['role'] or '-':10} "
                  f"{r['action']:28} {r['target']:28} {r['outcome']:8} {r['address']}")
    return 0


def cmd_backup(args, services) -> int:
    from server import backup
    if args.args[0] == "verify":
        if len(args.args) != 2:
            raise SystemExit("usage: cimtwin backup verify SRC")
        report = backup.verify_backup(Path(args.args[1]))
        print(report.to_text())
        return 0 if report.ok else 1
    result = backup.backup(services, Path(args.args[0]))
    _audit(services, "backup", str(Path(args.args[0]).name), snapshot=result["snapshot"],
           copied_bytes=result["copied_bytes"])
    _print(result, args.json, backup.summary_text(result))
    return 0


def cmd_restore(args, services) -> int:
    from server import backup
    result = backup.restore(Path(args.src), Path(args.into), snapshot=args.snapshot)
    _print(result, args.json, backup.summary_text(result))
    return 0


def add_commands(sub) -> None:
    """Add users, share, audit, backup and restore to the CLI's sub-parsers."""
    _add_users(sub)
    p = sub.add_parser("share", help="share links: read of one dataset, with an expiry")
    s = p.add_subparsers(dest="share_action", required=True)
    q = s.add_parser("create", help="a signed link granting read of one tileset or layer")
    q.add_argument("id")
    q.add_argument("--expires", default="7d", help="e.g. 7d, 12h, 30m (default 7d)")
    q.add_argument("--note")
    q.add_argument("--kind", choices=("tileset", "layer"))
    q.add_argument("--base-url", default="http://127.0.0.1:8000")
    q.add_argument("--json", action="store_true")
    q = s.add_parser("list")
    q.add_argument("--json", action="store_true")
    s.add_parser("revoke").add_argument("id")
    p.set_defaults(func=cmd_share)

    p = sub.add_parser("audit", help="the audit log: verify the chain, list, prune")
    s = p.add_subparsers(dest="audit_action", required=True)
    s.add_parser("verify", help="check the hash chain; names any edited or removed record")
    s.add_parser("prune", help="remove records past audit.retention_days").add_argument(
        "--days", type=int)
    q = s.add_parser("list")
    for name in ("actor", "action", "outcome", "since", "until"):
        q.add_argument(f"--{name}")
    q.add_argument("--limit", type=int, default=1000)
    q.add_argument("--csv", action="store_true")
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("backup", help="backup DEST (online snapshot) | backup verify SRC")
    p.add_argument("args", nargs="+", metavar="DEST | verify SRC")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_backup)
    p = sub.add_parser("restore", help="restore a backup into an empty data dir")
    p.add_argument("src")
    p.add_argument("--into", required=True, help="the new data dir (must be empty)")
    p.add_argument("--snapshot", help="snapshot name (default: the newest)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_restore)


def _add_users(sub) -> None:
    p = sub.add_parser("users", help="user accounts, roles and machine tokens")
    s = p.add_subparsers(dest="users_action", required=True)
    q = s.add_parser("add", help="a new account (password from stdin or --password-file)")
    q.add_argument("name")
    q.add_argument("--role", required=True, choices=ROLES)
    q.add_argument("--password-file")
    q = s.add_parser("list")
    q.add_argument("--json", action="store_true")
    for action in ("disable", "enable"):
        s.add_parser(action).add_argument("name")
    q = s.add_parser("passwd", help="set a new password (stdin or --password-file)")
    q.add_argument("name")
    q.add_argument("--password-file")
    q = s.add_parser("role")
    q.add_argument("name")
    q.add_argument("role", choices=ROLES)
    q = s.add_parser("grant", help="extra classification levels for one user")
    q.add_argument("name")
    q.add_argument("levels", nargs="*")
    q = s.add_parser("token", help="a machine token for a user, scoped to some actions")
    q.add_argument("name")
    q.add_argument("--scope", action="append", required=True, choices=ACTIONS)
    q.add_argument("--note")
    q.add_argument("--json", action="store_true")
    q = s.add_parser("tokens", help="list tokens (of one user)")
    q.add_argument("name", nargs="?")
    q.add_argument("--json", action="store_true")
    s.add_parser("revoke", help="revoke a machine token").add_argument("token_id")
    p.set_defaults(func=cmd_users)


def audit_writes(parser: argparse.ArgumentParser) -> None:
    """Wrap the data-changing commands so each run is appended to the audit log."""
    for path, sub in _leaf_parsers(parser, ()):
        if any(path[:len(a)] == a for a in AUDITED):
            func = sub.get_default("func")
            if func is not None:
                sub.set_defaults(func=_audited(func, " ".join(path)))


def _leaf_parsers(parser, path):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield (*path, name), child
                yield from _leaf_parsers(child, (*path, name))


def _audited(func, command: str):
    def run(args, services):
        target = str(getattr(args, "id", None) or getattr(args, "name", None)
                     or Path(str(getattr(args, "file", "") or "")).name)
        try:
            code = func(args, services)
        except BaseException as exc:
            _audit(services, f"cli {command}", target, "failed", error=type(exc).__name__)
            raise
        _audit(services, f"cli {command}", target, "ok" if code == 0 else "failed", code=code)
        return code
    return run
