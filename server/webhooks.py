"""Event delivery: the hub a process emits into, and the dispatcher a server runs.

A webhook delivery is an HTTP POST of the event's JSON with
``X-Cimtwin-Signature: sha256=<HMAC-SHA256 of the body with the subscription's secret>``;
a 2xx answer is delivered, anything else (an error, a timeout, a redirect) is retried
after ``events.first_retry_s * 2**(attempt-1)`` seconds, at most ``events.max_attempts``
attempts, each one logged. Targets must resolve to public addresses unless
``events.allow_private_targets`` (an intranet deployment sets it), checked when the
subscription is made and again before every attempt.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from server.events import EventError, EventStore
from server.metrics.fanout import EVENT_METRIC

log = logging.getLogger("cimtwin.events")
SIGNATURE_HEADER = "X-Cimtwin-Signature"
#: Events older than this when a dispatcher first sees them go to webhooks (the outbox)
#: but not to the live stream, whose clients were not there when they happened.
STREAM_FRESH_S = 60.0


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def check_target(url: str, allow_private: bool) -> None:
    """Refuse a URL that is not http(s), or resolves to a non-public address (unless
    private targets are allowed)."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EventError(f"webhook url {url!r}: give an http:// or https:// URL", )
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise EventError(f"webhook host {parts.hostname!r} does not resolve") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global:
            raise EventError(f"webhook host {parts.hostname!r} is a private or loopback "
                             f"address ({address}); set [events] allow_private_targets = "
                             "true to allow intranet targets")


def payload(event: dict) -> bytes:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()


class Dispatcher:
    """One per server process: claims events, publishes them, delivers webhooks."""

    def __init__(self, hub: "EventHub"):
        self.hub, self.store, self.config = hub, hub.store, hub.config
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self)}"
        self._wake, self._stop = threading.Event(), threading.Event()
        self._pool = ThreadPoolExecutor(4, thread_name_prefix="cimtwin-webhook")
        self._thread = threading.Thread(target=self._run, name="cimtwin-events", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        self.store.prune(float(self.config["keep_days"]))
        while not self._stop.is_set():
            try:
                self.step()
            except Exception:  # a broken step must not end delivery for the process
                log.exception("event dispatch failed; retrying")
            timeout = 1.0
            due = self.store.next_due()
            if due is not None:
                timeout = min(timeout, max(0.02, due - time.time()))
            self._wake.wait(timeout)
            self._wake.clear()

    def step(self) -> None:
        for event in self.store.claim(self.owner):
            self._fan_out(event)
        for sub_id, event_id, attempt in self.store.take_due(time.time()):
            self._pool.submit(self._deliver, sub_id, event_id, attempt)

    def _fan_out(self, event: dict) -> None:
        if self.hub.age_s(event) < STREAM_FRESH_S:
            text = payload(event).decode()
            attrs = (event["type"], EVENT_METRIC, None, None, None, event["level"])
            self.hub.services.metrics.bus.publish([(event["type"], text, attrs)])
        for sub, _ in self.store.matching(event):
            if self.hub.app_may_receive(sub["app"], event):
                self.store.queue(sub["id"], event["id"], 1, time.time())

    def _deliver(self, sub_id: str, event_id: int, attempt: int) -> None:
        try:
            self._attempt(sub_id, event_id, attempt)
        except Exception:
            log.exception("webhook delivery of event %s to %s failed", event_id, sub_id)
        self.wake()

    def _attempt(self, sub_id: str, event_id: int, attempt: int) -> None:
        import requests
        sub, event, secret = (self.store.subscription(sub_id), self.store.event(event_id),
                              self.store.secret(sub_id))
        if sub is None or event is None:
            return
        body, status, error = payload(event), None, ""
        started = time.monotonic()
        try:
            check_target(sub["url"], bool(self.config["allow_private_targets"]))
            answer = requests.post(sub["url"], data=body, timeout=float(self.config["timeout_s"]),
                                   allow_redirects=False, headers={
                                       "Content-Type": "application/json",
                                       "User-Agent": "cimtwin-webhooks/1",
                                       "X-Cimtwin-Event": event["type"],
                                       "X-Cimtwin-Delivery": f"{event_id}.{attempt}",
                                       SIGNATURE_HEADER: sign(secret, body)})
            status = answer.status_code
            answer.close()
        except (EventError, requests.RequestException) as exc:
            error = str(exc)
        ms = int((time.monotonic() - started) * 1000)
        if status is not None and 200 <= status < 300:
            self.store.log(sub_id, event, attempt, status, "delivered", "", ms, None)
        elif attempt >= int(self.config["max_attempts"]):
            self.store.log(sub_id, event, attempt, status, "gave up", error, ms, None)
        else:
            retry_at = time.time() + float(self.config["first_retry_s"]) * 2 ** (attempt - 1)
            self.store.log(sub_id, event, attempt, status, "failed", error, ms, retry_at)


class EventHub:
    """``Services.events``: emit events; in a server, the dispatcher that hands them on."""

    def __init__(self, services):
        self.services = services
        self.config = services.config["events"]
        self.store = EventStore(services.data_dir / "events.sqlite")
        self._dispatcher: Dispatcher | None = None
        self._lock = threading.Lock()

    def emit(self, event_type: str, data: dict, level: str) -> dict | None:
        """Record an event; a failure is logged, never raised (the change it reports
        has happened)."""
        try:
            event = self.store.emit(event_type, data, level)
        except Exception:
            log.exception("could not record event %s", event_type)
            return None
        if self._dispatcher is not None:
            self._dispatcher.wake()
        return event

    def start(self) -> None:
        """Run this process's dispatcher (a server: when it has subscriptions or a
        stream client)."""
        with self._lock:
            if self._dispatcher is None:
                self._dispatcher = Dispatcher(self)

    def start_if_subscribed(self) -> None:
        if self.store.subscriptions():
            self.start()

    def app_may_receive(self, app_name: str, event: dict) -> bool:
        """The subscribing app is active, has read:events and sees the event's level."""
        from server.apps import levels_up_to
        app = self.services.security.apps.by_name(app_name)
        return (app is not None and app.revoked is None and "read:events" in app.scopes
                and event["level"] in levels_up_to(app.level))

    @staticmethod
    def age_s(event: dict) -> float:
        from datetime import datetime
        return time.time() - datetime.fromisoformat(event["time"]).timestamp()

    def close(self) -> None:
        if self._dispatcher is not None:
            self._dispatcher.stop()
            self._dispatcher = None
