"""The audit log: append-only, hash-chained records in ``<data_dir>/audit.sqlite``.

Each record holds who (actor, role, how they signed in), when, what (action, target),
from which address, and the outcome, plus ``prev`` (the hash of the record before it) and
its own ``hash`` = SHA-256 over all of that. Editing, removing or reordering a record
breaks the chain; :func:`AuditLog.verify` says at which record. The newest record's
sequence number and hash are also kept in ``meta`` (the head), so removing records at
the end is seen too. SQLite triggers refuse UPDATE and DELETE: nothing in the program can
change a record, and no API route writes to the log except by appending.

Retention: :meth:`AuditLog.prune` removes records older than N days and keeps the last
removed record's (seq, hash) as the anchor the chain starts from.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from server.sqlite_local import ThreadLocalConnections

GENESIS = "0" * 64
FIELDS = ("seq", "time", "actor", "role", "via", "action", "target", "outcome", "address",
          "detail")
SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY, time TEXT NOT NULL, actor TEXT NOT NULL, role TEXT NOT NULL,
    via TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, outcome TEXT NOT NULL,
    address TEXT NOT NULL, detail TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS records_time ON records (time);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS records_no_update BEFORE UPDATE ON records
BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
CREATE TRIGGER IF NOT EXISTS records_no_delete BEFORE DELETE ON records
WHEN (SELECT value FROM meta WHERE key = 'pruning') IS NULL
BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
"""


def record_hash(record: dict, prev: str) -> str:
    """SHA-256 of a record's fields and the previous hash (canonical JSON)."""
    payload = json.dumps([record[f] for f in FIELDS] + [prev], ensure_ascii=False,
                         separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass
class VerifyReport:
    records: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_text(self) -> str:
        if self.ok:
            return f"audit log intact: {self.records} records, chain verified"
        return "\n".join([f"audit log TAMPERED ({len(self.problems)} problem(s)):"]
                         + [f"  {p}" for p in self.problems])


class AuditLog:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._connections = ThreadLocalConnections.with_schema(self.path, SCHEMA)

    def _db(self) -> sqlite3.Connection:
        return self._connections.connect()

    def _meta(self, db, key: str) -> str | None:
        row = db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def append(self, *, actor: str, role: str | None, via: str, action: str,
               target: str = "", outcome: str = "ok", address: str = "",
               detail: dict | None = None) -> dict:
        """Add one record at the end of the chain (serialised across processes)."""
        record = {"time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                  "actor": actor, "role": role or "", "via": via, "action": action,
                  "target": target or "", "outcome": outcome, "address": address or "",
                  "detail": json.dumps(detail or {}, ensure_ascii=False, sort_keys=True)}
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            seq, prev = self._head(db)
            record["seq"] = seq + 1
            record["prev"], record["hash"] = prev, record_hash(record, prev)
            db.execute(f"INSERT INTO records ({', '.join(FIELDS)}, prev, hash) "
                       f"VALUES ({', '.join('?' * (len(FIELDS) + 2))})",
                       [record[f] for f in FIELDS] + [prev, record["hash"]])
            db.execute("INSERT OR REPLACE INTO meta VALUES ('head', ?)",
                       (f"{record['seq']}:{record['hash']}",))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return record

    def _head(self, db) -> tuple[int, str]:
        row = db.execute("SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1").fetchone()
        if row:
            return row[0], row[1]
        return _split(self._meta(db, "anchor")) or (0, GENESIS)

    def verify(self) -> VerifyReport:
        """Check the whole chain; each problem names the record where it shows."""
        db, report = self._db(), VerifyReport()
        seq, prev = _split(self._meta(db, "anchor")) or (0, GENESIS)
        for row in db.execute(f"SELECT {', '.join(FIELDS)}, prev, hash FROM records "
                              "ORDER BY rowid"):
            record = dict(row)
            report.records += 1
            if record["seq"] != seq + 1:
                report.problems.append(
                    f"record {record['seq']}: expected record {seq + 1} here "
                    f"(records {seq + 1}..{record['seq'] - 1} removed, or reordered)"
                    if record["seq"] > seq + 1 else
                    f"record {record['seq']}: out of order after record {seq}")
            elif record["prev"] != prev:
                report.problems.append(f"record {record['seq']}: does not follow record {seq} "
                                       "(its previous-hash differs: removed or reordered)")
            if record_hash(record, record["prev"]) != record["hash"]:
                report.problems.append(f"record {record['seq']}: content edited "
                                       "(its hash does not match its fields)")
            seq, prev = record["seq"], record["hash"]
        head = _split(self._meta(db, "head"))
        if head and head[0] > seq:
            report.problems.append(f"records {seq + 1}..{head[0]} removed from the end "
                                   f"(the head says the last record is {head[0]})")
        elif head and head != (seq, prev):
            report.problems.append(f"record {seq}: not the recorded head {head[0]}")
        return report

    def query(self, *, actor=None, action=None, outcome=None, target=None, since=None,
              until=None, limit: int = 1000, offset: int = 0) -> list[dict]:
        """Records matching every given filter, oldest first (``action`` is a prefix)."""
        where, args = [], []
        for column, value in (("actor", actor), ("outcome", outcome), ("target", target)):
            if value:
                where.append(f"{column} = ?")
                args.append(value)
        if action:
            where.append("action LIKE ? ESCAPE '\\'")
            args.append(action.replace("%", "\\%").replace("_", "\\_") + "%")
        if since:
            where.append("time >= ?")
            args.append(since)
        if until:
            where.append("time < ?")
            args.append(until)
        sql = (f"SELECT {', '.join(FIELDS)}, prev, hash FROM records "
               f"{'WHERE ' + ' AND '.join(where) if where else ''} ORDER BY seq LIMIT ? OFFSET ?")
        rows = self._db().execute(sql, [*args, limit, offset]).fetchall()
        return [dict(r) | {"detail": json.loads(r["detail"])} for r in rows]

    def prune(self, retention_days: int) -> int:
        """Remove records older than ``retention_days``; the chain restarts at an anchor."""
        cutoff = (datetime.now(timezone.utc) - timedelta(days=retention_days)).isoformat()
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            last = db.execute("SELECT seq, hash FROM records WHERE time < ? ORDER BY seq DESC "
                              "LIMIT 1", (cutoff,)).fetchone()
            if last is None:
                db.execute("ROLLBACK")
                return 0
            db.execute("INSERT INTO meta VALUES ('pruning', '1')")
            removed = db.execute("DELETE FROM records WHERE seq <= ?", (last[0],)).rowcount
            db.execute("DELETE FROM meta WHERE key = 'pruning'")
            db.execute("INSERT OR REPLACE INTO meta VALUES ('anchor', ?)",
                       (f"{last[0]}:{last[1]}",))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return removed


def _split(value: str | None) -> tuple[int, str] | None:
    if not value:
        return None
    seq, _, digest = value.partition(":")
    return int(seq), digest


def to_csv(records: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*FIELDS, "prev", "hash"])
    for r in records:
        writer.writerow([json.dumps(r[f], ensure_ascii=False) if f == "detail" else r[f]
                         for f in FIELDS] + [r["prev"], r["hash"]])
    return out.getvalue()
