"""Registered applications (CIM+ apps): client credentials, short-lived access tokens.

A data-admin registers an app (``cimtwin apps add NAME --scopes ... --level ...``); it gets
a client id and a secret (shown once, stored as an argon2id hash like passwords). The app
exchanges them at ``POST /api/v1/oauth/token`` (OAuth2 client credentials, RFC 6749 4.4,
served by authlib, server.apps_api) for a bearer token ``cta_...`` that lasts
``apps.token_seconds``; only its SHA-256 is stored. A request with it is the principal
``app:<name>`` (server.auth): its levels are those up to the app's level, its actions come
from its write scopes, and its read scopes limit which routes it may call.
"""
from __future__ import annotations

import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from server.accounts_db import AccountsDB
from server.app_scopes import APP_SCOPES
from server.config import CLASSIFICATIONS
from server.users import AccountError, now, token_hash

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,63}$")
_HASHER = PasswordHasher()
_DUMMY_HASH = _HASHER.hash("not a real secret, only for timing")
TOKEN_PREFIX = "cta_"  # the same as server.auth.APP_TOKEN_PREFIX


def levels_up_to(level: str) -> frozenset[str]:
    """public < internal < restricted: an app at ``level`` sees that level and below."""
    return frozenset(CLASSIFICATIONS[:CLASSIFICATIONS.index(level) + 1])


@dataclass(frozen=True)
class App:
    id: str
    name: str
    scopes: frozenset[str]
    level: str
    origins: tuple[str, ...]
    created_by: str
    created: str
    revoked: str | None

    def to_dict(self) -> dict:
        return {"client_id": self.id, "name": self.name, "scopes": sorted(self.scopes),
                "level": self.level, "origins": list(self.origins),
                "created_by": self.created_by, "created": self.created, "revoked": self.revoked}


def _app(row) -> App:
    return App(row["id"], row["name"], frozenset(json.loads(row["scopes"])), row["level"],
               tuple(json.loads(row["origins"])), row["created_by"], row["created"],
               row["revoked"])


def _check_origin(origin: str) -> str:
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        raise AccountError(f"origin {origin!r}: give scheme://host[:port], e.g. "
                           "https://dust.example.gov.cn")
    return f"{parts.scheme}://{parts.netloc}"


def _check_scopes(scopes: list[str]) -> list[str]:
    bad = [s for s in scopes if s not in APP_SCOPES]
    if bad or not scopes:
        raise AccountError(f"app scopes {bad or scopes!r}: give one or more of "
                           f"{', '.join(APP_SCOPES)}")
    return sorted(set(scopes))


class AppStore:
    """Apps and their access tokens in the accounts database."""

    def __init__(self, db: AccountsDB):
        self.db = db

    def add(self, name: str, scopes: list[str], level: str = "public",
            origins: list[str] | None = None, created_by: str = "") -> tuple[App, str]:
        """A new app: (the app, its client secret, shown once)."""
        if not _NAME_RE.match(name or ""):
            raise AccountError(f"app name {name!r}: use 2-64 lower-case letters, digits, "
                               "'_', '-' or '.'")
        if level not in CLASSIFICATIONS:
            raise AccountError(f"app level {level!r}: one of {', '.join(CLASSIFICATIONS)}")
        scopes = _check_scopes(scopes)
        origins = sorted({_check_origin(o) for o in origins or []})
        if self.by_name(name) is not None:
            raise AccountError(f"app {name!r} exists (see 'cimtwin apps list')")
        client_id = f"app_{secrets.token_hex(8)}"
        secret = f"cts_{secrets.token_urlsafe(32)}"
        self.db.connect().execute(
            "INSERT INTO apps (id, name, secret, scopes, level, origins, created_by, created) "
            "VALUES (?,?,?,?,?,?,?,?)",
            (client_id, name, _HASHER.hash(secret), json.dumps(scopes), level,
             json.dumps(origins), created_by, now()))
        return self.get(client_id), secret

    def get(self, client_id: str) -> App | None:
        row = self.db.connect().execute("SELECT * FROM apps WHERE id=?",
                                        (client_id,)).fetchone()
        return _app(row) if row else None

    def by_name(self, name: str) -> App | None:
        row = self.db.connect().execute("SELECT * FROM apps WHERE name=?", (name,)).fetchone()
        return _app(row) if row else None

    def list(self) -> list[App]:
        return [_app(r) for r in self.db.connect().execute("SELECT * FROM apps ORDER BY name")]

    def revoke(self, name_or_id: str) -> App:
        """Revoke an app: its secret and every token it holds stop working now."""
        app = self.by_name(name_or_id) or self.get(name_or_id)
        if app is None:
            raise AccountError(f"no app {name_or_id!r} (see 'cimtwin apps list')")
        db = self.db.connect()
        db.execute("UPDATE apps SET revoked=? WHERE id=? AND revoked IS NULL", (now(), app.id))
        db.execute("DELETE FROM app_tokens WHERE app=?", (app.id,))
        return self.get(app.id)

    def active(self, client_id: str) -> App | None:
        app = self.get(client_id or "")
        return app if app is not None and app.revoked is None else None

    def check_secret(self, app: App | None, secret: str) -> bool:
        """True when ``secret`` is the app's (same time whether the app exists or not)."""
        row = self.db.connect().execute("SELECT secret FROM apps WHERE id=?",
                                        (app.id if app else "",)).fetchone()
        try:
            _HASHER.verify(row["secret"] if row else _DUMMY_HASH, secret or "")
        except (VerificationError, InvalidHashError):
            return False
        return row is not None and app.revoked is None

    def save_token(self, app: App, token: str, scopes: list[str], seconds: int) -> None:
        expires = datetime.now(timezone.utc) + timedelta(seconds=seconds)
        db = self.db.connect()
        db.execute("DELETE FROM app_tokens WHERE expires < ?", (now(),))
        db.execute("INSERT INTO app_tokens (hash, app, scopes, created, expires) "
                   "VALUES (?,?,?,?,?)", (token_hash(token), app.id, json.dumps(sorted(scopes)),
                                          now(), expires.isoformat(timespec="seconds")))

    def check_token(self, token: str) -> tuple[App, frozenset[str]] | None:
        """(app, scopes) for an unexpired token of an app that is not revoked."""
        if not re.fullmatch(r"cta_[A-Za-z0-9_-]{30,}", token or ""):
            return None
        digest = token_hash(token)
        row = self.db.connect().execute("SELECT * FROM app_tokens WHERE hash=?",
                                        (digest,)).fetchone()
        if row is None or not hmac.compare_digest(row["hash"], digest) or row["expires"] < now():
            return None
        app = self.active(row["app"])
        return (app, frozenset(json.loads(row["scopes"]))) if app else None

    def origins(self) -> frozenset[str]:
        """Every active app's web origins (CORS)."""
        return frozenset(o for app in self.list() if app.revoked is None for o in app.origins)
