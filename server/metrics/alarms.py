"""Alarm thresholds per metric, and the alarm state of every (sensor, metric).

Config ``[metrics.alarms]`` sets thresholds: ``pm25 = 115`` (one alarm level) or
``pm25 = { warning = 75, alarm = 115 }``; a metric missing from config uses
:data:`DEFAULT_THRESHOLDS`. Values at or above a level reach it. An "alarm" event is
published when a series changes level (raised, escalated or cleared), not on every reading.
"""
from __future__ import annotations

import threading
from typing import Any

from server.metrics.errors import MetricError

# China's ambient air quality standard GB 3095-2012 (24 h, grade II: PM2.5 75, PM10 150,
# NO2 80 µg/m³) for warnings; alarm levels at the "heavy pollution" AQI band
# (PM2.5 150, PM10 350). Noise: GB 3096-2008 class 4a daytime limit 70 dB(A).
# Construction dust: Jinan/Shandong site limit 0.5 mg/m³ TSP (as µg/m³: 500).
DEFAULT_THRESHOLDS: dict[str, dict[str, float]] = {
    "pm25": {"warning": 75, "alarm": 150},
    "pm10": {"warning": 150, "alarm": 350},
    "no2": {"warning": 80, "alarm": 180},
    "noise_db": {"warning": 70, "alarm": 85},
    "dust": {"warning": 500, "alarm": 800},
}
LEVELS = ("warning", "alarm")  # lowest first


def thresholds_from_config(section: dict[str, Any] | None) -> dict[str, dict[str, float]]:
    """Merge ``[metrics.alarms]`` over the defaults, validating each entry."""
    result = {metric: dict(levels) for metric, levels in DEFAULT_THRESHOLDS.items()}
    for metric, value in (section or {}).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            result[metric] = {"alarm": float(value)}
        elif isinstance(value, dict) and value and all(
                k in LEVELS and isinstance(v, (int, float)) and not isinstance(v, bool)
                for k, v in value.items()):
            result[metric] = {k: float(v) for k, v in value.items()}
        else:
            raise MetricError(f"config metrics.alarms.{metric} = {value!r}: use a number "
                              "(alarm level) or {{ warning = <n>, alarm = <n> }}")
    return result


def level_of(value: float, levels: dict[str, float] | None) -> str | None:
    """The highest level ``value`` reaches, or None."""
    reached = None
    for name in LEVELS:
        if levels and name in levels and value >= levels[name]:
            reached = name
    return reached


class AlarmBoard:
    """Current level per (sensor, metric); reports changes."""

    def __init__(self, thresholds: dict[str, dict[str, float]]):
        self.thresholds = thresholds
        self._state: dict[tuple[str, str], str] = {}
        self._seen: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def level(self, metric: str, value: float) -> str | None:
        return level_of(value, self.thresholds.get(metric))

    def update(self, sensor_id: str, metric: str, level: str | None,
               time_ms: int) -> tuple[str | None, str | None] | None:
        """Record the level of a reading; return (previous, new) if it changed, else None.

        A reading older than one already seen (a late upload) does not change the state.
        """
        key = (sensor_id, metric)
        with self._lock:
            if time_ms < self._seen.get(key, time_ms):
                return None
            self._seen[key] = time_ms
            previous = self._state.get(key)
            if previous == level:
                return None
            if level is None:
                self._state.pop(key, None)
            else:
                self._state[key] = level
        return previous, level

    def active(self) -> list[dict[str, str]]:
        with self._lock:
            return [{"sensor_id": s, "metric": m, "level": lv}
                    for (s, m), lv in sorted(self._state.items())]
