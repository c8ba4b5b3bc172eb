"""Operations: request ids, one log line per request, Prometheus metrics, stream shutdown.

``install(app)`` (called by ``server.app.create_app``) adds, for every request:
- a request id: the incoming ``X-Request-Id`` when it is a plain token, else a new one;
  echoed in the response header and carried by every log record made during the request;
- one ``cimtwin.access`` log record (method, route template, status, duration, principal);
- Prometheus counters and histograms by route template and status, tile bytes served,
  observations ingested, open Server-Sent Events streams (docs/deploy.md, "Operations").

``GET /metrics`` answers the Prometheus text format to callers with action ``metrics``
(a machine token with that scope), or to a direct loopback caller when
``server.metrics_loopback`` is on. Under gunicorn the workers share their values through
``PROMETHEUS_MULTIPROC_DIR`` (set by server.production); one scrape sees them all.

``configure_logging(config)`` sets the process's log format (``server.log_format``:
"text" or "json", one JSON object per line); the serve commands call it, tests do not.
"""
from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import sys
import threading
import time
import uuid
import weakref
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, g, has_request_context, request

from server.auth import refusal
from server.job_process import greenlet_workers

bp = Blueprint("observability", __name__)
access_log = logging.getLogger("cimtwin.access")
REQUEST_ID_HEADER = "X-Request-Id"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
#: Seconds: tile reads take ~1 ms behind nginx, imports' uploads up to minutes.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: The last event a stream gets when its worker stops: reconnect after 1-2 s (to a worker
#: that is still running, or to the restarted one), with the same Last-Event-ID.
SHUTDOWN_EVENT = (b'retry: 1500\nevent: shutdown\ndata: {"reason": "server restarting", '
                  b'"reconnect": true}\n\n')
shutting_down = threading.Event()
_open_streams: weakref.WeakSet = weakref.WeakSet()


@lru_cache(maxsize=1)
def metrics():
    """The process's Prometheus metrics (made once; multiprocess values under gunicorn)."""
    from prometheus_client import Counter, Gauge, Histogram, values
    values.ValueClass = values.get_value_class()  # PROMETHEUS_MULTIPROC_DIR may be set late
    return {
        "requests": Counter("cimtwin_http_requests", "HTTP requests answered",
                            ["method", "route", "status"]),
        "latency": Histogram("cimtwin_http_request_duration_seconds",
                             "Time to the response headers", ["method", "route"],
                             buckets=BUCKETS),
        "tile_bytes": Counter("cimtwin_tile_bytes", "Tile file bytes served (by the "
                              "server or, after X-Accel-Redirect, by nginx)"),
        "ingested": Counter("cimtwin_ingest_observations", "Observations posted to "
                            "/api/metrics", ["outcome"]),
        "streams": Gauge("cimtwin_sse_clients", "Open live-metrics streams",
                         multiprocess_mode="livesum"),
    }


def install(app: Flask) -> None:
    """Request ids, access log and metrics on every request; the /metrics route."""
    metrics()
    app.before_request(_start)
    app.after_request(_finish)
    app.register_blueprint(bp)


def _start() -> None:
    g.cimtwin_started = time.perf_counter()
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    g.cimtwin_request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex


def request_id() -> str | None:
    """The current request's id (None outside a request)."""
    return g.get("cimtwin_request_id") if has_request_context() else None


def _finish(response: Response) -> Response:
    started = g.get("cimtwin_started")
    if started is None:  # a response made before our before_request ran
        _start()
        started = g.cimtwin_started
    duration = time.perf_counter() - started
    route = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
    status = response.status_code
    found = metrics()
    found["requests"].labels(request.method, route, str(status)).inc()
    found["latency"].labels(request.method, route).observe(duration)
    _count_payload(found, response, status)
    if response.mimetype == "text/event-stream" and status == 200:
        _track_stream(found, response)
    response.headers[REQUEST_ID_HEADER] = g.cimtwin_request_id
    if greenlet_workers() and (shutting_down.is_set() or response.mimetype == "text/event-stream"):
        # gevent's server then closes the connection after the answer: a stopping worker
        # is not held by idle keep-alive connections, and a stream ended by the shutdown
        # frees its connection (EventSource reconnects on a new one anyway).
        response.headers["Connection"] = "close"
    principal = g.get("cimtwin_principal")
    name = principal.name if principal else "anonymous"
    access_log.info("%s %s %s %.1f ms %s", request.method, request.path, status,
                    duration * 1000, name, extra={
                        "event": "request", "method": request.method, "path": request.path,
                        "route": route, "status": status,
                        "duration_ms": round(duration * 1000, 2), "principal": name,
                        "address": request.remote_addr})
    return response


def _count_payload(found: dict, response: Response, status: int) -> None:
    endpoint = request.endpoint or ""
    if endpoint == "tiles_api.get_tile" and status == 200:
        size = g.get("cimtwin_tile_bytes")
        found["tile_bytes"].inc(size if size is not None else response.content_length or 0)
    elif endpoint == "metrics_api.ingest" and status == 202:
        body = response.get_json(silent=True) or {}
        found["ingested"].labels("stored").inc(int(body.get("stored") or 0))
        found["ingested"].labels("duplicate").inc(int(body.get("duplicates") or 0))


def _track_stream(found: dict, response: Response) -> None:
    """Count the stream while it is open; end it with a retry hint when the worker stops."""
    gauge = found["streams"]
    gauge.inc()
    response.call_on_close(gauge.dec)
    body = _StoppableStream(response.response, current_app.extensions["cimtwin"])
    response.response = body
    _open_streams.add(body)


class _StoppableStream:
    """A stream body that, when the worker stops, sends SHUTDOWN_EVENT and ends."""

    def __init__(self, inner, services):
        self.inner, self.services = inner, services

    def __iter__(self):
        for chunk in self.inner:
            if shutting_down.is_set():
                break
            yield chunk
        if shutting_down.is_set():
            yield SHUTDOWN_EVENT

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()


def stop_streams() -> int:
    """Worker shutdown: every open stream sends its retry hint and ends (returns how many).

    The streams wait on the bus buffer; closing it wakes them all at once."""
    shutting_down.set()
    streams = list(_open_streams)
    for services in {id(s.services): s.services for s in streams}.values():
        services.metrics.bus.buffer.close()
    return len(streams)


@bp.get("/metrics")
def prometheus_metrics():
    """The Prometheus text format: this process's values, or every worker's under gunicorn."""
    if not _loopback_allowed():
        refused = refusal("metrics")
        if refused is not None:
            return refused
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
    return Response(generate_latest(_Scrape(current_app.extensions["cimtwin"].data_dir)),
                    headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"})


def _loopback_allowed() -> bool:
    """``server.metrics_loopback``: a scraper on this host, not a request relayed by a proxy
    (nginx forwards from loopback too, so a forwarded request never counts as local)."""
    if not current_app.extensions["cimtwin"].config["server"]["metrics_loopback"]:
        return False
    if request.headers.get("X-Forwarded-For") or request.headers.get("X-Real-IP"):
        return False
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


class _Scrape:
    """What one scrape collects: the metrics above plus import jobs by state."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir

    def collect(self):
        from prometheus_client import REGISTRY
        from prometheus_client.core import GaugeMetricFamily
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client.multiprocess import MultiProcessCollector
            yield from MultiProcessCollector(None).collect()
        else:
            yield from REGISTRY.collect()
        from server.jobs import STATES, count_by_state
        family = GaugeMetricFamily("cimtwin_import_jobs", "Import jobs by state",
                                   labels=["state"])
        counts = count_by_state(self.data_dir / "jobs.sqlite")
        for state in STATES:
            family.add_metric([state], counts.get(state, 0))
        yield family


# --- logs ---------------------------------------------------------------------------

#: LogRecord attributes that are not extra fields.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record made while a request is handled."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, extra fields,
    and the traceback of an error."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": datetime.fromtimestamp(record.created, timezone.utc)
                 .isoformat(timespec="milliseconds"),
                 "level": record.levelname.lower(), "logger": record.name,
                 "message": record.getMessage(), "pid": record.process}
        entry.update({k: v for k, v in vars(record).items()
                      if k not in _STANDARD and not k.startswith("_")})
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def configure_logging(config, stream=None) -> logging.Handler:
    """The process's root log handler in ``server.log_format`` ("text" or "json")."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if config["server"]["log_format"] == "json"
                         else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "cimtwin", False)]:
        root.removeHandler(old)
    handler.cimtwin = True
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return handler
