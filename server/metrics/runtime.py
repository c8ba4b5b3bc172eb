"""MetricsRuntime: registration, ingest (validate, store, alarms, publish) and reads.

One per server process (``Services.metrics``); the demo simulator and the MQTT subscriber
call ``ingest`` in-process, sensors POST to /api/metrics. Every read takes the caller's
classification levels: what a level may not see is absent (and answers 404 by id).
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from server.metrics.alarms import (
    DEFAULT_THRESHOLDS,
    Rule,
    level_of,
    parse_rule,
    thresholds_from_config,
)
from server.metrics.bus import MetricsBus, open_bus
from server.metrics.errors import MetricError, MetricNotFound, StreamsFull
from server.metrics.fanout import Gap, StreamFilter
from server.metrics.model import CLASSIFICATIONS, Datastream, parse_sensor
from server.metrics.observation import BatchParser, Observation, format_time, parse_time
from server.metrics.registry import Registry
from server.metrics.store import MetricStore, open_store

COMPACT_EVERY_MS = 3600 * 1000
#: Streams per process under a threaded WSGI server (each holds a thread; waitress has 48).
THREADED_MAX_STREAMS = 24
DAY_MS = 86400 * 1000


def _now_ms() -> int:
    return int(time.time() * 1000)


class MetricsRuntime:
    """The store, the bus and the registry working together."""

    def __init__(self, store: MetricStore, bus: MetricsBus, *,
                 thresholds: dict[str, dict[str, float]] | None = None,
                 retention_days: int = 90, clock: Callable[[], int] = _now_ms,
                 max_streams: int = 5000, stream_flush_s: float = 0.2):
        self.store, self.bus = store, bus
        self.thresholds = thresholds if thresholds is not None else dict(DEFAULT_THRESHOLDS)
        self.retention_days = retention_days
        self.max_streams = max_streams
        self.stream_flush_s = stream_flush_s
        self.streams_open = 0
        #: feature dict -> classification of the dataset holding it (set by Services)
        self.container_level: Callable[[dict], str | None] | None = None
        self._clock = clock
        self._last_compact = clock()
        self._lock = threading.Lock()
        self.registry = Registry(store)
        #: Called with (event, alarm, classification) when an alarm is raised, cleared or
        #: acknowledged (server.services hands them to server.events).
        self.alarm_listeners: list[Callable[[str, dict[str, Any], str], None]] = []
        self.parser = BatchParser(self.registry.find, self.registry.find_series,
                                  self.registry.refresh_if_old)

    # -- registration -----------------------------------------------------------------
    def register(self, items: list[Any], *, default_classification: str | None = None,
                 default_rules: bool = False) -> dict[str, int]:
        """Validate every sensor (with datastreams and optional rules) first, then store
        them all. Datastream items may carry ``rules``: they replace that stream's rules.
        ``default_rules`` adds rules from the metric's built-in thresholds to streams
        that have none (the demo)."""
        parsed, rules = [], []
        for i, item in enumerate(items):
            where = "" if len(items) == 1 else f"sensor {i}: "
            item = self._inherit(item, default_classification)
            sensor, streams = parse_sensor(item, where, default_classification)
            parsed.append((sensor, streams))
            raw_streams = item.get("datastreams") if isinstance(item.get("datastreams"), list) else []
            for ds, raw in zip(streams, raw_streams):
                if isinstance(raw, dict) and "rules" in raw:
                    if not isinstance(raw["rules"], list):
                        raise MetricError(f"{where}'rules' must be a list", field="rules")
                    rules.append((ds, [parse_rule({**r, "datastream": ds.id})
                                       for r in raw["rules"]]))
        self.store.put_sensors(parsed)
        for ds, ds_rules in rules:
            for old in self.store.rules(ds.id):
                self.store.delete_rule(old.id)
            for rule in ds_rules:
                self.store.add_rule(rule)
        if default_rules:
            self._default_rules([d for _, streams in parsed for d in streams])
        self.registry.reload()
        return {"sensors": len(parsed), "datastreams": sum(len(s) for _, s in parsed),
                "rules": sum(len(r) for _, r in rules)}

    def _inherit(self, item: Any, default: str | None) -> Any:
        """A sensor attached to a feature of a dataset is at least as classified as that
        dataset: with no classification it takes the dataset's, and a looser one given
        explicitly is raised to it (a public sensor must not reveal a restricted site)."""
        if not isinstance(item, dict) or self.container_level is None:
            return item
        level = self.container_level(item.get("feature") or {})
        if level not in CLASSIFICATIONS:
            return item
        given = item.get("classification") or default
        if given in CLASSIFICATIONS and CLASSIFICATIONS.index(given) >= \
                CLASSIFICATIONS.index(level):
            return item
        return {**item, "classification": level}

    def _default_rules(self, streams: list[Datastream]) -> None:
        for ds in streams:
            levels = ds.thresholds or self.thresholds.get(ds.metric) or {}
            if not levels or self.store.rules(ds.id):
                continue
            for level, threshold in levels.items():
                self.store.add_rule(Rule(None, ds.id, "above", threshold,
                                         round(threshold * 0.05, 3), 0.0, level))

    def datastream(self, datastream_id: str, levels: set[str]) -> Datastream:
        found = self.registry.find(datastream_id)
        if found is None or found.classification not in levels:
            raise MetricNotFound(f"no datastream {datastream_id!r}", field="datastream")
        return found

    def series(self, sensor_id: str, metric: str, levels: set[str]) -> Datastream:
        found = self.registry.find_series(sensor_id, metric)
        if found is None or found.classification not in levels:
            raise MetricNotFound(f"no datastream for sensor {sensor_id!r} and metric "
                                 f"{metric!r}", field="sensor")
        return found

    def sensors(self, levels: set[str]) -> list[dict[str, Any]]:
        """Visible sensors with their visible datastreams and latest readings."""
        self.registry.reload()
        latest = {o["datastream"]: o for o in self.latest(levels)}
        out: dict[str, dict[str, Any]] = {}
        for sensor in self.registry.sensors.values():
            if sensor.classification in levels:
                out[sensor.id] = {**sensor.to_dict(), "datastreams": []}
        for ds in self.registry.streams.values():
            if ds.sensor_id in out and ds.classification in levels:
                thresholds = ds.thresholds or self.thresholds.get(ds.metric) or {}
                out[ds.sensor_id]["datastreams"].append({**ds.to_dict(), "thresholds": thresholds,
                                                         "latest": latest.get(ds.id)})
        return [out[k] for k in sorted(out)]

    # -- ingest -----------------------------------------------------------------------
    def oldest_ms(self) -> int:
        return self._clock() - self.retention_days * DAY_MS

    def ingest(self, body: Any) -> dict[str, int]:
        """Validate a batch (all or nothing), store it, publish what is new."""
        return self.ingest_observations(self.parser.parse(body, self._clock(), self.oldest_ms()))

    def ingest_observations(self, observations: list[Observation]) -> dict[str, int]:
        """Store validated observations; returns {received, stored, duplicates}."""
        self.bus.check_ready()  # refused before storing: nothing acknowledged goes unsent
        with self._lock:  # store order == publish order within this process
            result = self.store.write(observations)
            self._publish(result)
        self._maybe_compact()
        return {"received": len(observations), "stored": len(result.new),
                "duplicates": result.duplicates}

    def _publish(self, result: Any) -> None:
        find, attrs, head = self.registry.streams.get, self.registry.attrs, self.registry.json_head
        out, times = [], {}
        for obs in sorted(result.new, key=lambda o: o.time_ms):
            ds = find(obs.datastream)
            out.append(("observation", self._observation_json(obs, ds, head(ds), times),
                        attrs(ds)))
        for change in result.alarm_events:
            alarm = self.store.alarms(set(CLASSIFICATIONS), open_only=False,
                                      alarm_id=change["alarm_id"])
            ds = find(alarm[0]["datastream"]) if alarm else None
            if ds is not None:
                out.append(("alarm", _json({**alarm[0], "event": change["event"]}), attrs(ds)))
                self._notify(change["event"], alarm[0], ds.classification)
        if out:
            self.bus.publish(out)

    def _notify(self, event: str, alarm: dict[str, Any], classification: str) -> None:
        for listener in self.alarm_listeners:
            listener(event, alarm, classification)

    def _observation_json(self, obs: Observation, ds: Datastream, head: str,
                          times: dict[int, str]) -> str:
        """``observation_dict`` as JSON text, built from cached parts (the ingest hot path)."""
        level = level_of(obs.value, ds.thresholds or self.thresholds.get(ds.metric))
        t = times.get(obs.time_ms) or times.setdefault(obs.time_ms, format_time(obs.time_ms))
        r = t if obs.result_ms == obs.time_ms else format_time(obs.result_ms)
        lvl = "null" if level is None else f'"{level}"'
        return (f'{head},"value":{obs.value!r},"time":"{t}","result_time":"{r}",'
                f'"quality":"{obs.quality}","level":{lvl},"alarm":{str(level == "alarm").lower()}}}')

    def observation_dict(self, obs: Observation, ds: Datastream) -> dict[str, Any]:
        """The JSON shape of a reading in the API and the stream."""
        level = level_of(obs.value, ds.thresholds or self.thresholds.get(ds.metric))
        return {"datastream": ds.id, "sensor_id": ds.sensor_id, "metric": ds.metric,
                "value": obs.value, "unit": ds.unit, "time": format_time(obs.time_ms),
                "result_time": format_time(obs.result_ms), "quality": obs.quality,
                "level": level, "alarm": level == "alarm"}

    def _maybe_compact(self) -> None:
        now = self._clock()
        if now - self._last_compact >= COMPACT_EVERY_MS:
            self._last_compact = now
            self.compact()

    def compact(self) -> int:
        """Fold raw readings older than retention_days into hourly aggregates."""
        return self.store.compact(self.oldest_ms())

    # -- reads ------------------------------------------------------------------------
    def latest(self, levels: set[str] | None = None,
               sensor_id: str | None = None) -> list[dict[str, Any]]:
        """Newest reading of every visible datastream (optionally one sensor's); in-process
        callers (demo, CLI) may omit ``levels`` to see every level."""
        levels = set(CLASSIFICATIONS) if levels is None else levels
        out = []
        for row in self.store.latest(levels):
            ds = self.registry.find(row["datastream"])
            if ds is None or (sensor_id is not None and ds.sensor_id != sensor_id):
                continue
            obs = Observation(ds.id, row["time_ms"], row["value"], row["result_ms"],
                              row["quality"])
            out.append(self.observation_dict(obs, ds))
        return out

    def time_range(self, start: str | None, end: str | None) -> tuple[int, int]:
        """ISO 8601 from/to (default: the last 24 hours)."""
        end_ms = parse_time(end, "", "to") if end else self._clock()
        start_ms = parse_time(start, "", "from") if start else end_ms - DAY_MS
        return start_ms, end_ms

    def history(self, ds: Datastream, start: str | None = None, end: str | None = None,
                bucket: int | None = None) -> dict[str, Any]:
        """A series for charts (the caller checked that ``ds`` is visible)."""
        start_ms, end_ms = self.time_range(start, end)
        return {"datastream": ds.id, "sensor_id": ds.sensor_id, "metric": ds.metric,
                "unit": ds.unit, "from": format_time(start_ms), "to": format_time(end_ms),
                "bucket": bucket, "thresholds": ds.thresholds or self.thresholds.get(ds.metric),
                "observations": self.store.history(ds.id, start_ms, end_ms, bucket)}

    def export_csv(self, streams: list[Datastream], start: str | None,
                   end: str | None) -> Iterator[str]:
        """CSV lines (header first) of the raw readings of visible datastreams."""
        start_ms, end_ms = self.time_range(start, end)
        by_id = {d.id: d for d in streams}
        yield "datastream,sensor_id,metric,unit,time,result_time,value,quality\r\n"
        for ds_id, t, value, result_ms, quality in self.store.export_rows(
                list(by_id), start_ms, end_ms):
            d = by_id[ds_id]
            yield (f"{_csv(d.id)},{_csv(d.sensor_id)},{d.metric},{_csv(d.unit)},"
                   f"{format_time(t)},{format_time(result_ms)},{value!r},{quality}\r\n")

    # -- alarms -----------------------------------------------------------------------
    def add_rule(self, body: Any, levels: set[str]) -> Rule:
        rule = parse_rule(body)
        self.datastream(rule.datastream, levels)
        return self.store.add_rule(rule)

    def alarm(self, alarm_id: int, levels: set[str]) -> dict[str, Any]:
        found = self.store.alarms(levels, open_only=False, alarm_id=alarm_id)
        if not found:
            raise MetricNotFound(f"no alarm {alarm_id}", field="id")
        return found[0]

    def acknowledge(self, alarm_id: int, levels: set[str], by: str, note: str
                    ) -> tuple[bool, dict[str, Any]]:
        """(done, alarm): done is False when it was acknowledged before (kept as it was)."""
        self.alarm(alarm_id, levels)
        done = self.store.acknowledge(alarm_id, by, note, self._clock())
        alarm = self.alarm(alarm_id, levels)
        if done:
            ds = self.registry.find(alarm["datastream"])
            self.bus.publish([("alarm", _json({**alarm, "event": "acknowledged"}),
                               self.registry.attrs(ds))])
            self._notify("acknowledged", alarm, ds.classification)
        return done, alarm

    # -- stream -----------------------------------------------------------------------
    def open_stream(self, flt: StreamFilter, last_id: int | None,
                    limit: int | None = None) -> Stream:
        """A stream; StreamsFull (503) beyond ``limit`` (default metrics.max_streams)."""
        limit = self.max_streams if limit is None else min(limit, self.max_streams)
        if self.streams_open >= limit:
            raise StreamsFull(f"{limit} live streams are open on this worker, its maximum "
                              "(metrics.max_streams; a threaded server such as 'cimtwin serve' "
                              f"allows {THREADED_MAX_STREAMS}: see README 'Live metrics at "
                              "scale'); retry later")
        return Stream(self, flt, last_id)

    def close(self) -> None:
        self.bus.close()
        self.store.close()


def _json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _csv(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\r\n') else text


class Stream:
    """One SSE client: a cursor into the bus buffer and a filter."""

    def __init__(self, runtime: MetricsRuntime, flt: StreamFilter, last_id: int | None):
        self.runtime, self.filter = runtime, flt
        self.buffer = runtime.bus.buffer
        self.cursor = self.buffer.head if last_id is None else last_id
        runtime.streams_open += 1
        self._open = True
        self._last_read = 0.0

    def next_text(self, timeout: float) -> bytes:
        """SSE text of what arrived since the cursor (waits up to ``timeout``): events,
        a ``reset`` event when they cannot all be given, or "" when nothing came.
        Reads at most once per ``flush_s``: a client gets one write with several batches
        instead of one per batch (a thousand viewers cost a fraction of the writes)."""
        self.buffer.wait(self.cursor, timeout)
        gap = self.runtime.stream_flush_s - (time.monotonic() - self._last_read)
        if gap > 0 and self.buffer.head > self.cursor:
            time.sleep(gap)
        self._last_read = time.monotonic()
        try:
            self.cursor, text = self.buffer.read(self.cursor, self.filter)
        except Gap as gap:
            self.cursor = self.buffer.head
            return reset_text(self.cursor, str(gap)).encode()
        return text

    @property
    def closed(self) -> bool:
        return self.buffer.closed

    def close(self) -> None:
        if self._open:
            self._open = False
            self.runtime.streams_open -= 1


def reset_text(seq: int, reason: str) -> str:
    data = json.dumps({"reason": reason + "; reload the latest values and alarms",
                       "last_id": seq}, ensure_ascii=False)
    return f"id: {seq}\nevent: reset\ndata: {data}\n\n"


def open_metrics(config: Any, data_dir: Path) -> MetricsRuntime:
    """The runtime for a loaded config (section [metrics]; defaults in config/default.toml)."""
    section = config["metrics"]
    store = open_store(section["store_url"], Path(data_dir))
    bus = open_bus(section["bus_url"], int(section["replay_events"]))
    return MetricsRuntime(store, bus, thresholds=thresholds_from_config(section.get("alarms")),
                          retention_days=int(section["retention_days"]),
                          max_streams=int(section["max_streams"]),
                          stream_flush_s=float(section["stream_flush_ms"]) / 1000)
