"""The registered sensors and datastreams of a store, cached for ingest and the stream.

Ingest validates every observation against this cache; a datastream it does not know
triggers one reload (at most once a second), so sensors registered through another
worker are found, and the whole cache is refreshed every ``ttl_s`` seconds.
"""
from __future__ import annotations

import json
import threading
import time
from typing import Any

from server.metrics.model import Datastream, Sensor


class Registry:
    def __init__(self, store: Any, ttl_s: float = 30.0, clock=time.monotonic):
        self.store, self.ttl_s, self._clock = store, ttl_s, clock
        self._lock = threading.Lock()
        self._loaded = -1e9
        self.sensors: dict[str, Sensor] = {}
        self.streams: dict[str, Datastream] = {}
        self._series: dict[tuple[str, str], Datastream] = {}
        self.reload()

    def reload(self) -> None:
        sensors, streams = self.store.sensors()
        with self._lock:
            self.sensors = {s.id: s for s in sensors}
            self.streams = {d.id: d for d in streams}
            self._series = {(d.sensor_id, d.metric): d for d in streams}
            self._attrs: dict[str, tuple] = {}
            self._heads: dict[str, str] = {}
            self._loaded = self._clock()

    def _fresh(self, missing: bool) -> None:
        age = self._clock() - self._loaded
        if age > self.ttl_s or (missing and age > 1.0):
            self.reload()

    def find(self, datastream_id: str) -> Datastream | None:
        found = self.streams.get(datastream_id)
        self._fresh(found is None)
        return found or self.streams.get(datastream_id)

    def find_series(self, sensor_id: str, metric: str) -> Datastream | None:
        found = self._series.get((sensor_id, metric))
        self._fresh(found is None)
        return found or self._series.get((sensor_id, metric))

    def attrs(self, stream: Datastream) -> tuple:
        """What the stream's filters look at for events of ``stream`` (fanout.Attrs)."""
        cached = self._attrs.get(stream.id)
        if cached is None:
            sensor = self.sensors.get(stream.sensor_id)
            cached = (stream.id, stream.metric, sensor.feature_id if sensor else None,
                      sensor.lon if sensor else None, sensor.lat if sensor else None,
                      stream.classification)
            self._attrs[stream.id] = cached
        return cached

    def json_head(self, stream: Datastream) -> str:
        """The constant start of the JSON of a reading of ``stream`` (no closing brace)."""
        cached = self._heads.get(stream.id)
        if cached is None:
            cached = json.dumps({"datastream": stream.id, "sensor_id": stream.sensor_id,
                                 "metric": stream.metric, "unit": stream.unit},
                                ensure_ascii=False, separators=(",", ":"))[:-1]
            self._heads[stream.id] = cached
        return cached
