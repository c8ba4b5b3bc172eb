"""Live metrics over HTTP: ingest, latest values, history, the SSE stream, sensors.

POST /api/metrics (ingest token) | GET /api/metrics/latest | GET /api/metrics/history
| GET /api/metrics/alarms | GET /api/metrics/stream (Server-Sent Events) | GET /api/sensors
"""
from __future__ import annotations

from typing import Any, Iterator

from flask import Blueprint, Response, json, jsonify, request

from server.auth import allowed_levels, require_token
from server.metrics.errors import MetricError
from server.services import current_services

bp = Blueprint("metrics_api", __name__)


@bp.post("/api/metrics")
@require_token("ingest")
def ingest():
    """One observation, a list, or {"observations": [...]}; 202 with the stored count."""
    body = request.get_json(silent=True)
    if body is None:
        raise MetricError("the body must be JSON (Content-Type: application/json)")
    count = current_services().metrics.ingest(body)
    return jsonify({"accepted": count}), 202


@bp.get("/api/metrics/latest")
def latest():
    """[{sensor_id, metric, value, unit, time, alarm, level}] (optionally ?sensor=)."""
    return jsonify(current_services().metrics.latest(request.args.get("sensor") or None))


@bp.get("/api/metrics/history")
def history():
    """?sensor=&metric=&from=&to=&bucket=<seconds> -> {..., observations: [...]}."""
    args = request.args
    for name in ("sensor", "metric"):
        if not args.get(name):
            raise MetricError(f"query parameter '{name}' is required", field=name)
    bucket = args.get("bucket")
    if bucket:
        try:
            bucket_s = int(bucket)
        except ValueError:
            raise MetricError(f"bucket must be whole seconds, got {bucket!r}",
                              field="bucket") from None
    else:
        bucket_s = None
    return jsonify(current_services().metrics.history(
        args["sensor"], args["metric"], args.get("from") or None, args.get("to") or None, bucket_s))


@bp.get("/api/metrics/alarms")
def alarms():
    """Series currently at warning or alarm level: [{sensor_id, metric, level}]."""
    return jsonify(current_services().metrics.alarms())


@bp.get("/api/metrics/stream")
def stream():
    """Server-Sent Events: `event: observation` / `event: alarm` with JSON data,
    a keep-alive comment every server.sse_keepalive_s seconds; ?sensor= filters."""
    services = current_services()
    keepalive = float(services.config["server"]["sse_keepalive_s"])
    subscription = services.metrics.subscribe(request.args.get("sensor") or None)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return Response(_EventStream(subscription, keepalive), mimetype="text/event-stream",
                    headers=headers)


class _EventStream:
    """The WSGI body of one stream; ``close()`` (called by the server when the client
    leaves, even before the first chunk) frees the subscription."""

    def __init__(self, subscription: Any, keepalive: float):
        self.subscription = subscription
        self._events = _events(subscription, keepalive)

    def __iter__(self) -> Iterator[str]:
        return self._events

    def close(self) -> None:
        self._events.close()
        self.subscription.close()


def _events(subscription: Any, keepalive: float) -> Iterator[str]:
    """The event stream of one client; ends when the bus closes or the client leaves
    (the server closes this generator, and the subscription goes with it)."""
    try:
        yield "retry: 3000\n: connected\n\n"
        while True:
            message = subscription.get(timeout=keepalive)
            if message is None:
                if subscription.closed:
                    return
                yield ": keep-alive\n\n"
                continue
            event, data = message
            yield f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
    finally:
        subscription.close()


@bp.get("/api/sensors")
def sensors():
    """Sensor layers (kind "sensors") the caller may see, as one GeoJSON FeatureCollection;
    each feature's properties gain ``latest`` = {metric: reading}. Sensors that report
    but are in no layer are listed in ``unlocated``."""
    services = current_services()
    readings: dict[str, dict[str, Any]] = {}
    for reading in services.metrics.latest():
        readings.setdefault(reading["sensor_id"], {})[reading["metric"]] = reading
    features, located = [], set()
    store, levels = services.layers, allowed_levels()
    for info in store.list_layers(levels):
        if info.kind != "sensors":
            continue
        for feature in _all_features(store, info.id, levels):
            sensor_id = str(feature["properties"].get("sensor_id"))
            feature["properties"]["layer"] = info.id
            feature["properties"]["latest"] = readings.get(sensor_id, {})
            located.add(sensor_id)
            features.append(feature)
    return Response(json.dumps({"type": "FeatureCollection", "features": features,
                                "unlocated": sorted(set(readings) - located)},
                               ensure_ascii=False), mimetype="application/geo+json")


def _all_features(store: Any, layer_id: str, levels: set[str]) -> Iterator[dict[str, Any]]:
    offset = 0
    while True:
        page = store.query(layer_id, limit=1000, offset=offset, levels=levels)
        yield from page.features
        offset += len(page.features)
        if not page.features or offset >= page.number_matched:
            return
