"""The role table: which classification levels and actions each role has.

The table lives in config (``[auth.roles.<name>]`` with ``levels`` and ``actions``) and is
documented in docs/security.md. It is validated once, when the app or CLI starts: an
unknown role, level or action is a ConfigError naming the key.
"""
from __future__ import annotations

from dataclasses import dataclass

from server.config import CLASSIFICATIONS, Config, ConfigError

ROLES = ("viewer", "planner", "official", "operator", "data-admin", "auditor", "admin")
#: Every action an endpoint or command may require (docs/security.md says what each means).
#: Reading is not an action: a role reads the datasets at its ``levels``.
ACTIONS = (
    "write",       # edit features and projects (OGC API Features Part 4, legacy admin writes)
    "import",      # import any kind of data (mesh, photo, point cloud, layer, BIM)
    "import-bim",  # import BIM models only
    "jobs",        # follow import jobs
    "delete",      # delete datasets
    "classify",    # change a dataset's classification
    "share",       # create and revoke share links
    "ingest",      # post live metrics
    "acknowledge",  # acknowledge alarms
    "audit",       # read the audit log
    "users",       # manage accounts and other users' tokens
    "metrics",     # read the Prometheus metrics (GET /metrics)
)


@dataclass(frozen=True)
class Role:
    name: str
    levels: frozenset[str]
    actions: frozenset[str]


def load_roles(config: Config) -> dict[str, Role]:
    """The validated role table from ``config['auth']['roles']``."""
    table = config["auth"].get("roles") or {}
    roles: dict[str, Role] = {}
    for name, spec in table.items():
        key = f"auth.roles.{name}"
        if name not in ROLES:
            raise ConfigError(f"unknown role {key}; roles are: {', '.join(ROLES)}")
        if not isinstance(spec, dict) or set(spec) - {"levels", "actions"}:
            raise ConfigError(f"{key} must be a table with 'levels' and 'actions' lists")
        levels, actions = spec.get("levels", []), spec.get("actions", [])
        bad = [v for v in levels if v not in CLASSIFICATIONS]
        if not isinstance(levels, list) or bad:
            raise ConfigError(f"{key}.levels: {bad or levels!r} not allowed; "
                              f"use: {', '.join(CLASSIFICATIONS)}")
        bad = [a for a in actions if a not in ACTIONS]
        if not isinstance(actions, list) or bad:
            raise ConfigError(f"{key}.actions: {bad or actions!r} not allowed; "
                              f"use: {', '.join(ACTIONS)}")
        roles[name] = Role(name, frozenset(levels), frozenset(actions))
    missing = [r for r in ROLES if r not in roles]
    if missing:
        raise ConfigError(f"auth.roles lacks {', '.join(missing)} (see config/default.toml)")
    return roles
