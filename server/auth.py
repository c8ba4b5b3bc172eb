"""Who may see what, and who may write.

Every tileset and layer has a classification: public, internal or restricted.
Anonymous requests see public data only (``auth.anonymous_levels``). A bearer
token is checked against the tokens in the environment:
``CIMTWIN_ADMIN_TOKEN`` sees every level and may write everything;
``CIMTWIN_INGEST_TOKEN`` may post metrics. Roles per user come later.
"""
from __future__ import annotations

import hmac
import os
from functools import wraps

from flask import current_app, request

from server.config import CLASSIFICATIONS
from server.errors import problem

TOKEN_ENV = {"admin": "CIMTWIN_ADMIN_TOKEN", "ingest": "CIMTWIN_INGEST_TOKEN"}


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("X-Cimtwin-Token") or None


def _matches(token: str, kind: str) -> bool:
    expected = os.environ.get(TOKEN_ENV[kind], "")
    return bool(expected) and hmac.compare_digest(token.encode(), expected.encode())


def token_kinds() -> set[str]:
    """The kinds ('admin', 'ingest') the request's token grants."""
    token = _bearer()
    if not token:
        return set()
    return {kind for kind in TOKEN_ENV if _matches(token, kind)}


def allowed_levels() -> set[str]:
    """Classification levels the current request may see."""
    if "admin" in token_kinds():
        return set(CLASSIFICATIONS)
    return set(current_app.extensions["cimtwin"].config["auth"]["anonymous_levels"])


def require_token(kind: str):
    """Decorator for write endpoints: 401 without a token, 403 with a wrong one."""
    if kind not in TOKEN_ENV:
        raise ValueError(f"unknown token kind {kind!r}")

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not os.environ.get(TOKEN_ENV[kind]) and not os.environ.get(TOKEN_ENV["admin"]):
                return problem(403, "Writes disabled",
                               f"set {TOKEN_ENV[kind]} on the server to enable this endpoint")
            if not _bearer():
                return problem(401, "Token required",
                               "send 'Authorization: Bearer <token>'",)
            granted = token_kinds()
            if kind not in granted and "admin" not in granted:
                return problem(403, "Forbidden", f"the token does not grant '{kind}'")
            return view(*args, **kwargs)
        return wrapper
    return decorate
