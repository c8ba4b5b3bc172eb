"""The security parts of one data dir, opened together: roles, users, sessions, shares,
apps, audit. ``Services.security`` holds one; the CLI and the HTTP layer use the same."""
from __future__ import annotations

from functools import cached_property

from server.accounts_db import AccountsDB
from server.audit import AuditLog
from server.roles import load_roles
from server.sessions import SessionStore
from server.shares import ShareStore, secret_key
from server.users import UserStore


class Security:
    def __init__(self, services):
        self.config = services.config
        self.data_dir = services.data_dir
        self.roles = load_roles(services.config)

    @cached_property
    def db(self) -> AccountsDB:
        return AccountsDB(self.data_dir / "users.sqlite")

    @cached_property
    def users(self) -> UserStore:
        return UserStore(self.db)

    @cached_property
    def sessions(self) -> SessionStore:
        return SessionStore(self.db, self.config["auth"]["session_hours"])

    @cached_property
    def shares(self) -> ShareStore:
        return ShareStore(self.db, secret_key(self.data_dir))

    @cached_property
    def apps(self):
        """Registered applications and their access tokens (server.apps)."""
        from server.apps import AppStore
        return AppStore(self.db)

    @cached_property
    def audit(self) -> AuditLog:
        return AuditLog(self.data_dir / "audit.sqlite")
