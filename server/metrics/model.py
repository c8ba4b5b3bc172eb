"""Sensors (SensorThings "Things" with their "Sensor") and their datastreams.

A sensor has an id, a name, a kind, a location (lon, lat, height in CRS84) and/or the
feature it is attached to (a facility, building, BIM element by GlobalId, or project,
optionally naming the layer or tileset holding it), and a classification. Each datastream
is one metric of one sensor with its unit, sampling interval and display thresholds; it
inherits the sensor's classification, so who may see a reading is decided once, here.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from layers.model import CLASSIFICATIONS  # defined once, in layers.model
from server.metrics.errors import MetricError

FEATURE_TYPES = ("facility", "building", "bim", "project")
#: Metrics the platform knows, with their default units.
KNOWN_METRICS = {
    "pm25": "µg/m³", "pm10": "µg/m³", "no2": "µg/m³", "so2": "µg/m³", "o3": "µg/m³",
    "co": "mg/m³", "aqi": "", "noise_db": "dB(A)", "dust": "µg/m³", "temperature": "°C",
    "humidity": "%", "wind_speed": "m/s", "traffic_flow": "veh/h", "power_kw": "kW",
    "water_level_m": "m", "people_count": "",
}
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$")
_METRIC = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


@dataclass(frozen=True)
class Sensor:
    id: str
    name: str
    kind: str
    classification: str
    lon: float | None = None
    lat: float | None = None
    height: float | None = None
    feature_type: str | None = None
    feature_id: str | None = None
    feature_layer: str | None = None

    def to_dict(self) -> dict[str, Any]:
        location = None if self.lon is None else {
            "lon": self.lon, "lat": self.lat, "height": self.height or 0.0}
        feature = None if self.feature_id is None else {
            "type": self.feature_type, "id": self.feature_id, "layer": self.feature_layer}
        return {"id": self.id, "name": self.name, "kind": self.kind, "location": location,
                "feature": feature, "classification": self.classification}


@dataclass(frozen=True)
class Datastream:
    id: str
    sensor_id: str
    metric: str
    unit: str
    classification: str
    sampling_s: float | None = None
    thresholds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "sensor_id": self.sensor_id, "metric": self.metric,
                "unit": self.unit, "sampling_s": self.sampling_s,
                "thresholds": dict(self.thresholds), "classification": self.classification}


def _text(item: dict, key: str, where: str, *, required: bool = False, limit: int = 200,
          default: str | None = None) -> str | None:
    value = item.get(key)
    if value is None or value == "":
        if required:
            raise MetricError(f"{where}'{key}' is required", field=key)
        return default
    if not isinstance(value, (str, int)) or isinstance(value, bool) or len(str(value)) > limit:
        raise MetricError(f"{where}'{key}' must be a string of at most {limit} characters",
                          field=key)
    return str(value).strip()


def _number(value: Any, where: str, key: str, lo: float, hi: float) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or not lo <= number <= hi:
        raise MetricError(f"{where}'{key}' must be a number from {lo} to {hi}, got {value!r}",
                          field=key)
    return number


def check_id(value: str, where: str, key: str) -> str:
    if not _ID.match(value):
        raise MetricError(f"{where}'{key}' {value!r} must be 1-128 letters, digits or _.:- "
                          "(starting with a letter or digit)", field=key)
    return value


def parse_sensor(item: Any, where: str = "", default_classification: str | None = None
                 ) -> tuple[Sensor, list[Datastream]]:
    """Validate one sensor registration (with its datastreams) from JSON, CSV or GeoJSON."""
    if not isinstance(item, dict):
        raise MetricError(f"{where}a sensor must be a JSON object")
    sensor_id = check_id(_text(item, "id", where, required=True, limit=128), where, "id")
    location = item.get("location") or {}
    if not isinstance(location, dict):
        raise MetricError(f"{where}'location' must be {{lon, lat, height?}}", field="location")
    lon = _number(location.get("lon", item.get("lon")), where, "lon", -180, 180)
    lat = _number(location.get("lat", item.get("lat")), where, "lat", -90, 90)
    height = _number(location.get("height", item.get("height")), where, "height", -1000, 10000)
    if (lon is None) != (lat is None):
        raise MetricError(f"{where}give both 'lon' and 'lat' (or neither)", field="lon")
    feature = item.get("feature") or {}
    if not isinstance(feature, dict):
        raise MetricError(f"{where}'feature' must be {{type, id, layer?}}", field="feature")
    ftype = _text(feature, "type", where) or None
    fid = _text(feature, "id", where, limit=128)
    if fid is not None and ftype not in FEATURE_TYPES:
        raise MetricError(f"{where}'feature.type' must be one of {', '.join(FEATURE_TYPES)}",
                          field="feature.type")
    classification = _text(item, "classification", where) or default_classification
    if classification not in CLASSIFICATIONS:
        raise MetricError(f"{where}'classification' must be one of {', '.join(CLASSIFICATIONS)}"
                          f", got {classification!r}", field="classification")
    sensor = Sensor(sensor_id, _text(item, "name", where, default=sensor_id),
                    _text(item, "kind", where, limit=64, default="sensor"), classification,
                    lon, lat, height, ftype if fid else None, fid,
                    _text(feature, "layer", where, limit=128) if fid else None)
    streams = item.get("datastreams", [])
    if isinstance(item.get("metrics"), str):
        streams = list(streams) + [{"metric": m.strip()} for m in item["metrics"].split(",")
                                   if m.strip()]
    if not isinstance(streams, list):
        raise MetricError(f"{where}'datastreams' must be a list", field="datastreams")
    return sensor, [parse_datastream(s, sensor, f"{where}datastream {i}: ")
                    for i, s in enumerate(streams)]


def parse_datastream(item: Any, sensor: Sensor, where: str) -> Datastream:
    """One datastream of ``sensor``; its id defaults to ``<sensor id>:<metric>``."""
    if not isinstance(item, dict):
        raise MetricError(f"{where}must be a JSON object", field="datastreams")
    metric = item.get("metric")
    if not isinstance(metric, str) or not _METRIC.match(metric):
        raise MetricError(f"{where}'metric' must be a lower-case name like pm25 or noise_db, "
                          f"got {metric!r}", field="metric")
    ds_id = check_id(_text(item, "id", where, limit=128) or f"{sensor.id}:{metric}", where, "id")
    unit = _text(item, "unit", where, limit=32, default=KNOWN_METRICS.get(metric, ""))
    thresholds = item.get("thresholds") or {}
    if not isinstance(thresholds, dict) or not set(thresholds) <= {"warning", "alarm"}:
        raise MetricError(f"{where}'thresholds' must be {{warning?, alarm?}}", field="thresholds")
    levels = {k: _number(v, where, f"thresholds.{k}", -1e12, 1e12) for k, v in thresholds.items()}
    return Datastream(ds_id, sensor.id, metric, unit, sensor.classification,
                      _number(item.get("sampling_s"), where, "sampling_s", 0.001, 86400 * 365),
                      {k: v for k, v in levels.items() if v is not None})
