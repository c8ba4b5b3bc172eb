"""Sign-in, machine tokens and share links over HTTP.

POST /api/login {"username", "password"} -> session cookie (HttpOnly, SameSite=Strict,
Secure over TLS) and {"user", "csrf"}; POST /api/logout; GET /api/me;
GET|POST /api/tokens, DELETE /api/tokens/<id> (a user's own machine tokens);
GET|POST /api/shares, DELETE /api/shares/<id> (action "share");
PUT /api/tilesets/<id>/classification (action "classify").
"""
from __future__ import annotations

from flask import Blueprint, jsonify, request
from werkzeug.exceptions import BadRequest, NotFound

from server.audit_http import dataset_classification, record
from server.auth import anonymous, current_principal, refusal, require
from server.errors import problem
from server.hardening import client_address, failures
from server.services import current_services
from server.sessions import COOKIE
from server.users import AccountError
from server.api_schemas import (CLASSIFICATION, LOGIN, OBJECT, PRINCIPAL, SHARE,
                                SHARE_REQUEST, STR, TOKEN, TOKEN_REQUEST, array, obj)
from server.openapi import describe

bp = Blueprint("auth_api", __name__)


def _security():
    return current_services().security


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("send a JSON object (Content-Type: application/json)")
    return body


def _secure_cookie() -> bool:
    return current_services().config["auth"]["secure_cookies"] == "always" or request.is_secure


@bp.post("/api/login")
@describe("Sign in: session cookie and CSRF token", tag="auth", body=LOGIN,
          response=obj(("user", "csrf"), user=PRINCIPAL, csrf=STR), errors=(401,))
def login():
    body = _json_body()
    name, password = str(body.get("username") or ""), str(body.get("password") or "")
    if failures().blocked(client_address()):
        record("login", name, "refused", {"reason": "too many failures"}, anonymous())
        response = problem(429, "Too Many Requests",
                           "too many failed sign-ins from this address; wait a minute")
        response.headers["Retry-After"] = "60"
        return response
    user = _security().users.authenticate(name, password)
    if user is None:
        failures().fail(client_address())
        record("login", name, "failed", {}, anonymous())
        return problem(401, "Sign-in failed", "wrong user name or password, or the account "
                       "is disabled")
    cookie, csrf = _security().sessions.create(user.name)
    hours = current_services().config["auth"]["session_hours"]
    from server.auth import _user_principal
    principal = _user_principal(user, "session", csrf=csrf)
    record("login", user.name, "ok", {}, principal)
    response = jsonify({"user": principal.to_dict(), "csrf": csrf})
    response.set_cookie(COOKIE, cookie, max_age=int(hours * 3600), httponly=True,
                        samesite="Strict", secure=_secure_cookie(), path="/")
    return response


@bp.post("/api/logout")
@describe("Sign out", tag="auth", response=OBJECT)
def logout():
    principal = current_principal()
    cookie = request.cookies.get(COOKIE)
    if cookie:
        _security().sessions.end(cookie)
    record("logout", principal.name, "ok", {}, principal)
    response = jsonify({"signed_out": True})
    response.delete_cookie(COOKIE, path="/", samesite="Strict", secure=_secure_cookie(),
                           httponly=True)
    return response


@bp.get("/api/me")
@describe("Who the request is: name, role, levels, actions", tag="auth", response=PRINCIPAL)
def me():
    """Who the request is: name, role, levels, actions; the CSRF token for a session."""
    principal = current_principal()
    return jsonify(principal.to_dict() | ({"csrf": principal.csrf} if principal.csrf else {}))


def _signed_in_user():
    principal = current_principal()
    if principal.via == "anonymous":
        return None, refusal("users")
    if principal.via not in ("session", "token"):
        return None, problem(403, "Forbidden", "only a signed-in user has machine tokens")
    return principal, None


@bp.get("/api/tokens")
@describe("The signed-in user's machine tokens", tag="auth", response=array(TOKEN),
          errors=(401, 403))
def list_tokens():
    principal, refused = _signed_in_user()
    if refused is not None:
        return refused
    return jsonify(_security().users.tokens(principal.name))


@bp.post("/api/tokens")
@describe("A new machine token (shown once)", tag="auth", status=201, body=TOKEN_REQUEST,
          response=TOKEN, errors=(401, 403))
def create_token():
    """{"scopes": [...], "note"} -> {"token" (shown once), ...}; scopes within the role."""
    principal, refused = _signed_in_user()
    if refused is not None:
        return refused
    body = _json_body()
    scopes = body.get("scopes") or []
    beyond = sorted(set(scopes) - principal.actions)
    if beyond:
        return problem(403, "Forbidden", f"your role may not {', '.join(beyond)}")
    try:
        secret, info = _security().users.create_token(principal.name, list(scopes),
                                                      str(body.get("note") or ""))
    except AccountError as exc:
        raise BadRequest(str(exc)) from None
    return jsonify(info | {"token": secret}), 201


@bp.delete("/api/tokens/<token_id>")
@describe("Revoke a machine token", tag="auth", response=TOKEN, errors=(401, 403))
def revoke_token(token_id: str):
    principal, refused = _signed_in_user()
    if refused is not None:
        return refused
    info = _security().users.token(token_id)
    if info is None or (info["user"] != principal.name and "users" not in principal.actions):
        raise NotFound(f"no token '{token_id}'")
    return jsonify(_security().users.revoke_token(token_id))


@bp.get("/api/shares")
@require("share")
@describe("Share links", tag="shares", response=array(SHARE))
def list_shares():
    return jsonify(_security().shares.list())


@bp.post("/api/shares")
@require("share")
@describe("Create a share link for one dataset", tag="shares", status=201, body=SHARE_REQUEST,
          response=SHARE)
def create_share():
    """{"dataset", "kind": "tileset"|"layer", "expires": "7d", "note"} -> the share + link."""
    body = _json_body()
    kind, dataset = body.get("kind") or "tileset", str(body.get("dataset") or "")
    level = dataset_classification(kind, dataset) if kind in ("tileset", "layer") else None
    if level is None or level not in current_principal().levels:
        raise NotFound(f"no {kind} '{dataset}'")
    try:
        share = _security().shares.create(kind, dataset, level,
                                          expires_in=str(body.get("expires") or "7d"),
                                          created_by=current_principal().name,
                                          note=str(body.get("note") or ""))
    except AccountError as exc:
        raise BadRequest(str(exc)) from None
    return jsonify(share | {"url": share_url(share, request.host_url)}), 201


@bp.delete("/api/shares/<share_id>")
@require("share")
@describe("Revoke a share link", tag="shares", response=SHARE)
def revoke_share(share_id: str):
    if _security().shares.get(share_id) is None:
        raise NotFound(f"no share '{share_id}'")
    return jsonify(_security().shares.revoke(share_id))


@bp.put("/api/tilesets/<tileset_id>/classification")
@require("classify")
@describe("Change a tileset's classification", tag="tilesets", body=CLASSIFICATION, response=OBJECT)
def classify_tileset(tileset_id: str):
    """{"classification": "public"|"internal"|"restricted"}: re-classify a tileset."""
    from server.auth import allowed_levels
    from server.config import CLASSIFICATIONS
    catalog = current_services().catalog
    entry = catalog.get(tileset_id)
    if entry is None or entry["classification"] not in allowed_levels():
        raise NotFound(f"no tileset '{tileset_id}'")
    level = _json_body().get("classification")
    if level not in CLASSIFICATIONS:
        raise BadRequest(f"classification must be one of {', '.join(CLASSIFICATIONS)}")
    updated = catalog.add(entry | {"classification": level})
    record("classify", f"tileset:{tileset_id}", "ok",
           {"from": entry["classification"], "to": level})
    return jsonify({"id": tileset_id, "classification": updated["classification"],
                    "previous": entry["classification"]})


def share_url(share: dict, base: str) -> str:
    """The link a share gives: the tileset.json or the collection's items."""
    base = base.rstrip("/")
    if share["kind"] == "tileset":
        return f"{base}/tiles/{share['dataset']}/tileset.json?share={share['token']}"
    return f"{base}/ogc/collections/{share['dataset']}/items?share={share['token']}"
