"""End to end on the stack (issue 14): simulated viewers, each loading the demo's initial
view through nginx and holding a live stream, while observations are ingested meanwhile.

    python bench/bench_stack.py [--viewers 200] [--rate 2000] [--seconds 30] [--loads 2]
    python bench/bench_stack.py --port 8080   # a stack already up (make stack; cimtwin demo)

Starts its own stack (deploy/stack.py in a temporary folder, free loopback ports: nginx,
gunicorn gevent workers, PostgreSQL+PostGIS, Redis, Dask), builds the demo district into
it (`cimtwin demo`, tiles converted on the stack's Dask workers), registers the bench's
sensors, runs the load and stops the stack, also after an error. Loopback only. Each
viewer has its own loopback source address (127.0.1.x), as distinct clients would, so
nginx's cached access decisions (kept per client address) and the per-address write limits
see that many clients. The initial view is what the viewer page requests anonymously
(bench/README.md "Viewer initial view": 2 tileset.json, 6 tiles, ~727 KB).

Reported: error rate over every tile request, ingest post and stream (non-2xx, connection
errors, a stream that closed or sent `reset`), tile request p50/p99, whole initial view
p50/p99, stream delivery p50/p99 (ingest post sent -> each viewer read the batch) and
stream events lost (acknowledged readings x viewers - observation events counted).
"""
from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The stack's tokens (with --port: those the running stack was started with).
ADMIN = os.environ.get("CIMTWIN_ADMIN_TOKEN", "bench-admin-token")
INGEST = os.environ.get("CIMTWIN_INGEST_TOKEN", "bench-ingest-token")
INITIAL_VIEW = ["/tiles/demo-terrain/tileset.json", "/tiles/demo-buildings/tileset.json",
                "/tiles/demo-terrain/tiles/r.glb", "/tiles/demo-buildings/tiles/r.glb",
                *(f"/tiles/demo-buildings/tiles/r{n}.glb" for n in range(4))]
SENSORS = 200
BATCH = 400  # readings per ingest post (a gateway posting every 200 ms at 2,000 obs/s)
STREAM_REQUEST = b"GET /api/metrics/stream HTTP/1.0\r\nHost: bench\r\n\r\n"  # 1.0: no chunks


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def viewer_address(n: int) -> str:
    return f"127.0.{1 + n // 250}.{1 + n % 250}"


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


# --- the stack ----------------------------------------------------------------------------

def stack_env(folder: Path) -> dict:
    env = {**os.environ, "CIMTWIN_STACK_DIR": str(folder), "PYTHONPATH": str(ROOT),
           "CIMTWIN_ADMIN_TOKEN": ADMIN, "CIMTWIN_INGEST_TOKEN": INGEST}
    for name in ("nginx", "app", "postgres", "redis", "dask"):
        env[f"CIMTWIN_STACK_{name.upper()}_PORT"] = str(free_port())
    return env


def stack(action: str, env: dict, workers: int, log: Path) -> None:
    with open(log, "ab") as out:
        code = subprocess.run([sys.executable, str(ROOT / "deploy" / "stack.py"), action,
                               "--workers", str(workers)], env=env, stdout=out,
                              stderr=subprocess.STDOUT, timeout=300).returncode
    if code:
        raise RuntimeError(f"stack {action} failed; see {log}:\n{log.read_text()[-3000:]}")


def build_demo(env: dict, folder: Path) -> float:
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "server.cli", "demo"], cwd=folder,
                         env={**env, "CIMTWIN_CONFIG": str(folder / "cimtwin.toml")},
                         capture_output=True, text=True, timeout=600)
    if out.returncode:
        raise RuntimeError(f"cimtwin demo failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
    return time.monotonic() - started


def post(port: int, path: str, body: bytes, token: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", path, body, {"Authorization": f"Bearer {token}",
                                      "Content-Type": "application/json"})
    answer = conn.getresponse()
    answer.read()
    conn.close()
    return answer.status


# --- viewers: initial view ----------------------------------------------------------------

def one_view(port: int, address: str, tiles: list, errors: list) -> int:
    """Load the initial view once on a fresh connection; returns bytes received."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60,
                                      source_address=(address, 0))
    received = 0
    for path in INITIAL_VIEW:
        started = time.monotonic()
        try:
            conn.request("GET", path, headers={"Accept-Encoding": "gzip"})
            answer = conn.getresponse()
            body = answer.read()
        except (OSError, http.client.HTTPException) as exc:
            errors.append(f"{path}: {exc!r}")
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60,
                                              source_address=(address, 0))
            continue
        if answer.status != 200:
            errors.append(f"{path}: HTTP {answer.status}")
            continue
        tiles.append(time.monotonic() - started)
        received += len(body)
    conn.close()
    return received


def load_views(port: int, viewers: int, loads: int, go, out) -> None:
    """A process: ``viewers`` threads, each loading the initial view ``loads`` times."""
    tiles: list[float] = []
    views: list[float] = []
    errors: list[str] = []
    sizes: list[int] = []

    def viewer(n: int) -> None:
        go.wait()
        for _ in range(loads):
            started = time.monotonic()
            sizes.append(one_view(port, viewer_address(n), tiles, errors))
            views.append(time.monotonic() - started)
    threads = [threading.Thread(target=viewer, args=(n,)) for n in range(viewers)]
    for thread in threads:
        thread.start()
    out.put("ready")
    for thread in threads:
        thread.join()
    out.put({"tiles": tiles, "views": views, "errors": errors, "sizes": sizes,
             "requests": viewers * loads * len(INITIAL_VIEW)})


# --- viewers: live streams ----------------------------------------------------------------

class Reader:
    """One raw SSE client: counts observation events and when it first read each batch
    (every reading of batch b has the value b; batches are posted in order)."""

    def __init__(self, port: int, address: str):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30,
                                             source_address=(address, 0))
        self.sock.sendall(STREAM_REQUEST)
        self.head, self.tail, self.events, self.resets = b"", b"", 0, 0
        self.seen, self.arrivals, self.closed = -1, [], False

    def feed(self, data: bytes, now: float) -> None:
        if not data:
            self.closed = True
            return
        if len(self.head) < 4096:  # the answer's headers and first lines
            self.head += data[:4096]
        joined = self.tail + data
        for name, attr in ((b"event: observation", "events"), (b"event: reset", "resets")):
            setattr(self, attr, getattr(self, attr) + joined.count(name) - self.tail.count(name))
        self.tail = joined[-40:]
        at = joined.rfind(b'"value":')
        end = joined.find(b",", at)
        if at < 0 or end < 0:
            return
        try:
            batch = int(float(joined[at + 8:end]))
        except ValueError:
            return
        if batch > self.seen:
            self.arrivals.extend((b, now) for b in range(self.seen + 1, batch + 1))
            self.seen = batch

    @property
    def connected(self) -> bool:
        return b" 200 " in self.head.split(b"\r\n", 1)[0] and b": connected" in self.head


def read_streams(port: int, first: int, count: int, expected, done, out) -> None:
    """A process: ``count`` stream clients on one selector until, after ``done``, every
    client counted the ``expected`` (acknowledged) readings, or 60 s after it."""
    readers = [Reader(port, viewer_address(first + i)) for i in range(count)]
    selector = selectors.DefaultSelector()
    for reader in readers:
        reader.sock.setblocking(False)
        selector.register(reader.sock, selectors.EVENT_READ, reader)
    reported, drain_until = False, None
    hard_stop = time.monotonic() + 3600
    while time.monotonic() < hard_stop:
        for key, _ in selector.select(timeout=0.2):
            reader = key.data
            try:
                data = key.fileobj.recv(262144)
            except OSError:
                data = b""
            reader.feed(data, time.monotonic())
            if reader.closed:
                selector.unregister(key.fileobj)
        if not reported and all(r.connected or r.closed for r in readers):
            out.put("ready")
            reported = True
        if done.is_set():
            drain_until = drain_until or time.monotonic() + 60
            open_ = [r for r in readers if not r.closed]
            if all(r.events >= expected.value for r in open_) or time.monotonic() > drain_until:
                break
    out.put([{"connected": r.connected, "closed": r.closed, "events": r.events,
              "resets": r.resets, "arrivals": r.arrivals} for r in readers])
    for reader in readers:
        reader.sock.close()


# --- ingest -------------------------------------------------------------------------------

def sensors_body() -> bytes:
    return json.dumps([{"id": f"b{i:03d}", "classification": "public", "lon": 117.05,
                        "lat": 36.65, "metrics": "pm25"} for i in range(SENSORS)]).encode()


def batch_body(b: int, start: datetime, interval_ms: int) -> bytes:
    base = start + timedelta(milliseconds=b * interval_ms)
    return json.dumps([{"datastream": f"b{i % SENSORS:03d}:pm25", "value": float(b),
                        "time": (base + timedelta(milliseconds=i // SENSORS)).isoformat()}
                       for i in range(BATCH)]).encode()


def ingest(port: int, rate: int, seconds: float) -> dict:
    """Post batches of BATCH readings at ``rate`` readings/s from one gateway address."""
    interval = BATCH / rate
    batches = int(seconds / interval)
    start = datetime.now(UTC) - timedelta(hours=2)
    bodies = [batch_body(b, start, int(interval * 1000)) for b in range(batches)]
    headers = {"Authorization": f"Bearer {INGEST}", "Content-Type": "application/json"}

    def connect():
        return http.client.HTTPConnection("127.0.0.1", port, timeout=60,
                                          source_address=("127.0.2.1", 0))
    conn, sent, acked, errors = connect(), {}, [], []
    t0 = time.monotonic()
    for b, body in enumerate(bodies):
        wait = t0 + b * interval - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        sent[b] = time.monotonic()
        try:
            conn.request("POST", "/api/metrics", body, headers)
            answer = conn.getresponse()
            answer.read()
        except (OSError, http.client.HTTPException) as exc:
            errors.append(repr(exc))
            conn.close()
            conn = connect()
            continue
        if 200 <= answer.status < 300:
            acked.append(b)
        else:
            errors.append(f"HTTP {answer.status}")
    elapsed = time.monotonic() - t0
    conn.close()
    return {"sent": sent, "acked": len(acked) * BATCH, "errors": errors, "posts": batches,
            "rate": batches * BATCH / max(elapsed, batches * interval)}


# --- the run ------------------------------------------------------------------------------

def run_load(port: int, args) -> dict:
    ctx = multiprocessing.get_context("spawn")
    queue, go, done = ctx.Queue(), ctx.Event(), ctx.Event()
    expected = ctx.Value("q", 1 << 60)
    half = args.viewers // 2
    readers = [ctx.Process(target=read_streams, args=(port, first, count, expected, done,
                                                      queue))
               for first, count in ((0, half), (half, args.viewers - half))]
    loader = ctx.Process(target=load_views, args=(port, args.viewers, args.loads, go, queue))
    for proc in (*readers, loader):
        proc.start()
    try:
        for _ in range(3):
            assert queue.get(timeout=180) == "ready"
        go.set()
        posted = ingest(port, args.rate, args.seconds)
        expected.value = posted["acked"]
        done.set()
        results = [queue.get(timeout=300) for _ in range(3)]
    finally:
        done.set()
        go.set()
        for proc in (*readers, loader):
            proc.join(30)
            if proc.is_alive():
                proc.kill()
    views = next(r for r in results if isinstance(r, dict))
    streams = [s for r in results if isinstance(r, list) for s in r]
    return {"posted": posted, "views": views, "streams": streams}


def report(result: dict, args, demo_s: float, load: tuple) -> None:
    posted, views, streams = result["posted"], result["views"], result["streams"]
    delivery = [now - posted["sent"][b] for s in streams for b, now in s["arrivals"]
                if b in posted["sent"]]
    bad_streams = sum(not s["connected"] or s["closed"] or s["resets"] > 0 for s in streams)
    lost = sum(max(0, posted["acked"] - s["events"]) for s in streams)
    units = views["requests"] + posted["posts"] + len(streams)
    errors = len(views["errors"]) + len(posted["errors"]) + bad_streams
    sizes = views["sizes"]
    print(f"## stack end to end: {args.viewers} viewers ({args.loads} initial-view loads each,"
          f" one live stream each), {args.rate} obs/s asked for {args.seconds:.0f} s, "
          f"--workers {args.workers}; load average {load[0]:.1f} before, {load[1]:.1f} after; "
          f"demo built on the stack in {demo_s:.0f} s")
    print("| figure | value |\n|---|---|")
    rows = [
        ("errors / requests (tiles + ingest posts + streams)",
         f"{errors} / {units} ({100 * errors / max(units, 1):.2f} %): tiles "
         f"{len(views['errors'])}, ingest {len(posted['errors'])}, streams {bad_streams}"),
        ("initial view (bytes per load)", f"{min(sizes) if sizes else 0:,} - "
                                          f"{max(sizes) if sizes else 0:,}"),
        ("tile request p50 / p99", f"{pct(views['tiles'], .5):.0f} / "
                                   f"{pct(views['tiles'], .99):.0f} ms "
                                   f"({len(views['tiles'])} requests)"),
        ("whole initial view p50 / p99", f"{pct(views['views'], .5):.0f} / "
                                         f"{pct(views['views'], .99):.0f} ms"),
        ("ingest achieved", f"{posted['rate']:.0f} obs/s ({posted['acked']:,} acknowledged)"),
        ("stream delivery p50 / p99", f"{pct(delivery, .5):.0f} / {pct(delivery, .99):.0f} ms "
                                      f"({len(delivery):,} batch arrivals)"),
        ("stream events lost", f"{lost:,} of {posted['acked'] * len(streams):,}"),
    ]
    for name, value in rows:
        print(f"| {name} | {value} |")
    for line in (views["errors"] + posted["errors"])[:10]:
        print("  error:", line)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=200)
    parser.add_argument("--rate", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--loads", type=int, default=2, help="initial-view loads per viewer")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, help="nginx of a running stack with the demo "
                        "built (CIMTWIN_ADMIN_TOKEN / CIMTWIN_INGEST_TOKEN as it has them)")
    args = parser.parse_args()
    if args.viewers > 250 * 4:
        parser.error("at most 1000 viewers (source addresses 127.0.1-4.x)")
    if args.port:
        return measure(args.port, args, 0.0)
    with tempfile.TemporaryDirectory(prefix="cimtwin-bench-stack-") as tmp:
        os.chmod(tmp, 0o755)  # PostgreSQL runs as its own user when we are root
        folder = Path(tmp) / "stack"
        env, log = stack_env(folder), Path(tmp) / "stack.log"
        port = int(env["CIMTWIN_STACK_NGINX_PORT"])
        try:
            stack("start", env, args.workers, log)
            return measure(port, args, build_demo(env, folder))
        finally:
            stack("stop", env, args.workers, log)


def measure(port: int, args, demo_s: float) -> int:
    status = post(port, "/api/sensors", sensors_body(), ADMIN)
    if status not in (200, 201):
        raise RuntimeError(f"registering the bench sensors: HTTP {status}")
    load0 = os.getloadavg()[0]
    result = run_load(port, args)
    report(result, args, demo_s, (load0, os.getloadavg()[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
