"""MetricsRuntime: ingest (validate, store, publish, evaluate alarms) and reads.

One per server (``Services.metrics``); the demo simulator calls ``ingest`` in-process,
sensors POST to /api/metrics. Stream subscribers get "observation" and "alarm" events.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable

from server.metrics.alarms import AlarmBoard, thresholds_from_config
from server.metrics.bus import MetricsBus, Subscription, open_bus
from server.metrics.errors import MetricError
from server.metrics.observation import Observation, format_time, parse_batch, parse_time
from server.metrics.store import MetricStore, open_store

PRUNE_EVERY_MS = 3600 * 1000
DAY_MS = 86400 * 1000


def _now_ms() -> int:
    return int(time.time() * 1000)


class MetricsRuntime:
    """The store, the bus and the alarm board working together."""

    def __init__(self, store: MetricStore, bus: MetricsBus, board: AlarmBoard, *,
                 retention_days: int, max_streams: int, stream_queue: int,
                 clock: Callable[[], int] = _now_ms):
        self.store, self.bus, self.board = store, bus, board
        self.retention_days = retention_days
        self.max_streams = max_streams
        self.stream_queue = stream_queue
        self._clock = clock
        self._last_prune = clock()
        self._ingest_lock = threading.Lock()
        for obs in store.latest():  # alarms survive a restart
            board.update(obs.sensor_id, obs.metric, board.level(obs.metric, obs.value), obs.time_ms)

    def ingest(self, body: Any) -> int:
        """Validate and store a batch (all or nothing), then publish it; returns the count."""
        observations = parse_batch(body, self._clock())
        with self._ingest_lock:  # keeps store order == publish order across threads
            self.store.add(observations)
            for obs in sorted(observations, key=lambda o: o.time_ms):
                self._publish(obs)
        self._maybe_prune()
        return len(observations)

    def _publish(self, obs: Observation) -> None:
        level = self.board.level(obs.metric, obs.value)
        self.bus.publish("observation", obs.to_dict(level))
        change = self.board.update(obs.sensor_id, obs.metric, level, obs.time_ms)
        if change is not None:
            previous, new = change
            self.bus.publish("alarm", {**obs.to_dict(new), "previous": previous,
                                       "state": "cleared" if new is None else "raised",
                                       "threshold": self.board.thresholds.get(obs.metric)})

    def _maybe_prune(self) -> None:
        now = self._clock()
        if now - self._last_prune >= PRUNE_EVERY_MS:
            self._last_prune = now
            self.store.prune(now - self.retention_days * DAY_MS)

    def latest(self, sensor_id: str | None = None) -> list[dict[str, Any]]:
        """Newest reading of every (sensor, metric), with its alarm level."""
        return [obs.to_dict(self.board.level(obs.metric, obs.value))
                for obs in self.store.latest(sensor_id)]

    def history(self, sensor_id: str, metric: str, start: str | None = None,
                end: str | None = None, bucket: int | None = None) -> dict[str, Any]:
        """A series for charts: ``start``/``end`` ISO 8601 (default: the last 24 hours)."""
        end_ms = parse_time(end, "", "to") if end else self._clock()
        start_ms = parse_time(start, "", "from") if start else end_ms - DAY_MS
        points = self.store.history(sensor_id, metric, start_ms, end_ms, bucket)
        latest = self.store.latest(sensor_id)
        unit = next((o.unit for o in latest if o.metric == metric), "")
        return {"sensor_id": sensor_id, "metric": metric, "unit": unit,
                "from": format_time(start_ms), "to": format_time(end_ms), "bucket": bucket,
                "thresholds": self.board.thresholds.get(metric), "observations": points}

    def alarms(self) -> list[dict[str, str]]:
        """Series currently at warning or alarm level."""
        return self.board.active()

    def subscribe(self, sensor_id: str | None = None) -> Subscription:
        """A live subscription; MetricError (503) when max_streams clients are connected."""
        if self.bus.subscribers() >= self.max_streams:
            error = MetricError(f"{self.max_streams} live streams are open, the configured "
                                "maximum (metrics.max_streams); retry later")
            error.status = 503
            raise error
        return self.bus.subscribe(sensor_id, self.stream_queue)

    def close(self) -> None:
        self.bus.close()
        self.store.close()


def open_metrics(config: Any, data_dir: Path) -> MetricsRuntime:
    """The runtime for a loaded config (section [metrics]; defaults in config/default.toml)."""
    section = config["metrics"]
    store = open_store(section["store_url"], Path(data_dir))
    bus = open_bus(section["bus_url"])
    board = AlarmBoard(thresholds_from_config(section.get("alarms")))  # optional table
    return MetricsRuntime(store, bus, board, retention_days=int(section["retention_days"]),
                          max_streams=int(section["max_streams"]),
                          stream_queue=int(section["stream_queue"]))
