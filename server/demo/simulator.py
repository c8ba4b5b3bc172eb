"""Plausible live readings for the demo district's sensors.

Each metric follows a daily cycle in Beijing time (morning and evening rush hours for
traffic and NO2, office hours for power, working hours for construction dust and noise)
plus noise and, now and then, an alarm spike (a dust plume, a noisy night pour, a
pollution episode) so operators have something to react to. A reading depends only on
the sensor, the metric and the time step, so the same moment always gives the same
value: runs are reproducible and two simulators never disagree.

Three ways to run it: :func:`run_simulator` (any ingest callable), :func:`simulate_http`
(``cimtwin simulate --url ... --token ...`` posting to ``/api/metrics``), and
:func:`start_simulator_thread` (in-process, for ``make demo``). Readings only count for
registered datastreams: :func:`register_demo_sensors` registers the demo's sensors (from
the demo's sensor layer, so they sit where the map shows them) with alarm rules from the
metrics' default thresholds; the in-process simulator and ``cimtwin demo`` call it.
"""
from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np

BEIJING = timezone(timedelta(hours=8))
#: Chance that one reading of a sensor is an alarm spike.
SPIKE_CHANCE = 0.02
UNITS = {"pm25": "µg/m³", "pm10": "µg/m³", "no2": "µg/m³", "dust": "µg/m³",
         "noise_db": "dB(A)", "traffic_flow": "veh/h", "power_kw": "kW"}


def _bump(hour: float, centre: float, width: float) -> float:
    """A smooth peak around ``centre`` o'clock (wraps past midnight)."""
    d = min(abs(hour - centre), 24 - abs(hour - centre))
    return math.exp(-0.5 * (d / width) ** 2)


def _work(hour: float, start: float, end: float) -> float:
    """~1 inside working hours, ~0 outside, with soft edges."""
    return 1 / (1 + math.exp(-3 * (hour - start))) * 1 / (1 + math.exp(3 * (hour - end)))


def _cycle(metric: str, hour: float) -> tuple[float, float, float]:
    """(typical value at this hour, noise sd, spike value) of a metric.

    Spikes (x0.9-1.1) reach the metrics runtime's default alarm levels (pm25 150,
    pm10 350, no2 180, noise 85 dB(A), dust 800); normal readings stay below warning.
    """
    rush = _bump(hour, 8.0, 1.2) + 0.9 * _bump(hour, 18.0, 1.5)
    if metric == "pm25":
        return 38 + 18 * _bump(hour, 8.5, 3) + 10 * _bump(hour, 21, 3), 4.0, 180.0
    if metric == "pm10":
        return 65 + 30 * _bump(hour, 8.5, 3) + 15 * _bump(hour, 21, 3), 7.0, 400.0
    if metric == "no2":
        return 28 + 30 * rush, 4.0, 210.0
    if metric == "traffic_flow":
        return 250 + 700 * _work(hour, 6.5, 22) + 1500 * rush, 80.0, 3600.0
    if metric == "power_kw":
        return 180 + 900 * _work(hour, 8, 19), 25.0, 1900.0
    if metric == "dust":
        return 60 + 110 * _work(hour, 7, 18), 12.0, 900.0
    if metric == "noise_db":
        return 48 + 18 * _work(hour, 7, 18), 2.0, 96.0
    return 10.0, 1.0, 50.0


def _rng(sensor_id: str, metric: str, step: int, seed: int) -> np.random.Generator:
    digest = hashlib.sha256(f"{seed}/{sensor_id}/{metric}/{step}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def reading(sensor_id: str, metric: str, when: datetime, *, step_s: float = 2.0,
            seed: int = 1) -> float:
    """The simulated value of ``metric`` at ``sensor_id`` at ``when`` (aware datetime)."""
    local = when.astimezone(BEIJING)
    hour = local.hour + local.minute / 60 + local.second / 3600
    typical, sd, spike = _cycle(metric, hour)
    rng = _rng(sensor_id, metric, int(when.timestamp() // step_s), seed)
    if rng.random() < SPIKE_CHANCE:
        value = spike * (0.9 + 0.2 * rng.random())
    else:
        value = typical + sd * rng.standard_normal()
    return round(max(value, 0.0), 1)


def sensor_metrics(sensor: dict[str, Any]) -> list[str]:
    """A sensor's metrics, whether stored as a list or a comma-separated string."""
    metrics = sensor.get("metrics", [])
    if isinstance(metrics, str):
        metrics = metrics.split(",")
    return [m.strip() for m in metrics if m and m.strip()]


def readings_at(sensors: Iterable[dict[str, Any]], when: datetime, **kwargs) -> list[dict]:
    """One observation per sensor and metric, in the ``/api/metrics`` JSON shape."""
    stamp = when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return [{"sensor_id": s["sensor_id"], "metric": m,
             "value": reading(s["sensor_id"], m, when, **kwargs),
             "unit": UNITS.get(m, ""), "time": stamp}
            for s in sensors for m in sensor_metrics(s)]


def demo_sensors() -> list[dict[str, Any]]:
    """The demo district's sensors (their properties), straight from the generator."""
    # The generator loads ifcopenshell (its IFC writer); only its plan is needed here.
    from server.demo.generate import plan_district
    plan, _rng_after = plan_district()
    return [dict(s["properties"]) for s in plan["sensors"]]


DEMO_SENSOR_LAYER = "demo-sensors"


def demo_registrations(services) -> list[dict[str, Any]]:
    """Registration dicts of the demo sensors: from the demo sensor layer when it exists
    (lon/lat, attached building or project), else from the generator (no location)."""
    from layers.errors import LayerError
    from server.metrics.sensor_files import sensor_from_properties, sensors_from_geojson
    try:
        page = services.layers.query(DEMO_SENSOR_LAYER, limit=10000, offset=0)
        info = services.layers.get_layer(DEMO_SENSOR_LAYER)
    except LayerError:
        return [{**sensor_from_properties(s), "classification": "public"}
                for s in demo_sensors()]
    items = sensors_from_geojson({"type": "FeatureCollection", "features": page.features})
    classification = getattr(info, "classification", "public")
    for item in items:
        item.setdefault("classification", classification)
        if item.get("feature"):
            item["feature"]["layer"] = {"building": "demo-buildings",
                                        "project": "demo-projects"}.get(item["feature"]["type"])
    return items


def register_demo_sensors(services) -> dict[str, int]:
    """Register (or refresh) the demo sensors and their default alarm rules."""
    return services.metrics.register(demo_registrations(services), default_rules=True)


def run_simulator(ingest: Callable[[list[dict]], int], sensors: list[dict[str, Any]],
                  stop: threading.Event, interval_s: float = 2.0,
                  rounds: int | None = None, clock: Callable[[], float] = time.time) -> int:
    """Emit a round of readings every ``interval_s`` until ``stop`` is set (or ``rounds``).

    ``ingest`` receives a list of observations and returns how many it stored. A failing
    ingest (server down, token refused) is reported on the next rounds, not fatal.
    Returns the number of observations stored.
    """
    stored, done = 0, 0
    while not stop.is_set() and (rounds is None or done < rounds):
        when = datetime.fromtimestamp(clock(), tz=UTC)
        stored += int(ingest(readings_at(sensors, when, step_s=interval_s)) or 0)
        done += 1
        if rounds is None or done < rounds:
            stop.wait(interval_s)
    return stored


def http_ingest(url: str, token: str | None,
                timeout_s: float = 10.0) -> Callable[[list[dict]], int]:
    """An ingest callable that POSTs to ``<url>/api/metrics`` with a bearer token."""
    import requests  # ~0.2 s: only `cimtwin simulate` posts over HTTP
    session = requests.Session()
    endpoint = url.rstrip("/") + "/api/metrics"
    headers = {"Authorization": f"Bearer {token}"} if token else {}

    def ingest(observations: list[dict]) -> int:
        try:
            response = session.post(endpoint, json={"observations": observations},
                                    headers=headers, timeout=timeout_s)
        except requests.RequestException as exc:
            print(f"simulate: cannot reach {endpoint}: {exc}; retrying")
            return 0
        if response.status_code >= 400:
            print(f"simulate: {endpoint} answered {response.status_code}: {response.text[:300]}")
            return 0
        return len(observations)
    return ingest


def simulate_http(url: str, *, token: str | None = None, interval_s: float = 2.0,
                  count: int | None = None) -> int:
    """``cimtwin simulate``: post demo readings to a running server; returns an exit code.

    Runs ``count`` rounds (forever when None, until Ctrl-C). Exit code 1 when nothing
    could be stored (wrong URL or token), else 0.
    """
    stop = threading.Event()
    try:
        stored = run_simulator(http_ingest(url, token), demo_sensors(), stop, interval_s,
                               rounds=count)
    except KeyboardInterrupt:
        return 0
    return 0 if stored else 1


def start_simulator_thread(services,
                           interval_s: float = 2.0) -> tuple[threading.Thread, threading.Event]:
    """Feed the server's own metrics runtime from a daemon thread (``make demo``).

    Returns the thread and the event that stops it. ``services.metrics.ingest`` takes
    the same observation dicts as ``POST /api/metrics``.
    """
    stop = threading.Event()
    sensors = demo_sensors()
    register_demo_sensors(services)

    def ingest(observations: list[dict]) -> int:
        from server.metrics.errors import MetricError
        try:
            return services.metrics.ingest(observations)["received"]
        except MetricError as exc:
            print(f"simulate: readings refused: {exc}")
            return 0
    thread = threading.Thread(target=run_simulator, name="cimtwin-demo-simulator", daemon=True,
                              args=(ingest, sensors, stop, interval_s))
    thread.start()
    return thread, stop
