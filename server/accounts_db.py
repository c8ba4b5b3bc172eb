"""The accounts database (``<data_dir>/users.sqlite``): users, machine tokens, sessions,
shares, and registered applications with their access tokens: one SQLite file (WAL), so
a backup takes them in one consistent copy."""
from __future__ import annotations

import sqlite3
from pathlib import Path
from server.sqlite_local import ThreadLocalConnections

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY, role TEXT NOT NULL, password TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0, grants TEXT NOT NULL DEFAULT '[]',
    created TEXT NOT NULL, changed TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY, user TEXT NOT NULL, hash TEXT NOT NULL, scopes TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '', created TEXT NOT NULL, expires TEXT,
    revoked TEXT, last_used TEXT);
CREATE TABLE IF NOT EXISTS sessions (
    hash TEXT PRIMARY KEY, user TEXT NOT NULL, csrf TEXT NOT NULL,
    created TEXT NOT NULL, expires TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS shares (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, dataset TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '', created_by TEXT NOT NULL, created TEXT NOT NULL,
    expires TEXT NOT NULL, revoked TEXT);
CREATE TABLE IF NOT EXISTS apps (
    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, secret TEXT NOT NULL,
    scopes TEXT NOT NULL, level TEXT NOT NULL, origins TEXT NOT NULL DEFAULT '[]',
    created_by TEXT NOT NULL, created TEXT NOT NULL, revoked TEXT);
CREATE TABLE IF NOT EXISTS app_tokens (
    hash TEXT PRIMARY KEY, app TEXT NOT NULL, scopes TEXT NOT NULL,
    created TEXT NOT NULL, expires TEXT NOT NULL);
"""


class AccountsDB:
    """One thread-local connection per thread to the accounts file."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._connections = ThreadLocalConnections.with_schema(self.path, SCHEMA)

    def connect(self) -> sqlite3.Connection:
        return self._connections.connect()
