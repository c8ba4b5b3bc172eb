"""Event subscriptions over HTTP (docs/api.md "Events"): webhooks for registered apps and
the same events as Server-Sent Events.

POST /api/v1/subscriptions {"url", "events": [...]} (an app's token with read:events)
-> 201 with the subscription's ``secret`` (shown once: it signs every delivery);
GET /api/v1/subscriptions, GET|DELETE /api/v1/subscriptions/<id>,
GET /api/v1/subscriptions/<id>/deliveries (every attempt, newest first);
GET /api/v1/events/stream?types=a,b (SSE; Last-Event-ID replays; the caller's levels).
"""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import NotFound

from server.api_schemas import EVENT, INT, STR, array, obj
from server.auth import allowed_levels, current_principal
from server.errors import problem
from server.events import EVENT_TYPES, EventError
from server.metrics.fanout import StreamFilter
from server.openapi import describe
from server.services import current_services
from server.webhooks import check_target

bp = Blueprint("events_api", __name__)
SUBSCRIPTION = obj(("id", "url", "events"), id=STR, app=STR, url=STR,
                   events=array({"type": "string", "enum": list(EVENT_TYPES)}), created=STR,
                   secret=STR)
SUBSCRIBE = obj(("url", "events"), url=STR,
                events=array({"type": "string", "enum": list(EVENT_TYPES)}))
DELIVERY = obj(("event", "attempt", "outcome"), id=INT, event=INT, type=STR, attempt=INT,
               time=STR, status={"type": ["integer", "null"]}, outcome=STR, error=STR,
               duration_ms=INT, next_attempt={"type": ["string", "null"]})
MAX_SUBSCRIPTIONS = 50

def _app_name():
    """(the calling app's name, None) or (None, the 401/403 answer)."""
    principal = current_principal()
    if principal.via == "app" and "read:events" in (principal.scopes or ()):
        return principal.name.removeprefix("app:"), None
    if principal.via == "anonymous":
        response = problem(401, "App token required", "subscriptions belong to registered "
                           "apps: POST /api/v1/oauth/token, then 'Authorization: Bearer ...'")
        response.headers["WWW-Authenticate"] = 'Bearer realm="cimtwin"'
        return None, response
    return None, problem(403, "Forbidden", "only a registered app with scope read:events "
                         "subscribes to events ('cimtwin apps add')")

def _own(sub_id: str, app: str) -> dict:
    sub = current_services().events.store.subscription(sub_id)
    if sub is None or sub["app"] != app:
        raise NotFound(f"no subscription '{sub_id}'")
    return sub

def _subscribe_body() -> tuple[str, list[str]]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise EventError('send {"url": "https://...", "events": ["tileset.published", ...]}')
    url, events = body.get("url"), body.get("events")
    if not isinstance(url, str) or not isinstance(events, list) or not events:
        raise EventError("'url' (text) and 'events' (a non-empty list) are required")
    unknown = [e for e in events if e not in EVENT_TYPES]
    if unknown:
        raise EventError(f"unknown event type(s) {unknown}; one of {', '.join(EVENT_TYPES)}")
    return url, events

@bp.post("/api/v1/subscriptions")
@describe("Subscribe a webhook URL to event types (a registered app)", tag="events",
          status=201, body=SUBSCRIBE, response=SUBSCRIPTION, scope="read:events",
          errors=(401, 403))
def subscribe():
    app, refused = _app_name()
    if refused is not None:
        return refused
    url, events = _subscribe_body()
    hub = current_services().events
    check_target(url, bool(hub.config["allow_private_targets"]))
    if len(hub.store.subscriptions(app)) >= MAX_SUBSCRIPTIONS:
        raise EventError(f"an app has at most {MAX_SUBSCRIPTIONS} subscriptions; delete one")
    sub = hub.store.subscribe(app, url, events)
    hub.start()
    response = jsonify(sub)
    response.status_code = 201
    response.headers["Location"] = f"/api/v1/subscriptions/{sub['id']}"
    return response

@bp.get("/api/v1/subscriptions")
@describe("The calling app's subscriptions", tag="events", response=array(SUBSCRIPTION),
          scope="read:events", errors=(401, 403))
def list_subscriptions():
    app, refused = _app_name()
    if refused is not None:
        return refused
    return jsonify(current_services().events.store.subscriptions(app))

@bp.get("/api/v1/subscriptions/<sub_id>")
@describe("One subscription", tag="events", response=SUBSCRIPTION, scope="read:events",
          errors=(401, 403))
def get_subscription(sub_id: str):
    app, refused = _app_name()
    if refused is not None:
        return refused
    return jsonify(_own(sub_id, app))

@bp.delete("/api/v1/subscriptions/<sub_id>")
@describe("Delete a subscription (pending deliveries are dropped)", tag="events", status=204,
          scope="read:events", errors=(401, 403))
def delete_subscription(sub_id: str):
    app, refused = _app_name()
    if refused is not None:
        return refused
    _own(sub_id, app)
    current_services().events.store.unsubscribe(sub_id)
    return "", 204

@bp.get("/api/v1/subscriptions/<sub_id>/deliveries")
@describe("Every delivery attempt of a subscription, newest first", tag="events",
          response=array(DELIVERY), scope="read:events", errors=(401, 403),
          query={"limit": "at most 1000 (default 100)"})
def deliveries(sub_id: str):
    app, refused = _app_name()
    if refused is not None:
        return refused
    _own(sub_id, app)
    limit = min(max(request.args.get("limit", 100, type=int), 1), 1000)
    return jsonify(current_services().events.store.deliveries(sub_id, limit))

@bp.get("/api/v1/events/stream")
@describe("The events as Server-Sent Events (event name = type; data = the event)",
          tag="events", media="text/event-stream", response=EVENT, scope="read:events",
          errors=(503,), query={"types": "comma-separated event types (default all)"})
def event_stream():
    from server.metrics_api import _EventStream, _last_id, _threaded
    from server.metrics.runtime import THREADED_MAX_STREAMS
    types = [t for t in (request.args.get("types") or "").split(",") if t]
    unknown = [t for t in types if t not in EVENT_TYPES]
    if unknown:
        raise EventError(f"unknown event type(s) {unknown}; one of {', '.join(EVENT_TYPES)}")
    services = current_services()
    services.events.start()
    flt = StreamFilter(frozenset(allowed_levels()), frozenset(types) if types else None,
                       app_events=True)
    live = services.metrics.open_stream(flt, _last_id(),
                                        THREADED_MAX_STREAMS if _threaded() else None)
    keepalive = float(services.config["server"]["sse_keepalive_s"])
    return Response(_EventStream(live, keepalive), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
