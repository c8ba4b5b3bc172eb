"""Benchmark: the whole demo build (generate + layers + terrain + buildings + BIM).

Runs `build_demo(force=True)` at the default size and, side by side in the same
invocation, at the small test size (256 px texture, 50 m terrain grid), each in a fresh
temporary data dir, `--repeat` times (default 3); prints the median wall time and peak
RSS growth of each. Usage: `python bench/bench_demo.py [--repeat 3]`.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server.config import load_config  # noqa: E402
from server.demo.build import build_demo  # noqa: E402
from server.services import open_services  # noqa: E402

CASES = {"default": None, "small (tests)": {"texture_px": 256, "terrain_step_m": 50.0}}


def run_once(params) -> tuple[float, float]:
    """One fresh build; returns (seconds, RSS growth MB)."""
    process = psutil.Process()
    with tempfile.TemporaryDirectory() as tmp:
        services = open_services(load_config({"data": {"dir": tmp}}))
        before = process.memory_info().rss
        start = time.perf_counter()
        build_demo(services, params=params, force=True)
        seconds = time.perf_counter() - start
        grown = (process.memory_info().rss - before) / 2**20
        services.close()
    return seconds, grown


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for name, params in CASES.items():
        runs = [run_once(params) for _ in range(args.repeat)]
        times = [t for t, _ in runs]
        print(f"{name:14} median {statistics.median(times):6.2f} s "
              f"(runs {', '.join(f'{t:.2f}' for t in times)}); "
              f"RSS growth median {statistics.median(m for _, m in runs):6.1f} MB")


if __name__ == "__main__":
    main()
