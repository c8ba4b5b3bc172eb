"""Share links: read access to one dataset, signed, with an expiry, revocable.

A share is a row (id, dataset kind and id, note, who made it, expiry, revoked) and a
link token ``<id>.<signature>``: HMAC-SHA256 with the server's secret key over the id,
dataset and expiry, so a token cannot be guessed or altered into another dataset or a
later expiry. It grants read of that dataset at levels public and internal only:
restricted data is never shared anonymously (creation refuses it, and a dataset
reclassified restricted later is no longer served through its shares).
"""
from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from datetime import datetime, timedelta, timezone
from pathlib import Path

from server.accounts_db import AccountsDB
from server.users import AccountError, now

SHARE_LEVELS = frozenset({"public", "internal"})
KINDS = ("tileset", "layer")
MAX_DAYS = 366
_UNITS = {"m": 60, "h": 3600, "d": 86400}


def secret_key(data_dir: Path) -> bytes:
    """The signing key: $CIMTWIN_SECRET_KEY, else ``<data_dir>/secret.key`` (made 0600)."""
    from_env = os.environ.get("CIMTWIN_SECRET_KEY")
    if from_env:
        return from_env.encode()
    path = Path(data_dir) / "secret.key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def parse_duration(text: str) -> timedelta:
    """'7d', '12h', '30m' -> timedelta (at most MAX_DAYS)."""
    match = re.fullmatch(r"\s*(\d+)\s*([mhd])\s*", text or "")
    if not match:
        raise AccountError(f"expiry {text!r}: give a number and a unit, e.g. 7d, 12h or 30m")
    delta = timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
    if delta <= timedelta(0) or delta > timedelta(days=MAX_DAYS):
        raise AccountError(f"expiry {text!r}: from 1 minute to {MAX_DAYS} days")
    return delta


class ShareStore:
    def __init__(self, db: AccountsDB, key: bytes):
        self.db = db
        self.key = key

    def _sign(self, row) -> str:
        message = f"{row['id']}|{row['kind']}|{row['dataset']}|{row['expires']}".encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()[:32]

    def create(self, kind: str, dataset: str, classification: str, *, expires_in: str,
               created_by: str, note: str = "") -> dict:
        """A new share of one dataset; refuses restricted data."""
        if kind not in KINDS:
            raise AccountError(f"share kind {kind!r}: one of {', '.join(KINDS)}")
        if classification not in SHARE_LEVELS:
            raise AccountError(f"'{dataset}' is {classification}: restricted data is never "
                               "shared by link; grant the user the level instead")
        expires = (datetime.now(timezone.utc) + parse_duration(expires_in))
        row = {"id": secrets.token_hex(8), "kind": kind, "dataset": dataset, "note": note,
               "created_by": created_by, "created": now(),
               "expires": expires.isoformat(timespec="seconds")}
        self.db.connect().execute(
            "INSERT INTO shares (id, kind, dataset, note, created_by, created, expires) "
            "VALUES (:id, :kind, :dataset, :note, :created_by, :created, :expires)", row)
        return self.get(row["id"])

    def get(self, share_id: str) -> dict | None:
        row = self.db.connect().execute("SELECT * FROM shares WHERE id=?",
                                        (share_id,)).fetchone()
        if row is None:
            return None
        return dict(row) | {"token": f"{row['id']}.{self._sign(row)}"}

    def list(self) -> list[dict]:
        rows = self.db.connect().execute("SELECT id FROM shares ORDER BY created, id")
        return [self.get(r["id"]) for r in rows]

    def revoke(self, share_id: str) -> dict:
        if self.get(share_id) is None:
            raise AccountError(f"no share {share_id!r} (see 'cimtwin share list')")
        self.db.connect().execute("UPDATE shares SET revoked=? WHERE id=? AND revoked IS NULL",
                                  (now(), share_id))
        return self.get(share_id)

    def check(self, token: str) -> dict | None:
        """The share a token stands for, if the signature holds and it is live."""
        share_id, _, signature = (token or "").partition(".")
        if not re.fullmatch(r"[0-9a-f]{16}", share_id) or not signature:
            return None
        share = self.get(share_id)
        if share is None or not hmac.compare_digest(share["token"], f"{share_id}.{signature}"):
            return None
        if share["revoked"] or share["expires"] < now():
            return None
        return share
