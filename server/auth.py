"""Who the request is, what it may see, and what it may do.

A request is one of: anonymous; a logged-in user (session cookie, see server.auth_api);
a user's machine token (``Authorization: Bearer ct_...``); a registered app's access
token (``Bearer cta_...``, server.apps: levels up to the app's level, actions from its
scopes); one of the two break-glass
environment tokens (``CIMTWIN_ADMIN_TOKEN`` acts as role admin, ``CIMTWIN_INGEST_TOKEN``
may only ingest); and any of these may carry a share link (``?share=`` or
``X-Cimtwin-Share``) that adds read of one dataset. The role table in config
(server.roles, docs/security.md) gives levels and actions.

For routes:
- ``allowed_levels()``: the classification levels the request may see (for the route's
  dataset, named by the view argument ``tileset_id`` or ``collection_id``, a share adds
  its levels). Hidden data answers 404, never 403.
- ``@require(action)`` / ``can(action)``: 401 without credentials, 403 when the
  credentials lack the action (or are not valid).
- ``@require_token("admin"|"ingest")``: the old form, kept: "admin" is action "write",
  "ingest" is action "ingest".
"""
from __future__ import annotations

import hmac
import os
from dataclasses import dataclass, replace
from functools import wraps

from flask import current_app, g, request

from server.app_scopes import scope_actions
from server.errors import problem
from server.roles import ACTIONS
from server.sessions import COOKIE
from server.shares import SHARE_LEVELS

APP_TOKEN_PREFIX = "cta_"  # server.apps: a registered application's access token
TOKEN_ENV = {"admin": "CIMTWIN_ADMIN_TOKEN", "ingest": "CIMTWIN_INGEST_TOKEN"}
LEGACY_ACTIONS = {"admin": "write", "ingest": "ingest"}
#: View arguments that name a dataset, and the dataset's kind (for shares and audit).
DATASET_ARGS = {"tileset_id": "tileset", "collection_id": "layer"}


@dataclass(frozen=True)
class Principal:
    """Who a request is: ``via`` is anonymous, session, token, env or share."""
    name: str
    role: str | None
    via: str
    levels: frozenset[str]
    actions: frozenset[str]
    share: dict | None = None
    csrf: str | None = None
    failed: bool = False  # credentials were presented and refused
    scopes: frozenset[str] | None = None  # an app's scopes (via "app"; server.apps)

    def to_dict(self) -> dict:
        found = {"name": self.name, "role": self.role, "via": self.via,
                 "levels": sorted(self.levels), "actions": sorted(self.actions)}
        return found | ({"scopes": sorted(self.scopes)} if self.scopes is not None else {})


def _security():
    return current_app.extensions["cimtwin"].security


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("X-Cimtwin-Token") or None


def _env_kind(token: str) -> str | None:
    for kind, name in TOKEN_ENV.items():
        expected = os.environ.get(name, "")
        if expected and hmac.compare_digest(token.encode(), expected.encode()):
            return kind
    return None


def anonymous() -> Principal:
    levels = current_app.extensions["cimtwin"].config["auth"]["anonymous_levels"]
    return Principal("anonymous", None, "anonymous", frozenset(levels), frozenset())


def _user_principal(user, via: str, scopes=None, csrf=None) -> Principal:
    role = _security().roles[user.role]
    actions = role.actions if scopes is None else role.actions & scopes
    return Principal(user.name, user.role, via, role.levels | user.grants, actions, csrf=csrf)


def _from_bearer(token: str) -> Principal:
    kind = _env_kind(token)
    if kind == "admin":
        role = _security().roles["admin"]
        return Principal("env:admin", "admin", "env", role.levels, role.actions)
    if kind == "ingest":
        return replace(anonymous(), name="env:ingest", via="env", actions=frozenset({"ingest"}))
    if token.startswith(APP_TOKEN_PREFIX):
        return _from_app_token(token)
    found = _security().users.check_token(token)
    if found is None:
        return replace(anonymous(), failed=True)
    user, scopes = found
    return _user_principal(user, "token", scopes=scopes)


def _from_app_token(token: str) -> Principal:
    """A registered app's access token: levels up to its level, actions from its scopes."""
    from server.apps import levels_up_to
    found = _security().apps.check_token(token)
    if found is None:
        return replace(anonymous(), failed=True)
    app, scopes = found
    return Principal(f"app:{app.name}", None, "app", levels_up_to(app.level),
                     scope_actions(scopes), scopes=scopes)


def _from_session(cookie: str) -> Principal:
    session = _security().sessions.get(cookie)  # one query: session and its enabled user
    if session is None:  # expired, ended or its user disabled: anonymous, cookie cleared
        g.cimtwin_clear_cookie = True
        return anonymous()
    role = _security().roles[session["role"]]
    return Principal(session["user"], session["role"], "session",
                     role.levels | session["grants"], role.actions, csrf=session["csrf"])


def _resolve() -> Principal:
    token, cookie = _bearer(), request.cookies.get(COOKIE)
    principal = _from_bearer(token) if token else \
        _from_session(cookie) if cookie else anonymous()
    share_token = request.args.get("share") or request.headers.get("X-Cimtwin-Share")
    if share_token:
        share = _security().shares.check(share_token)
        principal = replace(principal, share=share) if share else \
            replace(principal, failed=True)
    return principal


def current_principal() -> Principal:
    """The request's principal (resolved once per request)."""
    principal = g.get("cimtwin_principal")
    if principal is None:
        principal = g.cimtwin_principal = _resolve()
    return principal


def route_dataset() -> tuple[str, str] | None:
    """(kind, id) of the dataset the current route serves, from its view arguments."""
    args = request.view_args or {}
    for arg, kind in DATASET_ARGS.items():
        if isinstance(args.get(arg), str):
            return kind, args[arg]
    return None


def share_applies(principal: Principal) -> bool:
    """True when the principal's share is for the dataset of the current route."""
    share = principal.share
    return bool(share) and route_dataset() == (share["kind"], share["dataset"])


def allowed_levels() -> set[str]:
    """Classification levels the current request may see (for the route's dataset)."""
    principal = current_principal()
    levels = set(principal.levels)
    if share_applies(principal):
        levels |= SHARE_LEVELS
    return levels


def can(action: str) -> bool:
    """True when the current request may take ``action`` (see server.roles.ACTIONS)."""
    return action in current_principal().actions


def refusal(action: str):
    """None if the request may take ``action``; else the 401/403 problem response."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
    principal = current_principal()
    if action in principal.actions:
        return None
    if principal.failed:
        return problem(403, "Forbidden", "the token, session or share link is not valid "
                       "(expired, revoked or mistyped); sign in again or ask for a new one")
    if principal.via == "anonymous":
        response = problem(401, "Sign-in required",
                           "sign in (POST /api/login) or send 'Authorization: Bearer <token>'")
        response.headers["WWW-Authenticate"] = 'Bearer realm="cimtwin"'
        return response
    return problem(403, "Forbidden",
                   f"{principal.name} (role {principal.role or 'none'}) may not {action}")


def require(action: str):
    """Decorator: the view runs only if the request may take ``action``."""
    if action not in ACTIONS:  # checked at import, so a typo fails loudly
        raise ValueError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            refused = refusal(action)
            return refused if refused is not None else view(*args, **kwargs)
        wrapper.cimtwin_action = action  # read by server.openapi
        return wrapper
    return decorate


def require_token(kind: str):
    """The former decorator: "admin" means action "write", "ingest" action "ingest"."""
    if kind not in LEGACY_ACTIONS:
        raise ValueError(f"unknown token kind {kind!r}")
    return require(LEGACY_ACTIONS[kind])


def token_kinds() -> set[str]:
    """The environment token kinds ('admin', 'ingest') the request's token matches."""
    token = _bearer()
    kind = _env_kind(token) if token else None
    return {kind} if kind else set()
