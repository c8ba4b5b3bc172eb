"""The scopes an application (OAuth2 client credentials, server.apps) may be given.

A read scope lets an app call the routes that declare it (``@describe(scope=...)``); a
write scope gives the app the actions listed (server.roles.ACTIONS). An app's levels are
set apart (``--level``): a scope never widens what classification it may see.
"""
from __future__ import annotations

APP_SCOPES = {
    "read:tiles": "read tilesets, their tiles, BIM elements and planning checks",
    "read:layers": "read GIS layers (OGC API Features)",
    "write:layers": "create, edit and delete layer features (action write)",
    "read:metrics": "read sensors, live metrics and alarms",
    "write:metrics": "post live metrics (action ingest)",
    "acknowledge:alarms": "acknowledge alarms (action acknowledge)",
    "import": "upload data for import and follow import jobs (actions import, jobs)",
    "read:events": "subscribe to events (webhooks and the event stream)",
}
#: The actions each scope gives.
SCOPE_ACTIONS = {
    "write:layers": frozenset({"write"}),
    "write:metrics": frozenset({"ingest"}),
    "acknowledge:alarms": frozenset({"acknowledge"}),
    "import": frozenset({"import", "import-bim", "jobs"}),
}


def scope_actions(scopes) -> frozenset[str]:
    """The actions a set of scopes gives."""
    return frozenset().union(*(SCOPE_ACTIONS.get(s, frozenset()) for s in scopes))
