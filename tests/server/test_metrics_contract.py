"""One contract, every backend: each MetricStore and MetricsBus must pass all of it.

Stores: memory://, sqlite:// and postgresql:// (a real server, tests/services.py); buses:
memory:// and redis:// (a real Redis).
"""
from __future__ import annotations

import threading

import pytest

from server.metrics.alarms import Rule
from server.metrics.bus import BUS_BACKENDS, open_bus
from server.metrics.errors import MetricError
from server.metrics.fanout import Gap, StreamFilter
from server.metrics.model import parse_sensor
from server.metrics.observation import Observation, parse_time
from server.metrics.store import STORE_BACKENDS, open_store

T0 = parse_time("2024-06-30T00:00:00Z", "")
MIN = 60_000
ALL = {"public", "internal", "restricted"}


def test_every_registered_backend_is_under_contract():
    assert set(STORE_BACKENDS) == {"memory", "sqlite", "postgresql"}
    assert set(BUS_BACKENDS) == {"memory", "redis"}


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = {"memory": "memory://", "sqlite": "sqlite://metrics.sqlite"}[request.param]
    s = open_store(url, tmp_path)
    s.put_sensors([parse_sensor({"id": "a", "classification": "public", "lon": 117, "lat": 36.6,
                                 "metrics": "pm25,noise_db"}),
                   parse_sensor({"id": "b", "classification": "internal", "metrics": "pm25"})])
    yield s
    s.close()


def _obs(ds: str, value: float, minutes: float, quality: str = "good") -> Observation:
    t = T0 + int(minutes * MIN)
    return Observation(ds, t, float(value), t, quality)


def test_registry_round_trip_and_classification_follows_the_sensor(store):
    sensors, streams = store.sensors()
    assert [(s.id, s.classification, s.lon) for s in sensors] == [
        ("a", "public", 117.0), ("b", "internal", None)]
    assert {d.id: d.classification for d in streams} == {
        "a:pm25": "public", "a:noise_db": "public", "b:pm25": "internal"}
    store.put_sensors([parse_sensor({"id": "a", "classification": "restricted"})])
    assert {d.id: d.classification for d in store.sensors()[1]}["a:noise_db"] == "restricted"


def test_resent_readings_change_nothing_and_are_counted(store):
    first = store.write([_obs("a:pm25", 10, 0), _obs("a:pm25", 20, 1)])
    assert (len(first.new), first.duplicates) == (2, 0)
    again = store.write([_obs("a:pm25", 99, 0), _obs("a:pm25", 98, 1)])
    assert (again.new, again.duplicates) == ([], 2)
    mixed = store.write([_obs("a:pm25", 97, 1), _obs("a:pm25", 30, 2)])
    assert ([o.value for o in mixed.new], mixed.duplicates) == ([30], 1)
    assert [p["value"] for p in store.history("a:pm25", T0, T0 + 60 * MIN)] == [10, 20, 30]


def test_latest_is_newest_even_when_late_data_arrives_and_is_filtered(store):
    store.write([_obs("a:pm25", 10, 0), _obs("a:pm25", 30, 10), _obs("b:pm25", 55, 5)])
    store.write([_obs("a:pm25", 99, 5)])  # a late reading must not become "latest"
    assert {r["datastream"]: r["value"] for r in store.latest(ALL)} == {"a:pm25": 30, "b:pm25": 55}
    assert [r["datastream"] for r in store.latest({"public"})] == ["a:pm25"]


def test_history_raw_is_ordered_and_buckets_aggregate(store):
    store.write([_obs("a:pm25", v, m) for m, v in [(20, 3), (1, 10), (2, 20), (16, 40), (44, 5)]])
    raw = store.history("a:pm25", T0 + 5 * MIN, T0 + 25 * MIN)
    assert [(p["time"][11:16], p["value"]) for p in raw] == [("00:16", 40), ("00:20", 3)]
    points = store.history("a:pm25", T0, T0 + 3600_000, bucket_s=900)
    assert [(p["time"][11:16], p["value"], p["min"], p["max"], p["count"]) for p in points] == [
        ("00:00", 15.0, 10, 20, 2), ("00:15", 21.5, 3, 40, 2), ("00:30", 5.0, 5, 5, 1)]
    with pytest.raises(MetricError, match="before"):
        store.history("a:pm25", T0 + 1, T0)


def test_compaction_keeps_hourly_aggregates_incrementally(store):
    store.write([_obs("a:pm25", v, m) for m, v in [(0, 10), (30, 20), (70, 40), (200, 7)]])
    assert store.compact(T0 + 60 * MIN) == 2
    store.write([_obs("a:pm25", 30, 45)])  # a late reading for an hour already compacted
    assert store.compact(T0 + 120 * MIN) == 2  # only what is past the cutoff now
    assert store.compact(T0 + 120 * MIN) == 0
    hours = store.history("a:pm25", T0, T0 + 240 * MIN, bucket_s=3600)
    assert [(p["time"][11:13], p["value"], p["min"], p["max"], p["count"]) for p in hours] == [
        ("00", 20.0, 10, 30, 3), ("01", 40.0, 40, 40, 1), ("03", 7.0, 7, 7, 1)]
    raw = store.history("a:pm25", T0, T0 + 240 * MIN)
    assert [(p["value"], p.get("count")) for p in raw] == [(20.0, 3), (40.0, 1), (7, None)]
    assert [r["value"] for r in store.latest(ALL)] == [7]
    assert list(store.export_rows(["a:pm25"], T0, T0 + 240 * MIN)) == [
        ("a:pm25", T0 + 200 * MIN, 7.0, T0 + 200 * MIN, "good")]


def _rule(store, **kw) -> Rule:
    return store.add_rule(Rule(None, "a:pm25", kw.pop("condition", "above"),
                               kw.pop("threshold", 100), **kw))


def test_rule_raises_after_its_duration_and_clears_past_the_hysteresis(store):
    rule = _rule(store, hysteresis=10, for_s=120)
    assert store.write([_obs("a:pm25", 150, 0), _obs("a:pm25", 160, 1)]).alarm_events == []
    raised = store.write([_obs("a:pm25", 155, 2)]).alarm_events
    assert [e["event"] for e in raised] == ["raised"]
    assert store.write([_obs("a:pm25", 95, 3), _obs("a:pm25", 50, 0.5)]).alarm_events == []
    cleared = store.write([_obs("a:pm25", 89, 4)]).alarm_events
    assert cleared == [{"event": "cleared", "alarm_id": raised[0]["alarm_id"]}]
    [alarm] = store.alarms(ALL, open_only=False, alarm_id=raised[0]["alarm_id"])
    assert (alarm["rule_id"], alarm["raised_value"], alarm["raised_at"][11:16], alarm["active"],
            alarm["last_value"], alarm["location"]["lon"]) == (rule.id, 155, "00:02", False, 89,
                                                               117)
    assert [r.id for r in store.rules("a:pm25")] == [rule.id]


def test_below_rule_and_a_breach_shorter_than_the_duration(store):
    _rule(store, condition="below", threshold=20, for_s=300)
    assert store.write([_obs("a:pm25", 5, m) for m in (0, 2, 4)]).alarm_events == []
    assert store.write([_obs("a:pm25", 25, 5), _obs("a:pm25", 5, 6)]).alarm_events == []
    assert [e["event"] for e in store.write([_obs("a:pm25", 4, 11)]).alarm_events] == ["raised"]


def test_acknowledgement_is_kept_and_open_alarms_stay_until_handled(store):
    _rule(store)
    alarm_id = store.write([_obs("a:pm25", 150, 0)]).alarm_events[0]["alarm_id"]
    store.write([_obs("a:pm25", 50, 1)])  # cleared by itself: still open (unacknowledged)
    assert [a["id"] for a in store.alarms(ALL, open_only=True)] == [alarm_id]
    assert store.acknowledge(alarm_id, "王工", "dust screen fixed", T0 + 2 * MIN)
    assert not store.acknowledge(alarm_id, "someone", "again", T0 + 3 * MIN)
    [alarm] = store.alarms(ALL, open_only=False, alarm_id=alarm_id)
    assert alarm["ack"] == {"by": "王工", "at": "2024-06-30T00:02:00.000Z",
                            "note": "dust screen fixed"}
    assert store.alarms(ALL, open_only=True) == []
    log = store.alarm_log(ALL, T0, T0 + 10 * MIN)
    assert [(e["event"], e.get("note")) for e in log] == [
        ("raised", None), ("cleared", None), ("acknowledged", "dust screen fixed")]
    assert store.alarm_log({"internal"}, T0, T0 + 10 * MIN) == []


def test_concurrent_writers_lose_nothing(store):
    def write(ds: str, offset: int) -> None:
        for i in range(40):
            store.write([_obs(ds, i, i + offset)])
    threads = [threading.Thread(target=write, args=(ds, n)) for n, ds in
               enumerate(["a:pm25", "a:noise_db", "b:pm25", "a:pm25"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counts = {ds: len(store.history(ds, T0, T0 + 3600_000)) for ds in ("a:pm25", "a:noise_db")}
    assert counts == {"a:pm25": 43, "a:noise_db": 40}


# -- buses ------------------------------------------------------------------------------

@pytest.fixture(params=["memory", "redis"])
def bus_url(request):
    return "memory://" if request.param == "memory" else request.getfixturevalue("redis_url")


ATTRS = ("a:pm25", "pm25", "F-1", 117.0, 36.6, "public")
INTERNAL = ATTRS[:5] + ("internal",)


def _wait_for(buffer, seq: int) -> None:
    for _ in range(100):
        if buffer.head >= seq:
            return
        buffer.wait(buffer.head, 0.1)
    raise AssertionError(f"event {seq} never arrived (head {buffer.head})")


def test_bus_numbers_events_and_a_cursor_reads_on_without_gap(bus_url):
    bus = open_bus(bus_url, capacity=100)
    try:
        start = bus.buffer.head
        bus.publish([("observation", f'{{"v":{i}}}', ATTRS) for i in range(3)])
        bus.publish([("observation", '{"v":3}', INTERNAL)])
        _wait_for(bus.buffer, start + 4)
        cursor, raw = bus.buffer.read(start, StreamFilter(frozenset({"public"})))
        text = raw.decode()
        assert cursor == start + 4
        assert [line for line in text.splitlines() if line.startswith("id:")] == [
            f"id: {start + i}" for i in (1, 2, 3)]
        rest = bus.buffer.read(start + 2, StreamFilter(frozenset(ALL)))[1].decode()
        assert '"v":2' in rest and '"v":3' in rest and '"v":1' not in rest
    finally:
        bus.close()


def test_bus_cursor_beyond_the_buffer_is_a_gap_never_a_silent_loss(bus_url):
    bus = open_bus(bus_url, capacity=10)
    try:
        start = bus.buffer.head
        for i in range(30):
            bus.publish([("observation", f'{{"v":{i}}}', ATTRS)])
        _wait_for(bus.buffer, start + 30)
        with pytest.raises(Gap):
            bus.buffer.read(start, StreamFilter(frozenset(ALL)))
        with pytest.raises(Gap):
            bus.buffer.read(start + 1000, StreamFilter(frozenset(ALL)))
        cursor, text = bus.buffer.read(start + 29, StreamFilter(frozenset(ALL)))
        assert (cursor, text.count(b"event: observation")) == (start + 30, 1)
    finally:
        bus.close()


def test_two_redis_buses_see_one_order(redis_url):
    first, second = open_bus(redis_url), open_bus(redis_url)
    try:
        start = first.buffer.head
        assert second.buffer.head == start
        first.publish([("observation", '{"from":"first"}', ATTRS)])
        second.publish([("observation", '{"from":"second"}', ATTRS)])
        for bus in (first, second):
            _wait_for(bus.buffer, start + 2)
        texts = [b.buffer.read(start, StreamFilter(frozenset(ALL)))[1] for b in (first, second)]
        assert texts[0] == texts[1] and texts[0].index(b"first") < texts[0].index(b"second")
    finally:
        first.close()
        second.close()
