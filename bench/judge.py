"""Benchmark: judging throughput of the ``exec`` job.

Runs 100 tests of a small program (the sum of two numbers, compiled here)
through the ``exec`` job (``sio.workers.runner.run``, ``use_filetracker:
false``, output checked by the default checker) and, in the same run, a
plain loop of ``subprocess.run`` of the same binary on the same inputs
(stdin from the file, stdout to a file, no isolation, no checking).
Prints both throughputs and their ratio (target ≥ 0.5).

Usage: ``python bench/judge.py [--tests 100] [--job exec]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sio.workers import runner

SOURCE = Path(__file__).resolve().parents[1] / "packages/sio-exec/tests/programs/sum.c"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tests", type=int, default=100)
    parser.add_argument("--job", default="exec")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        exe = d / "sum"
        subprocess.run(["gcc", "-O2", "-o", str(exe), str(SOURCE)], check=True)
        tests = []
        for i in range(args.tests):
            (d / f"{i}.in").write_text(f"{i} {i * 7}\n")
            (d / f"{i}.out").write_text(f"{i * 8}\n")
            tests.append((d / f"{i}.in", d / f"{i}.out"))
        os.environ.setdefault("SIO_EXEC_LOCK_FILE", str(d / "lock"))

        # Warm up both paths (slot cgroups, the pooled netns, page cache) so
        # that neither loop pays one-time costs.
        for inp, hint in tests[:5]:
            runner.run({
                "job_type": args.job, "use_filetracker": False, "exe_file": str(exe),
                "in_file": str(inp), "hint_file": str(hint), "check_output": True,
                "exec_time_limit": 1000, "exec_mem_limit": 65536,
            })
            with open(inp, "rb") as fin, open(d / "plain.out", "wb") as fout:
                subprocess.run([str(exe)], stdin=fin, stdout=fout, check=True)

        start = time.perf_counter()
        for inp, _ in tests:
            with open(inp, "rb") as fin, open(d / "plain.out", "wb") as fout:
                subprocess.run([str(exe)], stdin=fin, stdout=fout, check=True)
        plain = time.perf_counter() - start

        verdicts: dict[str, int] = {}
        start = time.perf_counter()
        for inp, hint in tests:
            env = runner.run({
                "job_type": args.job, "use_filetracker": False, "exe_file": str(exe),
                "in_file": str(inp), "hint_file": str(hint), "check_output": True,
                "exec_time_limit": 1000, "exec_mem_limit": 65536,
            })
            code = env.get("result_code") or env.get("exception", "FAILURE")
            verdicts[code] = verdicts.get(code, 0) + 1
        judged = time.perf_counter() - start

        # The same job function called directly (no runner: no entry-point
        # lookup, no temporary job directory), to separate the costs.
        from sio.workers import entrypoints

        job = entrypoints.load(entrypoints.JOBS_GROUP, args.job)
        workdir = d / "job"
        start = time.perf_counter()
        for inp, hint in tests:
            workdir.mkdir()
            env = job({
                "job_type": args.job, "use_filetracker": False, "exe_file": str(exe),
                "in_file": str(inp), "hint_file": str(hint), "check_output": True,
                "exec_time_limit": 1000, "exec_mem_limit": 65536,
            }, workdir=str(workdir))
            assert env["result_code"] == "OK", env
            shutil.rmtree(workdir)
        direct = time.perf_counter() - start

    n = args.tests
    print(f"plain subprocess loop: {n} runs in {plain:.2f} s = {n / plain:7.1f} runs/s")
    print(f"{args.job} job:             {n} tests in {judged:.2f} s = {n / judged:7.1f} tests/s"
          f"  verdicts {verdicts}")
    print(f"{args.job} job function direct: {n / direct:7.1f} tests/s (no runner)")
    print(f"throughput ratio {args.job}/plain: {plain / judged:.2f}  (target >= 0.5)")
    print(f"throughput ratio {args.job} direct/plain: {plain / direct:.2f}")
    return 0 if verdicts.get("OK") == n else 1


if __name__ == "__main__":
    sys.exit(main())
