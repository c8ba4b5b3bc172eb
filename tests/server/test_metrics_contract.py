"""One contract, every backend: each MetricStore and MetricsBus must pass all of it."""
from __future__ import annotations

import threading

import pytest

from server.metrics.bus import BUS_BACKENDS, open_bus
from server.metrics.errors import MetricError
from server.metrics.observation import Observation, parse_time
from server.metrics.store import STORE_BACKENDS, open_store

T0 = parse_time("2024-06-30T00:00:00Z", "")
STORE_URLS = {"memory": "memory://", "sqlite": "sqlite://metrics.sqlite"}
BUS_URLS = {"memory": "memory://"}


def test_every_registered_backend_is_under_contract():
    assert set(STORE_URLS) == set(STORE_BACKENDS)
    assert set(BUS_URLS) == set(BUS_BACKENDS)


@pytest.fixture(params=sorted(STORE_URLS))
def store(request, tmp_path):
    s = open_store(STORE_URLS[request.param], tmp_path)
    yield s
    s.close()


@pytest.fixture(params=sorted(BUS_URLS))
def bus(request):
    b = open_bus(BUS_URLS[request.param])
    yield b
    b.close()


def _obs(sensor: str, metric: str, value: float, minutes: float) -> Observation:
    return Observation(sensor, metric, value, "µg/m³", T0 + int(minutes * 60_000))


def test_latest_is_newest_per_series_even_when_late_data_arrives(store):
    store.add([_obs("a", "pm25", 10, 0), _obs("a", "pm25", 30, 10), _obs("b", "noise_db", 55, 5)])
    store.add([_obs("a", "pm25", 99, 5)])  # a late reading must not become "latest"
    latest = {(o.sensor_id, o.metric): o.value for o in store.latest()}
    assert latest == {("a", "pm25"): 30, ("b", "noise_db"): 55}
    assert [o.metric for o in store.latest("b")] == ["noise_db"]


def test_history_raw_is_ordered_and_bounded(store):
    store.add([_obs("a", "pm25", v, m) for m, v in [(20, 3), (0, 1), (10, 2), (30, 4)]])
    points = store.history("a", "pm25", T0 + 5 * 60_000, T0 + 25 * 60_000)
    assert [p["value"] for p in points] == [2, 3]
    assert points[0]["time"] == "2024-06-30T00:10:00.000Z"
    assert store.history("a", "other", T0, T0 + 3600_000) == []


def test_history_buckets_aggregate(store):
    store.add([_obs("a", "pm25", v, m) for m, v in [(1, 10), (2, 20), (16, 40), (44, 5)]])
    points = store.history("a", "pm25", T0, T0 + 3600_000, bucket_s=900)
    assert [(p["time"][11:16], p["value"], p["min"], p["max"], p["count"]) for p in points] == [
        ("00:00", 15.0, 10, 20, 2), ("00:15", 40.0, 40, 40, 1), ("00:30", 5.0, 5, 5, 1)]


def test_history_refuses_reversed_range(store):
    with pytest.raises(MetricError, match="before"):
        store.history("a", "pm25", T0 + 1, T0)


def test_prune_keeps_latest(store):
    store.add([_obs("a", "pm25", 1, 0), _obs("a", "pm25", 2, 60)])
    store.prune(T0 + 30 * 60_000)
    assert [p["value"] for p in store.history("a", "pm25", T0 - 1, T0 + 7200_000)] == [2]
    assert store.latest()[0].value == 2


def test_concurrent_writers_lose_nothing(store):
    def write(sensor: str) -> None:
        for i in range(50):
            store.add([_obs(sensor, "pm25", i, i)])
    threads = [threading.Thread(target=write, args=(f"s{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for n in range(4):
        assert len(store.history(f"s{n}", "pm25", T0, T0 + 3600_000)) == 50


def test_bus_fans_out_and_filters_by_sensor(bus):
    everyone, only_b = bus.subscribe(), bus.subscribe("b")
    bus.publish("observation", {"sensor_id": "a", "value": 1})
    bus.publish("observation", {"sensor_id": "b", "value": 2})
    assert everyone.get(1)[1]["sensor_id"] == "a"
    assert everyone.get(1)[1]["sensor_id"] == "b"
    assert only_b.get(1) == ("observation", {"sensor_id": "b", "value": 2})
    assert only_b.get(0.05) is None
    assert bus.subscribers() == 2
    only_b.close()
    assert bus.subscribers() == 1


def test_bus_slow_subscriber_drops_oldest_without_blocking(bus):
    slow = bus.subscribe(maxsize=3)
    for i in range(10):
        bus.publish("observation", {"sensor_id": "a", "value": i})
    assert slow.dropped == 7
    assert [slow.get(0)[1]["value"] for _ in range(3)] == [7, 8, 9]


def test_bus_close_wakes_waiting_subscriber(bus):
    subscription = bus.subscribe()
    result = {}
    waiter = threading.Thread(target=lambda: result.setdefault("msg", subscription.get(30)))
    waiter.start()
    bus.close()
    waiter.join(5)
    assert not waiter.is_alive() and result["msg"] is None and subscription.closed
