"""Alarm rules per datastream and the state machine that raises and clears alarms.

A rule: ``condition`` "above" (value > threshold) or "below" (value < threshold), held for
``for_s`` seconds of phenomenon time before it raises, cleared only once the value is back
past the threshold by ``hysteresis`` (so a value hovering at the threshold does not flap).
Readings older than the last one a rule evaluated (late uploads) do not change its state.
Display levels (``level_of``) come from a datastream's thresholds or the metric defaults.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from server.metrics.errors import MetricError
from server.metrics.observation import Observation

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
CONDITIONS = ("above", "below")


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
    """The highest display level ``value`` reaches, or None."""
    reached = None
    for name in LEVELS:
        if levels and name in levels and value >= levels[name]:
            reached = name
    return reached


@dataclass(frozen=True)
class Rule:
    id: int | None
    datastream: str
    condition: str
    threshold: float
    hysteresis: float = 0.0
    for_s: float = 0.0
    level: str = "alarm"
    name: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "datastream": self.datastream, "condition": self.condition,
                "threshold": self.threshold, "hysteresis": self.hysteresis,
                "for_s": self.for_s, "level": self.level, "name": self.name}

    def breached(self, value: float) -> bool:
        return value > self.threshold if self.condition == "above" else value < self.threshold

    def cleared(self, value: float) -> bool:
        if self.condition == "above":
            return value <= self.threshold - self.hysteresis
        return value >= self.threshold + self.hysteresis


def _finite(body: dict, key: str, default: float | None, lo: float = -1e12) -> float:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value < lo:
        raise MetricError(f"rule '{key}' must be a finite number >= {lo:g}, got {value!r}",
                          field=key)
    return float(value)


def parse_rule(body: Any) -> Rule:
    """Validate a rule from JSON (the datastream is checked by the caller)."""
    if not isinstance(body, dict):
        raise MetricError("a rule must be a JSON object")
    if not isinstance(body.get("datastream"), str):
        raise MetricError("rule 'datastream' (a datastream id) is required", field="datastream")
    if body.get("condition") not in CONDITIONS:
        raise MetricError("rule 'condition' must be 'above' or 'below'", field="condition")
    if body.get("level", "alarm") not in LEVELS:
        raise MetricError("rule 'level' must be 'warning' or 'alarm'", field="level")
    name = body.get("name", "")
    if not isinstance(name, str) or len(name) > 200:
        raise MetricError("rule 'name' must be a short string", field="name")
    return Rule(None, body["datastream"], body["condition"], _finite(body, "threshold", None),
                _finite(body, "hysteresis", 0.0, 0.0), _finite(body, "for_s", 0.0, 0.0),
                body.get("level", "alarm"), name)


@dataclass(frozen=True)
class RuleState:
    """Where a rule stands: breach pending since, the open active alarm, last reading."""

    pending_ms: int | None = None
    alarm_id: int | None = None
    last_ms: int | None = None


def evaluate(rule: Rule, state: RuleState, readings: Iterable[Observation]
             ) -> tuple[RuleState, list[tuple[str, Observation]]]:
    """Run ``readings`` (any order) through the rule. Actions: ("raise", obs) opens an
    alarm (the state's ``alarm_id`` becomes -1 until the store numbers it), ("clear", obs)
    closes the open one, ("touch", obs) updates its last value."""
    actions: list[tuple[str, Observation]] = []
    pending, alarm_id, last = state.pending_ms, state.alarm_id, state.last_ms
    for obs in sorted(readings, key=lambda o: o.time_ms):
        if last is not None and obs.time_ms <= last:
            continue  # late or repeated: history, not the present
        last = obs.time_ms
        if alarm_id is not None:
            if rule.cleared(obs.value):
                actions.append(("clear", obs))
                alarm_id = pending = None
            else:
                actions.append(("touch", obs))
        elif rule.breached(obs.value):
            pending = obs.time_ms if pending is None else pending
            if obs.time_ms - pending >= rule.for_s * 1000:
                actions.append(("raise", obs))
                alarm_id, pending = -1, None
        else:
            pending = None
    return RuleState(pending, alarm_id, last), actions
