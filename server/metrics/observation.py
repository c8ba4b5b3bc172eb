"""Observations: validation of what sensors post, and their one JSON shape.

An observation is ``{"sensor_id", "metric", "value", "unit"?, "time"?}``; a POST body
is one of them, a list, or ``{"observations": [...]}``. A batch is validated whole
before anything is stored, so a bad item rejects the batch (the error names the
item's index and field).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from server.metrics.errors import MetricError

#: Metrics the platform knows, with their default units.
KNOWN_METRICS = {
    "pm25": "µg/m³", "pm10": "µg/m³", "no2": "µg/m³", "so2": "µg/m³", "o3": "µg/m³",
    "co": "mg/m³", "aqi": "", "noise_db": "dB(A)", "dust": "µg/m³", "temperature": "°C",
    "humidity": "%", "wind_speed": "m/s", "traffic_flow": "veh/h", "power_kw": "kW",
    "water_level_m": "m", "people_count": "",
}
MAX_BATCH = 10000
#: Sensor clocks ahead by more than this are wrong; their readings are refused.
MAX_FUTURE = timedelta(minutes=10)
_METRIC = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


@dataclass(frozen=True)
class Observation:
    """One validated reading; ``time_ms`` is UTC milliseconds since the epoch."""

    sensor_id: str
    metric: str
    value: float
    unit: str
    time_ms: int

    def to_dict(self, level: str | None = None) -> dict[str, Any]:
        """The JSON shape of the API and the stream. ``level`` is the alarm level the
        value reaches ("warning", "alarm") or None; ``alarm`` is true at "alarm"."""
        return {"sensor_id": self.sensor_id, "metric": self.metric, "value": self.value,
                "unit": self.unit, "time": format_time(self.time_ms),
                "alarm": level == "alarm", "level": level}


def format_time(ms: int) -> str:
    """UTC ISO 8601 with milliseconds and 'Z'."""
    moment = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: Any, where: str, field: str = "time", index: int | None = None) -> int:
    """ISO 8601 with an offset -> UTC ms. A time without offset is refused: never guessed."""
    if not isinstance(text, str):
        raise MetricError(f"{where}'{field}' must be an ISO 8601 string", field=field, index=index)
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise MetricError(f"{where}'{field}' {text!r} is not ISO 8601 "
                          "(e.g. 2024-06-30T08:00:00+08:00)", field=field, index=index) from None
    if moment.tzinfo is None:
        raise MetricError(f"{where}'{field}' {text!r} has no UTC offset; add 'Z' or '+08:00' "
                          "(Beijing time)", field=field, index=index)
    return int(moment.timestamp() * 1000)


def parse_batch(body: Any, now_ms: int) -> list[Observation]:
    """Validate a POST body into observations (all or none)."""
    if isinstance(body, dict) and "observations" in body:
        body = body["observations"]
    items = body if isinstance(body, list) else [body]
    if not items:
        raise MetricError("no observations in the body", field="observations")
    if len(items) > MAX_BATCH:
        raise MetricError(f"{len(items)} observations in one request; send at most {MAX_BATCH}",
                          field="observations")
    single = not isinstance(body, list)
    return [_one(item, None if single else i, now_ms) for i, item in enumerate(items)]


def _one(item: Any, index: int | None, now_ms: int) -> Observation:
    where = "" if index is None else f"observation {index}: "
    if not isinstance(item, dict):
        raise MetricError(f"{where}must be a JSON object", index=index)
    sensor = item.get("sensor_id")
    if not isinstance(sensor, str) or not sensor.strip() or len(sensor) > 128:
        raise MetricError(f"{where}'sensor_id' must be a non-empty string (max 128 characters)",
                          field="sensor_id", index=index)
    metric = item.get("metric")
    if not isinstance(metric, str) or not _METRIC.match(metric):
        raise MetricError(f"{where}'metric' must be a lower-case name like pm25 or noise_db, "
                          f"got {metric!r}", field="metric", index=index)
    value = item.get("value")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise MetricError(f"{where}'value' must be a finite number, got {value!r}",
                          field="value", index=index)
    unit = item.get("unit", KNOWN_METRICS.get(metric, ""))
    if not isinstance(unit, str) or len(unit) > 32:
        raise MetricError(f"{where}'unit' must be a short string", field="unit", index=index)
    time_ms = now_ms if item.get("time") in (None, "") else parse_time(item["time"], where, index=index)
    if time_ms > now_ms + MAX_FUTURE.total_seconds() * 1000:
        raise MetricError(f"{where}'time' {item['time']} is in the future; check the sensor's "
                          "clock and time zone", field="time", index=index)
    return Observation(sensor.strip(), metric, float(value), unit, int(time_ms))
