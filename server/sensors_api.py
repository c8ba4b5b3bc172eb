"""Sensors over HTTP: registration (admin token) and the visible sensors as GeoJSON.

POST /api/sensors: one sensor, a list, {"sensors": [...]}, or a GeoJSON FeatureCollection
(see server.metrics.sensor_files). GET /api/sensors: a FeatureCollection of the sensors the
caller may see, each with its datastreams and latest readings (``latest``: metric -> reading).
"""
from __future__ import annotations

from flask import Blueprint, Response, json, jsonify, request

from server.auth import allowed_levels, require
from server.metrics.errors import MetricError, MetricNotFound
from server.metrics.sensor_files import sensors_from_geojson
from server.services import current_services
from server.api_schemas import ANY_JSON, FEATURES, OBJECT
from server.openapi import describe

bp = Blueprint("sensors_api", __name__)


@bp.post("/api/sensors")
@require("import")
@describe("Register sensors with their datastreams (and rules)", tag="sensors", status=201,
          body=ANY_JSON, response=OBJECT)
def register():
    body = request.get_json(silent=True)
    if body is None:
        raise MetricError("the body must be JSON: a sensor, a list, {\"sensors\": [...]} "
                          "or a GeoJSON FeatureCollection", field="body")
    if isinstance(body, dict) and body.get("type") == "FeatureCollection":
        items = sensors_from_geojson(body)
    elif isinstance(body, dict) and isinstance(body.get("sensors"), list):
        items = body["sensors"]
    else:
        items = body if isinstance(body, list) else [body]
    return jsonify(current_services().metrics.register(items)), 201


def _feature(sensor: dict) -> dict:
    location = sensor["location"]
    geometry = None if location is None else {
        "type": "Point", "coordinates": [location["lon"], location["lat"], location["height"]]}
    props = {k: v for k, v in sensor.items() if k != "location"}
    props["sensor_id"] = sensor["id"]
    props["metrics"] = ",".join(d["metric"] for d in sensor["datastreams"])
    props["latest"] = {d["metric"]: d["latest"] for d in sensor["datastreams"] if d["latest"]}
    return {"type": "Feature", "id": sensor["id"], "geometry": geometry, "properties": props}


@bp.get("/api/sensors")
@describe("The visible sensors as a FeatureCollection", tag="sensors", media="application/geo+json",
          response=FEATURES, scope="read:metrics")
def sensors():
    listed = current_services().metrics.sensors(allowed_levels())
    body = {"type": "FeatureCollection", "features": [_feature(s) for s in listed]}
    return Response(json.dumps(body, ensure_ascii=False), mimetype="application/geo+json")


@bp.get("/api/sensors/<sensor_id>")
@describe("One sensor with its datastreams and latest readings", tag="sensors", response=OBJECT,
          scope="read:metrics")
def sensor(sensor_id: str):
    for item in current_services().metrics.sensors(allowed_levels()):
        if item["id"] == sensor_id:
            return jsonify(_feature(item))
    raise MetricNotFound(f"no sensor {sensor_id!r}", field="id")
