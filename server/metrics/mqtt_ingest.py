"""MQTT ingest: subscribe to a broker and store what sensors publish (paho-mqtt).

Topics and payloads (docs/metrics.md):

- ``cimtwin/<sensor_id>/<metric>`` with a number (``35.2``) or a JSON object
  ``{"value": 35.2, "time": "...+08:00", "quality"?: "good", "result_time"?: "..."}``;
- SensorThings MQTT: ``v1.1/Datastreams(<id>)/Observations`` (or ``v1.0``, id quoted or
  not) with ``{"result": 35.2, "phenomenonTime": "...", "resultTime"?, "resultQuality"?}``,
  so FROST-style clients publish unchanged.

Each message is validated on its own: a broken one is logged, counted and skipped, and
the subscriber keeps running. Valid readings are stored in batches (every ``flush_s`` or
``batch`` readings). paho reconnects with backoff (0.5 s doubling to 30 s) after the broker
goes away, and subscriptions are renewed on every connect.
"""
from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt

from server.metrics.errors import MetricError
from server.metrics.observation import Observation

log = logging.getLogger(__name__)
_STA = re.compile(r"^v1\.[01]/Datastreams\('?([^'()]+)'?\)/Observations$")


@dataclass
class MqttStats:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    bad: int = 0
    connects: int = 0


def parse_broker(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
        raise MetricError(f"--broker {url!r}: use mqtt://HOST:PORT", field="broker")
    return parts.hostname, parts.port or 1883


def message_item(topic: str, payload: bytes) -> dict[str, Any]:
    """The observation dict (ingest shape) of one MQTT message; MetricError when broken."""
    try:
        text = payload.decode("utf-8").strip()
        body = json.loads(text) if text else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise MetricError(f"topic {topic}: payload is not a number or JSON", field="payload") \
            from None
    sta = _STA.match(topic)
    if sta:
        if not isinstance(body, dict):
            raise MetricError(f"topic {topic}: a SensorThings observation must be a JSON object"
                              " with 'result'", field="payload")
        return {**body, "datastream": sta.group(1)}
    parts = topic.split("/")
    if len(parts) == 3 and parts[0] == "cimtwin":
        fields = body if isinstance(body, dict) else {"value": body}
        return {**fields, "sensor_id": parts[1], "metric": parts[2]}
    raise MetricError(f"topic {topic}: use cimtwin/<sensor>/<metric> or "
                      "v1.1/Datastreams(<id>)/Observations", field="topic")


class MqttIngest:
    """A subscriber feeding ``store_batch`` with readings validated by ``validate``."""

    def __init__(self, broker: str, topics: list[str],
                 validate: Callable[[dict[str, Any]], Observation],
                 store_batch: Callable[[list[Observation]], dict[str, int]], *,
                 client_id: str = "", flush_s: float = 0.2, batch: int = 1000,
                 username: str | None = None, password: str | None = None):
        self.host, self.port = parse_broker(broker)
        if not topics:
            raise MetricError("give at least one MQTT topic filter", field="topic")
        self.topics = list(topics)
        self.validate, self.store_batch = validate, store_batch
        self.flush_s, self.batch = flush_s, batch
        self.stats = MqttStats()
        self._pending: list[Observation] = []
        self._lock = threading.Lock()
        self._full = threading.Event()
        self._stop = threading.Event()
        self.connected = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        if username:
            self.client.username_pw_set(username, password)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    def _on_connect(self, client, userdata, flags, reason, properties) -> None:
        if reason.is_failure:
            log.warning("mqtt: broker %s:%s refused the connection: %s", self.host, self.port,
                        reason)
            return
        self.stats.connects += 1
        client.subscribe([(topic, 1) for topic in self.topics])
        log.info("mqtt: connected to %s:%s, subscribed to %s", self.host, self.port, self.topics)
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason, properties) -> None:
        self.connected.clear()
        if not self._stop.is_set():
            log.warning("mqtt: lost the broker (%s); reconnecting with backoff", reason)

    def _on_message(self, client, userdata, message) -> None:
        self.stats.received += 1
        try:
            obs = self.validate(message_item(message.topic, message.payload))
        except MetricError as exc:
            self.stats.bad += 1
            log.warning("mqtt: skipped a message on %s: %s", message.topic, exc)
            return
        with self._lock:
            self._pending.append(obs)
            if len(self._pending) >= self.batch:
                self._full.set()

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
            self._full.clear()
        if not pending:
            return
        try:
            result = self.store_batch(pending)
        except MetricError as exc:  # e.g. a datastream deleted meanwhile: never fatal
            self.stats.bad += len(pending)
            log.warning("mqtt: a batch of %d readings was refused: %s", len(pending), exc)
            return
        self.stats.stored += result["stored"]
        self.stats.duplicates += result["duplicates"]

    def start(self) -> None:
        """Connect in the background (retrying until the broker answers) and flush."""
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()
        self._flusher = threading.Thread(target=self._flush_loop, name="cimtwin-mqtt-flush",
                                         daemon=True)
        self._flusher.start()

    def _flush_loop(self) -> None:
        while not self._stop.is_set():
            self._full.wait(self.flush_s)
            self.flush()

    def stop(self) -> None:
        self._stop.set()
        self._full.set()
        self.client.disconnect()
        self.client.loop_stop()
        self._flusher.join(timeout=5)
        self.flush()

    def run(self, report_s: float = 60.0, until: Callable[[], bool] = lambda: False) -> None:
        """Run until interrupted, logging the counters every ``report_s`` seconds."""
        self.start()
        try:
            next_report = time.monotonic() + report_s
            while not until():
                time.sleep(0.2)
                if time.monotonic() >= next_report:
                    next_report += report_s
                    log.info("mqtt: %s", self.stats)
        finally:
            self.stop()
