"""Run every benchmark of bench/README.md, one after the other, each in its own process.

    .venv/bin/python bench/run_all.py            # the README's runs (tens of minutes)
    .venv/bin/python bench/run_all.py --quick    # one repetition, small inputs (a few minutes)
    .venv/bin/python bench/run_all.py --only tiles compression

Each benchmark's output is printed and kept in bench/out/<name>.txt; the exit code is
non-zero when any benchmark failed. Figures for bench/README.md come from the full runs
(several repetitions, median), never from --quick.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent

#: name -> (script, arguments of the README's run, arguments of a quick run)
BENCHMARKS: dict[str, tuple[str, list[str], list[str]]] = {
    "compression": ("bench_compression.py", ["--reps", "3", "--grid", "400"],
                    ["--reps", "1", "--grid", "100"]),
    "tiles": ("bench_tiles.py", ["--triangles", "10000000", "--reps", "3", "--workers", "2"],
              ["--triangles", "200000", "--reps", "1", "--workers", "2"]),
    "tiles-textured": ("bench_tiles.py", ["--triangles", "2000000", "--reps", "3",
                                          "--workers", "2", "--textured"],
                       ["--triangles", "100000", "--reps", "1", "--workers", "2",
                        "--textured"]),
    "bim": ("bench_bim.py", ["--repeat", "3"], ["--repeat", "1"]),
    "demo": ("bench_demo.py", ["--repeat", "3"], ["--repeat", "1"]),
    "viewer": ("bench_viewer.py", ["--repeat", "3"], ["--repeat", "1"]),
}


def run_one(name: str, quick: bool, out_dir: Path) -> int:
    """Run one benchmark, echoing its output and keeping it in out_dir/<name>.txt."""
    script, full, short = BENCHMARKS[name]
    cmd = [sys.executable, str(BENCH / script), *(short if quick else full)]
    print(f"== {name}: {' '.join(cmd[1:])}", flush=True)
    start = time.monotonic()
    with open(out_dir / f"{name}.txt", "w", encoding="utf-8") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                cwd=BENCH.parent)
        for line in proc.stdout:
            sys.stdout.write(line)
            log.write(line)
        code = proc.wait()
    print(f"== {name}: exit {code} after {time.monotonic() - start:.0f} s", flush=True)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repetition, small inputs")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), metavar="NAME",
                        help=f"run only these: {', '.join(BENCHMARKS)}")
    args = parser.parse_args(argv)
    out_dir = BENCH / "out"
    out_dir.mkdir(exist_ok=True)
    failed = [name for name in (args.only or BENCHMARKS) if run_one(name, args.quick, out_dir)]
    if failed:
        print(f"failed: {', '.join(failed)} (see bench/out/)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
