"""The audit log at the HTTP edge: what each request adds to the chain, and GET /api/audit.

``install(app)`` adds an after-request hook that records, for every request:
- every write (POST/PUT/PATCH/DELETE), with its outcome;
- every refused request (401, 403, 405, 413, 429, and a 404 for a dataset that exists
  but is hidden from the caller);
- every call of a registered app (server.apps), under its name ``app:<name>``;
- reads of internal or restricted datasets, and every use of a share link, at dataset
  level: once per principal, dataset and address within ``audit.read_window_s``.
Views that record their own event (login) set ``g.cimtwin_audited``.
"""
from __future__ import annotations

import threading
import time

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request

from server.audit import to_csv
from server.auth import current_principal, require, route_dataset
from server.services import current_services
from server.api_schemas import OBJECT, array
from server.openapi import describe

bp = Blueprint("audit_api", __name__)
REFUSED = frozenset({401, 403, 405, 413, 429})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def record(action: str, target: str = "", outcome: str = "ok", detail: dict | None = None,
           principal=None) -> None:
    """Append one record for the current request (who, role, address from the request)."""
    principal = principal or current_principal()
    g.cimtwin_audited = True
    current_services().security.audit.append(
        actor=principal.name, role=principal.role, via=principal.via, action=action,
        target=target, outcome=outcome, address=request.remote_addr or "", detail=detail)


class ReadWindow:
    """Remembers (who, dataset, address) recorded recently, so reads log once per window."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.seen: dict[tuple, float] = {}
        self.lock = threading.Lock()

    def first(self, key: tuple) -> bool:
        now = time.monotonic()
        with self.lock:
            if len(self.seen) > 50_000:
                self.seen = {k: t for k, t in self.seen.items() if now - t < self.seconds}
            last = self.seen.get(key)
            if last is not None and now - last < self.seconds:
                return False
            self.seen[key] = now
            return True


def dataset_classification(kind: str, dataset: str) -> str | None:
    """A dataset's classification, or None when it does not exist."""
    services = current_services()
    if kind == "tileset":
        entry = services.catalog.get(dataset)
        return entry["classification"] if entry else None
    try:
        return services.layers.get_layer(dataset).classification
    except Exception:  # LayerNotFound, or no layer store configured
        return None


def _target() -> str:
    found = route_dataset()
    return f"{found[0]}:{found[1]}" if found else request.path


def _after(response: Response) -> Response:
    if g.get("cimtwin_audited") or request.endpoint in ("web.viewer_file", "web.cesium_file"):
        return response
    status, principal = response.status_code, current_principal()
    if request.method in WRITE_METHODS:
        rule = request.url_rule.rule if request.url_rule else request.path
        outcome = "ok" if status < 400 else ("refused" if status in REFUSED else "failed")
        record(f"write {request.method} {rule}", _target(), outcome, {"status": status})
    elif status in REFUSED:
        record("refused", _target(), "refused", {"status": status, "method": request.method})
    elif principal.via == "app":
        _app_call(response, principal)
    else:
        _read(response, principal)
    return response


def _app_call(response: Response, principal) -> None:
    """Every call of a registered app is recorded under its name; tile files once per
    dataset and window (a scene reads hundreds), like a user's reads."""
    found, status = route_dataset(), response.status_code
    if request.endpoint == "tiles_api.get_tile":
        window: ReadWindow = current_app.extensions["cimtwin.read_window"]
        if not window.first((principal.name, found, request.remote_addr, status)):
            return
    rule = request.url_rule.rule if request.url_rule else request.path
    record(f"call {request.method} {rule}", _target(), "ok" if status < 400 else "failed",
           {"status": status})


def _read(response: Response, principal) -> None:
    found = route_dataset()
    if found is None or response.status_code not in (200, 206, 304, 404):
        return
    window: ReadWindow = current_app.extensions["cimtwin.read_window"]
    key = (principal.name, principal.share and principal.share["id"], found,
           request.remote_addr, response.status_code == 404)
    if not window.first(key):
        return
    level = dataset_classification(*found)
    target = f"{found[0]}:{found[1]}"
    if level is None:
        return
    if response.status_code == 404:
        from server.auth import allowed_levels
        if level not in allowed_levels():
            record("refused", target, "refused", {"status": 404, "hidden": level})
    elif principal.share and principal.share["dataset"] == found[1]:
        record("share.use", target, "ok", {"share": principal.share["id"], "level": level})
    elif level != "public":
        record("read", target, "ok", {"level": level})


@bp.get("/api/audit")
@require("audit")
@describe("Audit records (JSON or CSV), oldest first", tag="audit", response=array(OBJECT),
          query={"actor": "actor", "action": "prefix", "outcome": "ok, failed, refused",
                 "target": "target", "from": "ISO time", "to": "ISO time",
                 "limit": "at most 10000", "offset": "skip", "format": "csv"})
def get_audit():
    """Records, oldest first: ?actor= &action= (prefix) &outcome= &target= &from= &to=
    &limit= &offset= &format=csv. Reading the log is itself recorded."""
    args = request.args
    limit = min(max(args.get("limit", 1000, type=int), 1), 10_000)
    records = current_services().security.audit.query(
        actor=args.get("actor"), action=args.get("action"), outcome=args.get("outcome"),
        target=args.get("target"), since=args.get("from"), until=args.get("to"),
        limit=limit, offset=max(args.get("offset", 0, type=int), 0))
    record("audit.read", "audit", "ok", {"filters": dict(args), "returned": len(records)})
    if args.get("format") == "csv":
        return Response(to_csv(records), mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=audit.csv"})
    return jsonify(records)


def install(app: Flask) -> None:
    config = app.extensions["cimtwin"].config
    app.extensions["cimtwin.read_window"] = ReadWindow(config["audit"]["read_window_s"])
    app.after_request(_after)
