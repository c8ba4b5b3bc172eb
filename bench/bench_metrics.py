"""Benchmark: live metrics at city scale (ingest over HTTP, MQTT, and the SSE fan-out).

Sections (all in one invocation, each run on a fresh server and data dir, `--repeat`
runs, median reported):

- ingest: HTTP batches of 1,000 observations (1,000 datastreams, each with an alarm rule),
  `--clients` keep-alive connections posting pre-encoded bodies; observations/s and the
  server's CPU ms per 1,000 observations. Side by side: the embedded default (SQLite WAL,
  in-process bus, 1 gunicorn gevent worker) and PostgreSQL + Redis with 2 gevent workers.
- mqtt: `--mqtt-messages` readings published (QoS 1) to a real Mosquitto, stored through
  the MQTT subscriber (server.metrics.mqtt_ingest) into the embedded store; readings/s.
- sse: `--subscribers` concurrent stream clients on one gevent worker (embedded), memory
  per idle subscriber (worker RSS growth / subscribers), then `--rate` observations/s
  (batches of 100 every 50 ms) for `--seconds`; p50/p99 latency from posting a batch to
  each subscriber reading it, and events lost (expected - received, over all clients).

Servers are real processes (tests/server/live_server.py); PostgreSQL, Redis and Mosquitto
come from tests/services.py. Usage:
`python bench/bench_metrics.py [--sections ingest,mqtt,sse] [--repeat 3]`.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import selectors
import socket
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.server.live_server import LiveServer
from tests.services import start_mosquitto, start_postgres, start_redis

ADMIN = {"Authorization": "Bearer admin-secret", "Content-Type": "application/json"}
INGEST = {"Authorization": "Bearer ingest-secret", "Content-Type": "application/json"}


def _sensors(count: int) -> bytes:
    return json.dumps([{"id": f"s{i:04d}", "classification": "public", "lon": 117.0 + i * 1e-4,
                        "lat": 36.6, "datastreams": [{"metric": "pm25", "rules": [
                            {"condition": "above", "threshold": 150, "hysteresis": 5}]}]}
                       for i in range(count)]).encode()


def _post(port: int, path: str, body: bytes, headers: dict) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("POST", path, body, headers)
    answer = conn.getresponse()
    data = answer.read()
    conn.close()
    if answer.status >= 300:
        raise RuntimeError(f"{path}: {answer.status} {data[:300]!r}")
    return json.loads(data)


def _bodies(batches: int, size: int, streams: int, start: datetime) -> list[bytes]:
    """Pre-encoded batches, every (datastream, time) unique; values below the rule."""
    out = []
    for b in range(batches):
        t = start + timedelta(seconds=b)
        stamp = t.isoformat(timespec="milliseconds")
        out.append(json.dumps({"observations": [
            {"datastream": f"s{i % streams:04d}:pm25", "value": float(20 + i % 50),
             "time": stamp if i < streams
             else (t + timedelta(milliseconds=i // streams)).isoformat()}
            for i in range(size)]}).encode())
    return out


def _server_cpu(server: LiveServer) -> float:
    proc = psutil.Process(server.process.pid)
    return sum(p.cpu_times().user + p.cpu_times().system
               for p in [proc, *proc.children(recursive=True)])


def _post_all(port: int, bodies: list[bytes], clients: int, legacy: bool = False) -> None:
    queue = list(reversed(bodies))
    lock = threading.Lock()

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            with lock:
                if not queue:
                    break
                body = queue.pop()
            conn.request("POST", "/api/metrics", body, INGEST)
            answer = conn.getresponse()
            data = answer.read()
            stored = json.loads(data).get("accepted" if legacy else "stored") \
                if answer.status == 202 else None
            if stored != 1000:
                raise RuntimeError(f"ingest answered {answer.status}: {data[:200]!r}")
        conn.close()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def ingest_once(store_url: str, bus_url: str, workers: int, batches: int, clients: int
                ) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        server = LiveServer(Path(tmp), store_url=store_url, bus_url=bus_url, workers=workers)
        try:
            _post(server.port, "/api/sensors", _sensors(1000), ADMIN)
            start = datetime.now(UTC) - timedelta(hours=3)
            bodies = _bodies(batches + 4, 1000, 1000, start)
            _post_all(server.port, bodies[:4], clients)  # warm up every worker
            cpu0, t0 = _server_cpu(server), time.perf_counter()
            _post_all(server.port, bodies[4:], clients)
            seconds, cpu = time.perf_counter() - t0, _server_cpu(server) - cpu0
        finally:
            server.stop()
    return batches * 1000 / seconds, cpu * 1000 / batches


class BaselineServer:
    """`cimtwin serve` (waitress) from another source tree, e.g. the code before issue 10."""

    def __init__(self, tree: Path, data_dir: Path):
        import subprocess

        from tests.services import free_port, wait_for_port
        self.port = free_port()
        env = {**os.environ, "CIMTWIN_DATA_DIR": str(data_dir), "PYTHONPATH": str(tree),
               "CIMTWIN_INGEST_TOKEN": "ingest-secret", "CIMTWIN_ADMIN_TOKEN": "admin-secret"}
        env.pop("CIMTWIN_CONFIG", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve", "--host", "127.0.0.1", "--port",
             str(self.port)], cwd=tree, env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        wait_for_port(self.port, 60, self.process)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


def baseline_once(tree: Path, batches: int, clients: int) -> tuple[float, float]:
    """The same load in the old observation shape (sensor_id, metric), no registration."""
    with tempfile.TemporaryDirectory() as tmp:
        server = BaselineServer(tree, Path(tmp))
        try:
            start = datetime.now(UTC) - timedelta(hours=3)
            bodies = [json.dumps({"observations": [
                {"sensor_id": f"s{i:04d}", "metric": "pm25", "value": float(20 + i % 50),
                 "time": (start + timedelta(seconds=b)).isoformat()} for i in range(1000)]}
            ).encode() for b in range(batches + 4)]
            _post_all(server.port, bodies[:4], clients, legacy=True)
            cpu0, t0 = _server_cpu(server), time.perf_counter()
            _post_all(server.port, bodies[4:], clients, legacy=True)
            seconds, cpu = time.perf_counter() - t0, _server_cpu(server) - cpu0
        finally:
            server.stop()
    return batches * 1000 / seconds, cpu * 1000 / batches


def bench_ingest(args) -> None:
    print(f"## ingest: HTTP batches of 1,000, {args.batches} batches per run, "
          f"{args.clients} client connections")
    pg = start_postgres()
    redis_service = start_redis(Path(tempfile.mkdtemp()))
    try:
        cases = {"embedded: SQLite WAL + in-process bus, 1 gevent worker":
                 (lambda: "sqlite://metrics.sqlite", "memory://", 1),
                 "PostgreSQL + Redis, 2 gevent workers":
                 (pg.create_database, redis_service.url + "/0", 2)}
        runs: dict[str, list] = {name: [] for name in cases}
        baseline = f"before issue 10: cimtwin serve (waitress) from {args.baseline}"
        if args.baseline:
            runs[baseline] = []
        for _ in range(args.repeat):  # interleaved, so all see the same machine load
            for name, (store, bus, workers) in cases.items():
                runs[name].append(ingest_once(store(), bus, workers, args.batches, args.clients))
            if args.baseline:
                runs[baseline].append(baseline_once(Path(args.baseline), args.batches,
                                                    args.clients))
        for name, values in runs.items():
            rates = [r for r, _ in values]
            print(f"{name}: median {statistics.median(rates):8.0f} obs/s "
                  f"(runs {', '.join(f'{r:.0f}' for r in rates)}); server CPU "
                  f"{statistics.median(c for _, c in values):.0f} ms per 1,000 obs")
    finally:
        redis_service.stop()
        pg.stop()


def mqtt_once(messages: int) -> float:
    import paho.mqtt.client as mqtt

    from server.metrics.bus import MemoryBus
    from server.metrics.mqtt_ingest import MqttIngest
    from server.metrics.runtime import MetricsRuntime
    from server.metrics.store import open_store
    with tempfile.TemporaryDirectory() as tmp:
        broker = start_mosquitto(Path(tmp) / "mqtt")
        runtime = MetricsRuntime(open_store("sqlite://metrics.sqlite", Path(tmp)), MemoryBus())
        runtime.register(json.loads(_sensors(100)))

        def validate(item):
            return runtime.parser.parse(item, int(time.time() * 1000))[0]
        sub = MqttIngest(f"mqtt://127.0.0.1:{broker.port}", ["cimtwin/+/+"], validate,
                         runtime.ingest_observations)
        sub.start()
        sub.connected.wait(30)
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        pub.max_inflight_messages_set(2000)
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        base = datetime.now(UTC) - timedelta(hours=1)
        payloads = [(f"cimtwin/s{i % 100:04d}/pm25", json.dumps(
            {"value": 30.0, "time": (base + timedelta(milliseconds=i)).isoformat()}))
            for i in range(messages)]
        t0 = time.perf_counter()
        for n, (topic, payload) in enumerate(payloads):
            pub.publish(topic, payload, qos=1)
            if n % 500 == 499:  # stay within Mosquitto's queue (max_queued_messages 1000)
                while sub.stats.received < n - 400:
                    time.sleep(0.005)
        while sub.stats.stored + sub.stats.duplicates + sub.stats.bad < messages:
            time.sleep(0.01)
        seconds = time.perf_counter() - t0
        pub.loop_stop()
        pub.disconnect()
        sub.stop()
        runtime.close()
        broker.stop()
    return messages / seconds


def bench_mqtt(args) -> None:
    rates = [mqtt_once(args.mqtt_messages) for _ in range(args.repeat)]
    print(f"## mqtt: {args.mqtt_messages} readings (QoS 1) through Mosquitto into the embedded "
          f"store: median {statistics.median(rates):.0f} readings/s "
          f"(runs {', '.join(f'{r:.0f}' for r in rates)})")


def _read_streams(port: int, count: int, batches: int, limit_s: float, out) -> None:
    """A reader process: ``count`` raw SSE clients on one selector. Sends back the events
    each client counted and, per client, the clock time it first read each batch (the
    value of a reading is its batch number; CLOCK_MONOTONIC is shared by processes)."""
    socks = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.sendall(b"GET /api/metrics/stream HTTP/1.1\r\nHost: b\r\n\r\n")
        s.setblocking(False)
        socks.append(s)
    selector = selectors.DefaultSelector()
    for s in socks:
        selector.register(s, selectors.EVENT_READ)
    events = dict.fromkeys(socks, 0)
    tails = dict.fromkeys(socks, b"")
    seen = dict.fromkeys(socks, -1)
    arrivals = {s: [] for s in socks}
    out.put("open")
    marker = b"event: observation"
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and min(seen.values()) < batches - 1:
        for key, _ in selector.select(timeout=0.2):
            s = key.fileobj
            data = s.recv(262144)
            if not data:
                continue
            now = time.monotonic()
            joined = tails[s] + data
            events[s] += joined.count(marker) - tails[s].count(marker)
            tails[s] = joined[-40:]
            at = joined.rfind(b'"value":')
            if at >= 0:
                try:
                    batch = int(float(joined[at + 8:joined.find(b",", at)]))
                except ValueError:
                    continue
                arrivals[s].extend((b, now) for b in range(seen[s] + 1, batch + 1))
                seen[s] = max(seen[s], batch)
    out.put((sum(events.values()), [a for s in socks for a in arrivals[s]]))
    for s in socks:
        s.close()


def sse_once(subscribers: int, rate: int, seconds: float, readers: int = 2) -> dict:
    import multiprocessing
    with tempfile.TemporaryDirectory() as tmp:
        server = LiveServer(Path(tmp), keepalive_s=5.0)
        try:
            _post(server.port, "/api/sensors", _sensors(100), ADMIN)
            worker = psutil.Process(server.process.pid).children()[0]
            rss0 = worker.memory_info().rss
            batches, size = int(seconds * rate / 100), 100
            queue = multiprocessing.Queue()
            procs = [multiprocessing.Process(target=_read_streams, args=(
                server.port, subscribers // readers, batches, seconds + 120, queue))
                for _ in range(readers)]
            for p in procs:
                p.start()
            for _ in procs:
                assert queue.get(timeout=120) == "open"
            time.sleep(3)  # every stream answered and idle
            idle = (worker.memory_info().rss - rss0) / subscribers
            start = datetime.now(UTC) - timedelta(hours=1)
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            cpu0 = _server_cpu(server)
            sent, t0 = {}, time.monotonic()
            for b in range(batches):
                stamp = (start + timedelta(milliseconds=b * 50)).isoformat()
                body = json.dumps([{"datastream": f"s{i:04d}:pm25", "value": float(b),
                                    "time": stamp} for i in range(size)]).encode()
                wait = t0 + b * 100 / rate - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                sent[b] = time.monotonic()
                conn.request("POST", "/api/metrics", body, INGEST)
                conn.getresponse().read()
            achieved = batches * size / (time.monotonic() - t0)
            results = [queue.get(timeout=300) for _ in procs]
            cpu = _server_cpu(server) - cpu0
            for p in procs:
                p.join()
        finally:
            server.stop()
    received = sum(r[0] for r in results)
    lat = sorted(now - sent[b] for r in results for b, now in r[1])
    return {"idle_kib": idle / 1024, "rate": achieved, "cpu_us": cpu * 1e6 / max(received, 1),
            "lost": batches * size * (subscribers // readers) * readers - received,
            "p50": lat[len(lat) // 2] * 1000, "p99": lat[int(len(lat) * 0.99)] * 1000}


def bench_sse(args) -> None:
    runs = [sse_once(args.subscribers, args.rate, args.seconds) for _ in range(args.repeat)]
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    p99s = ", ".join(f"{r['p99']:.0f}" for r in runs)
    print(f"## sse: {args.subscribers} subscribers on 1 gevent worker, {args.rate} obs/s asked "
          f"({med['rate']:.0f} achieved) for {args.seconds:.0f} s: latency p50 "
          f"{med['p50']:.0f} ms, p99 {med['p99']:.0f} ms (runs "
          f"{p99s}); lost "
          f"{', '.join(str(r['lost']) for r in runs)}; idle subscriber "
          f"{med['idle_kib']:.1f} KiB; server CPU {med['cpu_us']:.1f} µs per delivered event")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sections", default="ingest,mqtt,sse")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--baseline", help="a source tree of the code to compare with (ingest)")
    parser.add_argument("--mqtt-messages", type=int, default=20000)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    print(f"machine: {psutil.cpu_count()} cores, load average {psutil.getloadavg()[0]:.1f}")
    for section in args.sections.split(","):
        {"ingest": bench_ingest, "mqtt": bench_mqtt, "sse": bench_sse}[section](args)


if __name__ == "__main__":
    main()
