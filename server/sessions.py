"""Login sessions: a random cookie value (stored as SHA-256), its user, a CSRF token and
an expiry. Ending a session deletes it; disabling a user ends all of theirs."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

from server.accounts_db import AccountsDB
from server.users import token_hash

COOKIE = "cimtwin_session"
CSRF_HEADER = "X-CSRF-Token"


class SessionStore:
    def __init__(self, db: AccountsDB, hours: float):
        self.db = db
        self.hours = hours

    def create(self, user: str) -> tuple[str, str]:
        """A new session for ``user``: (cookie value, CSRF token)."""
        cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        created = datetime.now(timezone.utc)
        expires = created + timedelta(hours=self.hours)
        db = self.db.connect()
        db.execute("DELETE FROM sessions WHERE expires < ?", (created.isoformat(),))
        db.execute("INSERT INTO sessions (hash, user, csrf, created, expires) VALUES (?,?,?,?,?)",
                   (token_hash(cookie), user, csrf, created.isoformat(), expires.isoformat()))
        return cookie, csrf

    def get(self, cookie: str) -> dict | None:
        """{user, csrf, expires} of a live session, else None."""
        if not cookie:
            return None
        row = self.db.connect().execute("SELECT * FROM sessions WHERE hash=?",
                                        (token_hash(cookie),)).fetchone()
        if row is None or row["expires"] < datetime.now(timezone.utc).isoformat():
            return None
        return {"user": row["user"], "csrf": row["csrf"], "expires": row["expires"]}

    def end(self, cookie: str) -> None:
        self.db.connect().execute("DELETE FROM sessions WHERE hash=?", (token_hash(cookie),))
