"""Live metrics over HTTP: ingest, latest values, history, CSV export, the SSE stream.

POST /api/metrics (ingest token) | GET /api/metrics/latest | GET /api/metrics/history
| GET /api/metrics/export.csv | GET /api/metrics/stream (Server-Sent Events)
| POST /api/metrics/stream-token. Sensors and alarms: server.sensors_api, server.alarms_api
(registered below this blueprint). Every read is filtered by ``allowed_levels()``.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, jsonify, request

from server.alarms_api import bp as alarms_bp
from server.auth import allowed_levels, require_token
from server.metrics.errors import BatchTooLarge, MetricError
from server.metrics.fanout import StreamFilter
from server.metrics.observation import MAX_BATCH
from server.metrics.runtime import THREADED_MAX_STREAMS
from server.metrics.stream_token import issue, verify
from server.sensors_api import bp as sensors_bp
from server.services import current_services
from server.api_schemas import INGEST, INGESTED, OBJECT, OBSERVATION, TEXT, array
from server.openapi import describe

bp = Blueprint("metrics_api", __name__)
bp.register_blueprint(sensors_bp)
bp.register_blueprint(alarms_bp)
#: A batch of MAX_BATCH observations of ~200 bytes each fits easily.
MAX_BODY = MAX_BATCH * 400


@bp.post("/api/metrics")
@require_token("ingest")
@describe("Post live observations (a batch)", tag="metrics", status=202, body=INGEST,
          response=INGESTED, errors=(413,))
def ingest():
    """A batch; 202 {received, stored, duplicates}. Re-sending a batch stores nothing
    new and says so (stored 0, duplicates n)."""
    if (request.content_length or 0) > MAX_BODY:
        raise BatchTooLarge(f"the body has {request.content_length} bytes; send at most "
                            f"{MAX_BATCH} observations ({MAX_BODY} bytes) per request")
    body = request.get_json(silent=True)
    if body is None:
        raise MetricError("the body must be JSON (Content-Type: application/json): "
                          "one observation, a list, or {\"observations\": [...]}", field="body")
    return jsonify(current_services().metrics.ingest(body)), 202


@bp.get("/api/metrics/latest")
@describe("The newest reading of every visible datastream", tag="metrics",
          response=array(OBSERVATION), scope="read:metrics",
          query={"sensor": "one sensor's streams"})
def latest():
    """[{datastream, sensor_id, metric, value, unit, time, quality, level, alarm}]."""
    metrics = current_services().metrics
    return jsonify(metrics.latest(allowed_levels(), request.args.get("sensor") or None))


def _datastream(metrics: Any, levels: set[str]):
    args = request.args
    if args.get("datastream"):
        return metrics.datastream(args["datastream"], levels)
    if args.get("sensor") and args.get("metric"):
        return metrics.series(args["sensor"], args["metric"], levels)
    raise MetricError("pass 'datastream', or 'sensor' and 'metric'", field="datastream")


def _bucket() -> int | None:
    bucket = request.args.get("bucket")
    if not bucket:
        return None
    try:
        return int(bucket)
    except ValueError:
        raise MetricError(f"bucket must be whole seconds, got {bucket!r}", field="bucket") from None


@bp.get("/api/metrics/history")
@describe("A datastream's readings for charts", tag="metrics", response=OBJECT,
          scope="read:metrics",
          query={"datastream": "datastream id", "sensor": "sensor id (with metric)",
                 "metric": "metric", "from": "ISO time", "to": "ISO time", "bucket": "seconds"})
def history():
    """?datastream= (or sensor=&metric=) &from=&to=&bucket=<seconds>."""
    metrics = current_services().metrics
    ds = _datastream(metrics, allowed_levels())
    return jsonify(metrics.history(ds, request.args.get("from") or None,
                                   request.args.get("to") or None, _bucket()))


@bp.get("/api/metrics/export.csv")
@describe("Raw readings as CSV", tag="metrics", media="text/csv", response=TEXT,
          scope="read:metrics",
          query={"datastream": "comma-separated ids", "sensor": "sensor id", "from": "ISO time",
                 "to": "ISO time"})
def export_csv():
    """Raw readings as CSV: ?datastream=a,b (or sensor=) &from=&to= (default last 24 h)."""
    metrics, levels = current_services().metrics, allowed_levels()
    ids = [i for i in (request.args.get("datastream") or "").split(",") if i]
    streams = [metrics.datastream(i, levels) for i in ids]
    if request.args.get("sensor"):
        streams += [metrics.series(request.args["sensor"], d["metric"], levels)
                    for d in _sensor_streams(metrics, request.args["sensor"], levels)]
    if not streams:
        raise MetricError("pass 'datastream' (comma-separated ids) or 'sensor'", field="datastream")
    lines = metrics.export_csv(streams, request.args.get("from") or None,
                               request.args.get("to") or None)
    return Response(lines, mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=metrics.csv"})


def _sensor_streams(metrics: Any, sensor_id: str, levels: set[str]) -> list[dict]:
    for sensor in metrics.sensors(levels):
        if sensor["id"] == sensor_id:
            return sensor["datastreams"]
    return []


@bp.post("/api/metrics/stream-token")
@describe("A short-lived token for the metrics stream carrying the caller's levels", tag="metrics",
          response=OBJECT, scope="read:metrics")
def stream_token():
    """A token for ``/api/metrics/stream?token=`` carrying the caller's levels (5 min)."""
    token, expires = issue(allowed_levels(), time.time())
    return jsonify({"token": token, "expires_in": expires - int(time.time()),
                    "levels": sorted(allowed_levels())})


def _set(name: str) -> frozenset[str] | None:
    value = request.args.get(name)
    return frozenset(v for v in value.split(",") if v) if value else None


def _filter(levels: set[str]) -> StreamFilter:
    bbox = None
    if request.args.get("bbox"):
        try:
            bbox = tuple(float(v) for v in request.args["bbox"].split(","))
        except ValueError:
            bbox = ()
        if len(bbox) != 4:
            raise MetricError("bbox must be west,south,east,north in degrees", field="bbox")
    streams = _set("datastream")
    if request.args.get("sensor"):
        metrics = current_services().metrics
        ids = {d["id"] for d in _sensor_streams(metrics, request.args["sensor"], levels)}
        streams = frozenset(ids if streams is None else ids & streams)
    return StreamFilter(frozenset(levels), streams, _set("metric"), _set("feature"), bbox)


def _last_id() -> int | None:
    raw = request.headers.get("Last-Event-ID") or request.args.get("last_id")
    if not raw:
        return None
    if not raw.strip().isdigit():
        raise MetricError(f"Last-Event-ID {raw!r} is not an event id", field="Last-Event-ID")
    return int(raw)


def _threaded() -> bool:
    """True under a thread-per-request server (waitress), where every open stream holds
    a thread; False under greenlets (gunicorn -k gevent, which also says multithread)."""
    if not request.environ.get("wsgi.multithread", False):
        return False
    monkey = sys.modules.get("gevent.monkey")
    return not (monkey is not None and monkey.is_module_patched("threading"))


@bp.get("/api/metrics/stream")
@describe("Server-Sent Events: observation, alarm and reset events", tag="metrics",
          media="text/event-stream", response=TEXT, scope="read:metrics", errors=(503,),
          query={"datastream": "comma list", "metric": "comma list", "sensor": "sensor id",
                 "bbox": "west,south,east,north", "token": "stream token"})
def stream():
    """Server-Sent Events (docs/metrics.md): `observation`, `alarm` and `reset` events
    with ids; a heartbeat comment every server.sse_keepalive_s seconds. Filters:
    ?datastream=&metric=&feature=&sensor= (comma lists) &bbox=w,s,e,n; ?token= for
    non-public data; Last-Event-ID (or ?last_id=) replays what was missed."""
    services = current_services()
    token = request.args.get("token")
    levels = verify(token, time.time()) if token else allowed_levels()
    keepalive = float(services.config["server"]["sse_keepalive_s"])
    live = services.metrics.open_stream(_filter(levels), _last_id(),
                                        THREADED_MAX_STREAMS if _threaded() else None)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return Response(_EventStream(live, keepalive), mimetype="text/event-stream",
                    headers=headers)


class _EventStream:
    """The WSGI body of one stream; ``close()`` (called by the server when the client
    leaves, even before the first chunk) frees the stream slot."""

    def __init__(self, live: Any, keepalive: float):
        self.live = live
        self._events = _events(live, keepalive)

    def __iter__(self) -> Iterator[bytes]:
        return self._events

    def close(self) -> None:
        self._events.close()
        self.live.close()


def _events(live: Any, keepalive: float) -> Iterator[bytes]:
    """Events as they come; a heartbeat when nothing was sent for ``keepalive`` s."""
    try:
        yield b"retry: 3000\n: connected\n\n"
        quiet_since = time.monotonic()
        while not live.closed:
            text = live.next_text(keepalive)
            if text:
                quiet_since = time.monotonic()
                yield text
            elif time.monotonic() - quiet_since >= keepalive:
                quiet_since = time.monotonic()
                yield b": heartbeat\n\n"
    finally:
        live.close()
