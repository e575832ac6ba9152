#!/usr/bin/env python3
"""Supervisor overhead benchmark (not a test: it prints numbers).

1. Launch cost: N runs (default 200) of a trivial static C program, interleaved:
   (a) bare ``subprocess.run``, (b) ``SupervisedExecutor`` with every
   protection on (namespaces, per-slot uid, cgroup, rlimits, seccomp), (c)
   ``bwrap --unshare-all`` when installed. Prints medians and ratios.
   Targets on the reference 2-vCPU VM: (b) <= 3 x (a) and below isolate's
   ~5.4 ms.
2. CPU-time agreement: a 0.5 s busy loop's ``time_used`` (cgroup CPU) vs the
   kernel's ``wait4`` rusage of the same run (target within 2 %).
3. TLE kill latency: CPU time used past a 300 ms limit, and the wall time
   from start to verdict, for a ``for(;;);`` program.

Usage: ``python bench/supervisor_overhead.py [--runs N] [--no-bwrap]`` (as root).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TRIVIAL = "int main(void) { return 0; }\n"
BUSY = """#include <time.h>
int main(void) {
    struct timespec ts;
    do clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts); while (ts.tv_sec * 1000 + ts.tv_nsec / 1000000 < 500);
    return 0;
}
"""
SPIN = "int main(void) { for (;;) { __asm__ volatile(\"\"); } }\n"


def compile_static(workdir: Path, name: str, source: str) -> str:
    src = workdir / f"{name}.c"
    src.write_text(source)
    exe = workdir / name
    subprocess.run(["gcc", "-O2", "-static", "-o", str(exe), str(src)], check=True)
    return str(exe)


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--no-bwrap", action="store_true",
                        help="leave (c) out: bwrap's runs between the others slow them")
    args = parser.parse_args()
    from sio.workers.executors.supervised import SupervisedExecutor
    from sio.workers.supervisor.supervisor import RunSpec, supervise
    from sio.workers.supervisor.verdict import verdict

    work = Path(tempfile.mkdtemp(prefix="sio-bench-"))
    os.chdir(work)
    trivial = compile_static(work, "trivial", TRIVIAL)
    busy = compile_static(work, "busy", BUSY)
    spin = compile_static(work, "spin", SPIN)
    bwrap = None if args.no_bwrap else shutil.which("bwrap")

    samples: dict[str, list[float]] = {"a: subprocess.run": [], "b: SupervisedExecutor": []}
    if bwrap:
        samples["c: bwrap --unshare-all"] = []
    with SupervisedExecutor() as ex, open(os.devnull, "wb") as null:
        ex([trivial], stdout=null, time_limit=1000)  # warm up: launcher build, slot, netns
        for _ in range(args.runs):
            t = time.perf_counter()
            subprocess.run([trivial], check=True)
            samples["a: subprocess.run"].append(time.perf_counter() - t)
            t = time.perf_counter()
            renv = ex([trivial], stdout=null, time_limit=1000, mem_limit=65536)
            samples["b: SupervisedExecutor"].append(time.perf_counter() - t)
            assert renv["result_code"] == "OK", renv
            if bwrap:
                t = time.perf_counter()
                subprocess.run([bwrap, "--unshare-all", "--ro-bind", "/", "/", trivial],
                               check=True)
                samples["c: bwrap --unshare-all"].append(time.perf_counter() - t)

    base = median_ms(samples["a: subprocess.run"])
    base_mean = statistics.fmean(samples["a: subprocess.run"]) * 1000
    print(f"launch cost, median of {args.runs} interleaved runs of a trivial static program"
          " (the mean beside it: what a stream of runs pays):")
    for name, values in samples.items():
        m = median_ms(values)
        mean = statistics.fmean(values) * 1000
        print(f"  {name:26s} {m:6.2f} ms   ratio to (a) {m / base:5.2f}"
              f"   mean {mean:6.2f} ms, ratio {mean / base_mean:5.2f}")
    print("  (targets: b <= 3 x a, b < 5.4 ms = isolate on the reference VM)")

    print("CPU-time agreement, 0.5 s busy loop (time_used vs wait4 rusage of the same run):")
    diffs = []
    with open(os.devnull, "r+b") as null:
        for _ in range(5):
            outcome = supervise(RunSpec(
                argv=[busy], env={}, stdin=null.fileno(), stdout=null.fileno(),
                stderr=null.fileno(), time_limit_ms=5000, real_time_limit_ms=20000,
                mem_limit_kib=65536, output_limit=1 << 20))
            used, kernel = outcome.facts.cpu_ms, outcome.rusage_cpu_ms
            diffs.append(abs(used - kernel) / kernel * 100)
            print(f"  time_used {used} ms   rusage {kernel:.1f} ms   "
                  f"difference {diffs[-1]:.2f} %   verdict {verdict(outcome.facts)[0]}")
        print(f"  max difference {max(diffs):.2f} % (target <= 2 %)")

        print("TLE kill latency, for(;;); under a 300 ms CPU limit:")
        over, walls = [], []
        for _ in range(5):
            t = time.perf_counter()
            outcome = supervise(RunSpec(
                argv=[spin], env={}, stdin=null.fileno(), stdout=null.fileno(),
                stderr=null.fileno(), time_limit_ms=300, real_time_limit_ms=5000,
                mem_limit_kib=65536, output_limit=1 << 20))
            walls.append((time.perf_counter() - t) * 1000)
            over.append(outcome.facts.cpu_ms - 300)
            assert verdict(outcome.facts)[0] == "TLE"
        print(f"  CPU past the limit: median {statistics.median(over):.0f} ms, "
              f"max {max(over)} ms (target <= 50 ms)")
        print(f"  wall from start to verdict: median {statistics.median(walls):.0f} ms")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
