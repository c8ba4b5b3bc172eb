"""Platform events: what happened (a tileset published, a layer edited, an alarm raised),
kept in ``<data_dir>/events.sqlite`` and handed to subscribers.

``emit(type, data, level)`` appends an event; any process may (the CLI's imports too). A
server process runs one dispatcher (server.webhooks) that claims new events (each event
is claimed by one worker only), publishes them on the metrics bus (so every worker's
``/api/v1/events/stream`` clients get them, across workers with Redis) and queues a
webhook delivery for each matching subscription. The outbox (``pending``) and every
attempt (``deliveries``) are in the same file, so retries survive a restart.
"""
from __future__ import annotations

import json
import secrets
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path

from server.sqlite_local import ThreadLocalConnections

EVENT_TYPES = {
    "tileset.published": "a tileset was published (imported or rebuilt)",
    "tileset.deleted": "a tileset was deleted",
    "layer.changed": "features of a layer were created, replaced, updated or deleted, or "
                     "the layer was imported again",
    "project.stage_changed": "a construction project moved to another lifecycle stage",
    "alarm.raised": "an alarm was raised",
    "alarm.acknowledged": "an alarm was acknowledged",
    "alarm.cleared": "an alarm cleared",
}
SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, time TEXT NOT NULL,
    level TEXT NOT NULL, data TEXT NOT NULL, claimed TEXT);
CREATE INDEX IF NOT EXISTS events_unclaimed ON events (claimed) WHERE claimed IS NULL;
CREATE TABLE IF NOT EXISTS subscriptions (
    id TEXT PRIMARY KEY, app TEXT NOT NULL, url TEXT NOT NULL, events TEXT NOT NULL,
    secret TEXT NOT NULL, after_event INTEGER NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pending (
    subscription TEXT NOT NULL, event INTEGER NOT NULL, attempt INTEGER NOT NULL,
    due REAL NOT NULL, PRIMARY KEY (subscription, event));
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT, subscription TEXT NOT NULL, event INTEGER NOT NULL,
    type TEXT NOT NULL, attempt INTEGER NOT NULL, time TEXT NOT NULL, status INTEGER,
    outcome TEXT NOT NULL, error TEXT NOT NULL DEFAULT '', duration_ms INTEGER,
    next_attempt TEXT);
CREATE INDEX IF NOT EXISTS deliveries_by_subscription ON deliveries (subscription, id);
"""
#: Seconds a claimed delivery is reserved for the worker that took it.
LEASE_S = 120.0


class EventError(Exception):
    """A subscription request that cannot be done (the message says why)."""
    status = 400


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds")


def _event(row) -> dict:
    return {"id": row["id"], "type": row["type"], "time": row["time"], "level": row["level"],
            "data": json.loads(row["data"])}


def _subscription(row) -> dict:
    return {"id": row["id"], "app": row["app"], "url": row["url"],
            "events": json.loads(row["events"]), "created": row["created"]}


class EventStore:
    """Events, subscriptions, the delivery outbox and the delivery log in one SQLite file."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._connections = ThreadLocalConnections.with_schema(self.path, SCHEMA)

    def connect(self) -> sqlite3.Connection:
        return self._connections.connect()

    # -- events ---------------------------------------------------------------------
    def emit(self, event_type: str, data: dict, level: str) -> dict:
        if event_type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {event_type!r}")
        cur = self.connect().execute(
            "INSERT INTO events (type, time, level, data) VALUES (?,?,?,?)",
            (event_type, _now(), level, json.dumps(data, ensure_ascii=False, default=str)))
        return self.event(cur.lastrowid)

    def event(self, event_id: int) -> dict | None:
        row = self.connect().execute("SELECT * FROM events WHERE id=?", (event_id,)).fetchone()
        return _event(row) if row else None

    def last_id(self) -> int:
        return self.connect().execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]

    def claim(self, owner: str, limit: int = 200) -> list[dict]:
        """Unclaimed events, oldest first, now claimed by ``owner`` (no other takes them)."""
        db = self.connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            rows = db.execute("SELECT * FROM events WHERE claimed IS NULL ORDER BY id LIMIT ?",
                              (limit,)).fetchall()
            db.executemany("UPDATE events SET claimed=? WHERE id=?",
                           [(owner, r["id"]) for r in rows])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return [_event(r) for r in rows]

    def prune(self, keep_days: float) -> None:
        cutoff = _iso(time.time() - keep_days * 86400)
        db = self.connect()
        db.execute("DELETE FROM events WHERE time < ? AND claimed IS NOT NULL", (cutoff,))
        db.execute("DELETE FROM deliveries WHERE time < ?", (cutoff,))

    # -- subscriptions ----------------------------------------------------------------
    def subscribe(self, app: str, url: str, events: list[str]) -> dict:
        """A new subscription of ``app``; its secret (for the signatures) is in the answer."""
        sub_id, secret = f"sub_{secrets.token_hex(6)}", secrets.token_urlsafe(32)
        self.connect().execute(
            "INSERT INTO subscriptions (id, app, url, events, secret, after_event, created) "
            "VALUES (?,?,?,?,?,?,?)",
            (sub_id, app, url, json.dumps(sorted(set(events))), secret, self.last_id(),
             _now()))
        return self.subscription(sub_id) | {"secret": secret}

    def subscription(self, sub_id: str) -> dict | None:
        row = self.connect().execute("SELECT * FROM subscriptions WHERE id=?",
                                     (sub_id,)).fetchone()
        return _subscription(row) if row else None

    def subscriptions(self, app: str | None = None) -> list[dict]:
        query, args = "SELECT * FROM subscriptions ORDER BY created, id", ()
        if app is not None:
            query, args = "SELECT * FROM subscriptions WHERE app=? ORDER BY created, id", (app,)
        return [_subscription(r) for r in self.connect().execute(query, args)]

    def secret(self, sub_id: str) -> str | None:
        row = self.connect().execute("SELECT secret FROM subscriptions WHERE id=?",
                                     (sub_id,)).fetchone()
        return row["secret"] if row else None

    def matching(self, event: dict) -> list[tuple[dict, int]]:
        """(subscription, after_event) of every subscription to this event's type."""
        rows = self.connect().execute("SELECT * FROM subscriptions").fetchall()
        return [(_subscription(r), r["after_event"]) for r in rows
                if event["type"] in json.loads(r["events"]) and event["id"] > r["after_event"]]

    def unsubscribe(self, sub_id: str) -> None:
        db = self.connect()
        db.execute("DELETE FROM subscriptions WHERE id=?", (sub_id,))
        db.execute("DELETE FROM pending WHERE subscription=?", (sub_id,))

    # -- the outbox and the delivery log ----------------------------------------------
    def queue(self, sub_id: str, event_id: int, attempt: int, due: float) -> None:
        self.connect().execute("INSERT OR REPLACE INTO pending VALUES (?,?,?,?)",
                               (sub_id, event_id, attempt, due))

    def take_due(self, now: float, limit: int = 50) -> list[tuple[str, int, int]]:
        """Deliveries due now, reserved for this worker for LEASE_S seconds."""
        db = self.connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            rows = db.execute("SELECT * FROM pending WHERE due <= ? ORDER BY due LIMIT ?",
                              (now, limit)).fetchall()
            db.executemany("UPDATE pending SET due=? WHERE subscription=? AND event=?",
                           [(now + LEASE_S, r["subscription"], r["event"]) for r in rows])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return [(r["subscription"], r["event"], r["attempt"]) for r in rows]

    def next_due(self) -> float | None:
        return self.connect().execute("SELECT MIN(due) FROM pending").fetchone()[0]

    def log(self, sub_id: str, event: dict, attempt: int, status: int | None, outcome: str,
            error: str, duration_ms: int, retry_at: float | None) -> None:
        """Record one attempt; reschedule it (``retry_at``) or take it off the outbox."""
        db = self.connect()
        db.execute("INSERT INTO deliveries (subscription, event, type, attempt, time, status, "
                   "outcome, error, duration_ms, next_attempt) VALUES (?,?,?,?,?,?,?,?,?,?)",
                   (sub_id, event["id"], event["type"], attempt, _now(), status, outcome,
                    error[:500], duration_ms, _iso(retry_at) if retry_at else None))
        if retry_at is None:
            db.execute("DELETE FROM pending WHERE subscription=? AND event=?",
                       (sub_id, event["id"]))
        else:
            self.queue(sub_id, event["id"], attempt + 1, retry_at)

    def deliveries(self, sub_id: str, limit: int = 100) -> list[dict]:
        rows = self.connect().execute(
            "SELECT * FROM deliveries WHERE subscription=? ORDER BY id DESC LIMIT ?",
            (sub_id, limit)).fetchall()
        return [{k: r[k] for k in ("id", "event", "type", "attempt", "time", "status",
                                   "outcome", "error", "duration_ms", "next_attempt")}
                for r in rows]
