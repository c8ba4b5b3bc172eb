"""Local user accounts (argon2 password hashes) and per-user machine tokens.

Passwords are hashed with argon2id (argon2-cffi defaults). Machine tokens are random
(256 bits) and stored as SHA-256: a token is as strong as a long random key, so a slow
hash adds nothing but a cost on every request. A token carries scopes, a subset of its
user's actions (e.g. only ``ingest`` for a sensor gateway), and can be revoked.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from server.accounts_db import AccountsDB
from server.config import CLASSIFICATIONS
from server.roles import ACTIONS, ROLES

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,63}$")
MIN_PASSWORD = 10
_HASHER = PasswordHasher()
#: Verified against when a user does not exist, so a wrong name costs as long as a
#: wrong password (the answer's time does not tell which names exist).
_DUMMY_HASH = _HASHER.hash("not a real password, only for timing")


class AccountError(Exception):
    """A user or token request that cannot be done (the message says why)."""
    status = 400


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class User:
    name: str
    role: str
    disabled: bool
    grants: frozenset[str]  # extra classification levels granted to this user
    created: str

    def to_dict(self) -> dict:
        return {"name": self.name, "role": self.role, "disabled": self.disabled,
                "grants": sorted(self.grants), "created": self.created}


def _user(row) -> User:
    return User(row["name"], row["role"], bool(row["disabled"]),
                frozenset(json.loads(row["grants"])), row["created"])


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class UserStore:
    """Accounts and machine tokens in the accounts database."""

    def __init__(self, db: AccountsDB):
        self.db = db

    # -- accounts ----------------------------------------------------------------------
    def add(self, name: str, role: str, password: str) -> User:
        if not _NAME_RE.match(name or ""):
            raise AccountError(f"user name {name!r}: use 2-64 lower-case letters, digits, "
                               "'_', '-' or '.'")
        _check_role(role)
        _check_password(password)
        if self.get(name) is not None:
            raise AccountError(f"user {name!r} exists; change it with 'cimtwin users passwd'")
        self.db.connect().execute(
            "INSERT INTO users (name, role, password, created, changed) VALUES (?,?,?,?,?)",
            (name, role, _HASHER.hash(password), now(), now()))
        return self.get(name)

    def get(self, name: str) -> User | None:
        row = self.db.connect().execute("SELECT * FROM users WHERE name=?", (name,)).fetchone()
        return _user(row) if row else None

    def list(self) -> list[User]:
        rows = self.db.connect().execute("SELECT * FROM users ORDER BY name").fetchall()
        return [_user(r) for r in rows]

    def _update(self, name: str, **values) -> User:
        if self.get(name) is None:
            raise AccountError(f"no user {name!r} (see 'cimtwin users list')")
        sets = ", ".join(f"{k}=?" for k in values)
        self.db.connect().execute(f"UPDATE users SET {sets}, changed=? WHERE name=?",
                                  (*values.values(), now(), name))
        return self.get(name)

    def set_password(self, name: str, password: str) -> User:
        _check_password(password)
        return self._update(name, password=_HASHER.hash(password))

    def set_disabled(self, name: str, disabled: bool = True) -> User:
        user = self._update(name, disabled=int(disabled))
        if disabled:  # a disabled user's sessions end now
            self.db.connect().execute("DELETE FROM sessions WHERE user=?", (name,))
        return user

    def set_role(self, name: str, role: str) -> User:
        _check_role(role)
        return self._update(name, role=role)

    def set_grants(self, name: str, levels: list[str]) -> User:
        bad = [lv for lv in levels if lv not in CLASSIFICATIONS]
        if bad:
            raise AccountError(f"unknown level(s) {', '.join(bad)}; "
                               f"use: {', '.join(CLASSIFICATIONS)}")
        return self._update(name, grants=json.dumps(sorted(set(levels))))

    def authenticate(self, name: str, password: str) -> User | None:
        """The user if the name and password match and the account is enabled."""
        row = self.db.connect().execute("SELECT * FROM users WHERE name=?",
                                        (name or "",)).fetchone()
        try:
            _HASHER.verify(row["password"] if row else _DUMMY_HASH, password or "")
        except (VerificationError, InvalidHashError):
            return None
        if row is None or row["disabled"]:
            return None
        if _HASHER.check_needs_rehash(row["password"]):
            self._update(name, password=_HASHER.hash(password))
        return _user(row)

    # -- machine tokens ----------------------------------------------------------------
    def create_token(self, name: str, scopes: list[str], note: str = "",
                     expires: str | None = None) -> tuple[str, dict]:
        """A new token for user ``name``: (the secret, shown once; its record)."""
        if self.get(name) is None:
            raise AccountError(f"no user {name!r} (see 'cimtwin users list')")
        bad = [s for s in scopes if s not in ACTIONS]
        if bad or not scopes:
            raise AccountError(f"token scopes {bad or scopes!r}: give one or more of "
                               f"{', '.join(ACTIONS)}")
        token_id = secrets.token_hex(6)
        secret = f"ct_{token_id}_{secrets.token_urlsafe(32)}"
        self.db.connect().execute(
            "INSERT INTO tokens (id, user, hash, scopes, note, created, expires) "
            "VALUES (?,?,?,?,?,?,?)",
            (token_id, name, token_hash(secret), json.dumps(sorted(set(scopes))), note,
             now(), expires))
        return secret, self.token(token_id)

    def token(self, token_id: str) -> dict | None:
        row = self.db.connect().execute("SELECT * FROM tokens WHERE id=?",
                                        (token_id,)).fetchone()
        if row is None:
            return None
        return {k: row[k] for k in ("id", "user", "note", "created", "expires", "revoked",
                                    "last_used")} | {"scopes": json.loads(row["scopes"])}

    def tokens(self, name: str | None = None) -> list[dict]:
        query, args = "SELECT id FROM tokens ORDER BY created, id", ()
        if name:
            query, args = "SELECT id FROM tokens WHERE user=? ORDER BY created, id", (name,)
        return [self.token(r["id"]) for r in self.db.connect().execute(query, args)]

    def revoke_token(self, token_id: str) -> dict:
        if self.token(token_id) is None:
            raise AccountError(f"no token {token_id!r} (see 'cimtwin users tokens')")
        self.db.connect().execute("UPDATE tokens SET revoked=? WHERE id=? AND revoked IS NULL",
                                  (now(), token_id))
        return self.token(token_id)

    def check_token(self, secret: str) -> tuple[User, frozenset[str]] | None:
        """(user, scopes) for a valid, unrevoked, unexpired token of an enabled user."""
        match = re.fullmatch(r"ct_([0-9a-f]{12})_[A-Za-z0-9_-]{20,}", secret or "")
        if not match:
            return None
        db = self.db.connect()
        row = db.execute("SELECT * FROM tokens WHERE id=?", (match.group(1),)).fetchone()
        if row is None or row["revoked"] or not hmac.compare_digest(row["hash"],
                                                                    token_hash(secret)):
            return None
        if row["expires"] and row["expires"] < now():
            return None
        user = self.get(row["user"])
        if user is None or user.disabled:
            return None
        return user, frozenset(json.loads(row["scopes"]))


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; one of {', '.join(ROLES)}")


def _check_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
