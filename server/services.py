"""The long-lived parts one server (or one CLI run) works with, made once.

``open_services(config)`` builds them; parts that need optional packages or a
backend (layers, metrics) are opened on first use, so a CLI command that only
lists tilesets never touches a database.
"""
from __future__ import annotations

import threading
from functools import cached_property
from pathlib import Path

from layers import open_layer_store
from server.catalog import Catalog
from server.config import Config
from server.metrics import open_metrics
from tiles.store import FileTileStore


class Services:
    """Config, tile store, catalog, layer store and metrics runtime of one data dir."""

    def __init__(self, config: Config):
        self.config = config
        self.data_dir: Path = config.data_dir
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    @cached_property
    def store(self):
        return FileTileStore(self.data_dir / "tiles")

    @cached_property
    def catalog(self) -> Catalog:
        return Catalog(self.data_dir / "catalog.sqlite")

    @cached_property
    def layers(self):
        with self._lock:
            return open_layer_store(self.config["layers"]["url"], self.data_dir)

    @cached_property
    def metrics(self):
        with self._lock:
            runtime = open_metrics(self.config, self.data_dir)
        runtime.container_level = self.container_level
        runtime.alarm_listeners.append(self._alarm_event)
        return runtime

    def container_level(self, feature: dict) -> str | None:
        """The classification of the dataset a sensor's feature lives in (``layer``
        names a GIS layer or a tileset), or None when it names none that exists."""
        container = feature.get("layer") if isinstance(feature, dict) else None
        if not container:
            return None
        entry = self.catalog.get(container)
        if entry is not None:
            return entry.get("classification")
        try:
            return self.layers.get_layer(container).classification
        except Exception:  # noqa: BLE001 - an unknown layer: nothing to inherit
            return None

    def _alarm_event(self, event: str, alarm: dict, classification: str) -> None:
        """alarm.raised / alarm.cleared / alarm.acknowledged (server.events)."""
        self.events.emit(f"alarm.{event}", alarm, classification)

    @cached_property
    def security(self):
        """Roles, users, sessions, shares and the audit log (server.security)."""
        from server.security import Security
        with self._lock:
            return Security(self)

    @cached_property
    def events(self):
        """Platform events and their delivery (server.events, server.webhooks)."""
        from server.webhooks import EventHub
        with self._lock:
            return EventHub(self)

    def close(self) -> None:
        """Stop background parts (event dispatch, metrics bus threads, connections)."""
        for name in ("events", "metrics", "layers"):
            part = self.__dict__.get(name)
            if part is not None and hasattr(part, "close"):
                part.close()


def open_services(config: Config) -> Services:
    return Services(config)


def current_services() -> Services:
    """The Services of the app handling the current request."""
    from flask import current_app  # deferred: CLI commands open Services without Flask
    return current_app.extensions["cimtwin"]
