"""MQTT ingest against a real Mosquitto: both topic shapes, broken payloads skipped and
counted, and reconnection after the broker restarts."""
from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest

from server.metrics.bus import MemoryBus
from server.metrics.errors import MetricError
from server.metrics.mqtt_ingest import MqttIngest, message_item
from server.metrics.runtime import MetricsRuntime
from server.metrics.store import open_store


def _ago(seconds: float) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds)).isoformat()


@pytest.fixture
def runtime(tmp_path):
    rt = MetricsRuntime(open_store("memory://", tmp_path), MemoryBus())
    rt.register([{"id": "aq-1", "classification": "public", "metrics": "pm25,no2,noise_db"}])
    yield rt
    rt.close()


def _subscriber(runtime, broker) -> MqttIngest:
    def validate(item):
        return runtime.parser.parse(item, int(time.time() * 1000))[0]
    return MqttIngest(broker, ["cimtwin/+/+", "v1.1/+/Observations"], validate,
                      runtime.ingest_observations, flush_s=0.05)


def _publisher(mosquitto) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.connect(mosquitto.host, mosquitto.port)
    client.loop_start()
    return client


def _until(predicate, what: str, limit_s: float = 30.0) -> None:
    deadline = time.monotonic() + limit_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.05)


def _values(runtime) -> dict[str, float]:
    return {o["datastream"]: o["value"] for o in runtime.latest()}


def test_both_topic_shapes_are_stored_and_broken_payloads_skipped(runtime, mosquitto):
    sub = _subscriber(runtime, f"mqtt://{mosquitto.host}:{mosquitto.port}")
    sub.start()
    try:
        assert sub.connected.wait(20)
        pub = _publisher(mosquitto)
        messages = [
            ("cimtwin/aq-1/pm25", "35.5"),
            ("cimtwin/aq-1/noise_db", json.dumps({"value": 61, "time": _ago(5)})),
            ("v1.1/Datastreams('aq-1:no2')/Observations",
             json.dumps({"result": 12.5, "phenomenonTime": _ago(3), "resultQuality": "suspect"})),
            ("cimtwin/aq-1/pm25", "not a number"),          # broken payload
            ("cimtwin/ghost/pm25", "12"),                   # unknown sensor
            ("v1.1/Datastreams(aq-1:no2)/Observations", json.dumps({"result": "NaN"})),
            ("v1.1/Things(1)/Observations", json.dumps({"result": 1})),  # not a datastream
        ]
        for topic, payload in messages:
            pub.publish(topic, payload, qos=1).wait_for_publish(10)
        _until(lambda: sub.stats.received == len(messages) and len(_values(runtime)) == 3,
               "all messages handled")
        _until(lambda: sub.stats.stored == 3, "three readings stored")
        assert _values(runtime) == {"aq-1:pm25": 35.5, "aq-1:noise_db": 61, "aq-1:no2": 12.5}
        assert sub.stats.bad == 4
        [no2] = [o for o in runtime.latest() if o["metric"] == "no2"]
        assert no2["quality"] == "suspect"
        pub.loop_stop()
        pub.disconnect()
    finally:
        sub.stop()


def test_subscriber_reconnects_after_the_broker_restarts(runtime, mosquitto):
    sub = _subscriber(runtime, f"mqtt://{mosquitto.host}:{mosquitto.port}")
    sub.start()
    try:
        assert sub.connected.wait(20)
        mosquitto.restart(down_s=1.5)
        _until(lambda: sub.stats.connects >= 2 and sub.connected.is_set(), "reconnected", 60)
        pub = _publisher(mosquitto)
        pub.publish("cimtwin/aq-1/pm25", "77", qos=1).wait_for_publish(10)
        _until(lambda: _values(runtime).get("aq-1:pm25") == 77, "reading after restart")
        pub.loop_stop()
        pub.disconnect()
    finally:
        sub.stop()


def test_message_shapes_map_to_ingest_items():
    assert message_item("cimtwin/S-1/pm25", b"35") == {"value": 35, "sensor_id": "S-1",
                                                        "metric": "pm25"}
    assert message_item("v1.0/Datastreams(7)/Observations", b'{"result": 1}') == {
        "result": 1, "datastream": "7"}
    with pytest.raises(MetricError, match="SensorThings"):
        message_item("v1.1/Datastreams(7)/Observations", b"1")


def test_the_cimtwin_command_ingests_from_the_broker_and_stores_all_on_sigterm(
        tmp_path, mosquitto):
    """`cimtwin ingest mqtt` as an operator runs it (a real process): readings published
    to the broker are stored, and a SIGTERM (systemd's stop) stores the pending batch
    before it exits."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, CIMTWIN_DATA_DIR=str(tmp_path), PYTHONUNBUFFERED="1")
    env.pop("CIMTWIN_CONFIG", None)
    cli = [sys.executable, "-m", "server.cli"]
    subprocess.run(cli + ["sensors", "add", "--id", "aq-9", "--metrics", "pm25,no2",
                          "--classification", "public"], cwd=root, env=env, check=True,
                   capture_output=True, timeout=120)
    process = subprocess.Popen(
        cli + ["ingest", "mqtt", "--broker", f"mqtt://{mosquitto.host}:{mosquitto.port}",
               "--seconds", "300"], cwd=root, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        for line in process.stderr:  # the subscriber logs once it is subscribed
            if "subscribed to" in line:
                break
        else:
            raise AssertionError(f"the subscriber never connected: {process.wait()}")
        pub = _publisher(mosquitto)
        for topic, payload in [("cimtwin/aq-9/pm25", json.dumps({"value": 41.5,
                                                                  "time": _ago(4)})),
                               ("cimtwin/aq-9/no2", "17"),
                               ("cimtwin/aq-9/pm25", "broken")]:
            pub.publish(topic, payload, qos=1).wait_for_publish(10)
        pub.loop_stop()
        pub.disconnect()
        time.sleep(0.5)  # let the broker hand the QoS 1 messages over before stopping
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    stats = json.loads(out.strip().splitlines()[-1])
    assert stats["stored"] == 2 and stats["bad"] == 1
    rt = MetricsRuntime(open_store(f"sqlite://{tmp_path}/metrics.sqlite", tmp_path),
                        MemoryBus())
    try:
        assert _values(rt) == {"aq-9:pm25": 41.5, "aq-9:no2": 17}
    finally:
        rt.close()
