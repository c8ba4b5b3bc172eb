"""Bulk sensor registration files: CSV sheets and GeoJSON, into registration dicts.

CSV columns (UTF-8, header row): ``id`` (or ``sensor_id``), ``name``, ``kind``, ``lon``,
``lat``, ``height``, ``classification``, ``metrics`` ("pm25,pm10"), ``sampling_s``, and
the attached feature as ``feature_type``+``feature_id`` (+ ``feature_layer``) or one of
``facility_id``, ``building_id``, ``bim_globalid``, ``project_id``. GeoJSON: Point
features (CRS84) with the same properties. Coordinates must be longitude/latitude degrees.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from server.metrics.errors import MetricError

_FEATURE_KEYS = {"facility_id": "facility", "building_id": "building",
                 "bim_globalid": "bim", "globalid": "bim", "project_id": "project"}


def sensor_from_properties(props: dict[str, Any], lon: Any = None, lat: Any = None,
                           height: Any = None) -> dict[str, Any]:
    """A registration dict from flat properties (a CSV row or GeoJSON properties)."""
    item: dict[str, Any] = {k: props[k] for k in ("name", "kind", "classification")
                            if props.get(k) not in (None, "")}
    item["id"] = props.get("id") or props.get("sensor_id")
    item["location"] = {"lon": props.get("lon", lon), "lat": props.get("lat", lat),
                        "height": props.get("height", height)}
    feature = None
    if props.get("feature_id"):
        feature = {"type": props.get("feature_type"), "id": props["feature_id"],
                   "layer": props.get("feature_layer")}
    else:
        for key, kind in _FEATURE_KEYS.items():
            if props.get(key):
                feature = {"type": kind, "id": props[key], "layer": props.get("feature_layer")}
                break
    if feature:
        item["feature"] = feature
    metrics = props.get("metrics") or ""
    sampling = props.get("sampling_s")
    item["datastreams"] = [{"metric": m.strip(), "sampling_s": sampling or None}
                           for m in str(metrics).split(",") if m.strip()]
    return item


def sensors_from_geojson(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or body.get("type") != "FeatureCollection":
        raise MetricError("a GeoJSON sensor file must be a FeatureCollection", field="type")
    out = []
    for i, feature in enumerate(body.get("features") or []):
        geometry = (feature or {}).get("geometry") or {}
        coords = geometry.get("coordinates") if geometry.get("type") == "Point" else None
        if geometry and coords is None:
            raise MetricError(f"feature {i}: sensors must be Points (got "
                              f"{geometry.get('type')!r})", field="geometry", index=i)
        coords = list(coords or []) + [None, None, None]
        props = dict(feature.get("properties") or {})
        props.setdefault("id", feature.get("id"))
        out.append(sensor_from_properties(props, coords[0], coords[1], coords[2]))
    return out


def read_sensor_file(path: Path) -> list[dict[str, Any]]:
    """Registration dicts from a .csv, .geojson/.json file."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise MetricError(f"cannot read {path}: {exc} (UTF-8 expected)", field="file") from None
    if suffix == ".csv":
        rows = list(csv.DictReader(text.splitlines()))
        return [sensor_from_properties({k.strip(): (v or "").strip() for k, v in row.items() if k})
                for row in rows]
    if suffix in (".geojson", ".json"):
        try:
            body = json.loads(text)
        except json.JSONDecodeError as exc:
            raise MetricError(f"{path} is not valid JSON: {exc}", field="file") from None
        if isinstance(body, dict) and body.get("type") == "FeatureCollection":
            return sensors_from_geojson(body)
        return body if isinstance(body, list) else [body]
    raise MetricError(f"{path.name}: use a .csv, .geojson or .json sensor file", field="file")
