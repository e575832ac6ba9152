"""Benchmark: judging throughput of the ``exec`` job.

Runs 100 tests of a small program (the sum of two numbers, compiled here)
through the ``exec`` job (``sio.workers.runner.run``, ``use_filetracker:
false``, output checked by the default checker) and, in the same run, a
plain loop of ``subprocess.run`` of the same binary on the same inputs
(stdin from the file, stdout to a file, no isolation, no checking).
Prints both throughputs and their ratio (target ≥ 0.5): the loops alternate
for ``--rounds`` rounds (default 5) and the median of the rounds' ratios is
the figure, so that a burst of load on a shared machine does not decide it.

With ``--breakdown`` it also times the steps of each job (the supervised
run, the job directory, the file copies, the checker) and prints their
medians: where a test's time goes (``docs/exec.rst``).

Usage: ``python bench/judge.py [--tests 100] [--rounds 5] [--job exec] [--breakdown]``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sio.workers import runner

STEPS = {
    # label: (module, attribute) timed around every call
    "supervised run": ("sio.workers.executors.supervised", "supervise"),
    "executor call": ("sio.executors.common", "_run_program"),
    "file copy (each)": ("sio.workers.ft", "download"),
    "default checker": ("sio.executors.checker", "default_check"),
}


@contextlib.contextmanager
def timed_steps(times: dict[str, list[float]]):
    """Wrap the functions of :data:`STEPS` and the runner's job directory so
    that every call's duration (ms) is appended to ``times[label]``."""
    import importlib

    def timing(label, func):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                times.setdefault(label, []).append((time.perf_counter() - start) * 1e3)
        return wrapper

    patched = []
    for label, (module_name, attr) in STEPS.items():
        module = importlib.import_module(module_name)
        patched.append((module, attr, getattr(module, attr)))
        setattr(module, attr, timing(label, getattr(module, attr)))
    real_job_directory = runner._job_directory

    @contextlib.contextmanager
    def job_directory():
        start = time.perf_counter()
        with real_job_directory() as path:
            times.setdefault("job directory: create", []).append(
                (time.perf_counter() - start) * 1e3)
            try:
                yield path
            finally:
                start = time.perf_counter()
        times.setdefault("job directory: remove", []).append((time.perf_counter() - start) * 1e3)

    patched.append((runner, "_job_directory", real_job_directory))
    runner._job_directory = job_directory
    try:
        yield
    finally:
        for module, attr, func in patched:
            setattr(module, attr, func)

SOURCE = Path(__file__).resolve().parents[1] / "packages/sio-exec/tests/programs/sum.c"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tests", type=int, default=100)
    parser.add_argument("--job", default="exec")
    parser.add_argument("--rounds", type=int, default=5,
                        help="alternating rounds of both loops (the median ratio is printed)")
    parser.add_argument("--breakdown", action="store_true",
                        help="also time the steps of each job")
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

        def environ(inp: Path, hint: Path) -> dict:
            return {
                "job_type": args.job, "use_filetracker": False, "exe_file": str(exe),
                "in_file": str(inp), "hint_file": str(hint), "check_output": True,
                "exec_time_limit": 1000, "exec_mem_limit": 65536,
            }

        # Rounds alternate the two loops, so that a burst of load on a shared
        # machine hits both alike; the ratio is the median of the rounds'.
        verdicts: dict[str, int] = {}
        plain_times, judged_times = [], []
        for _ in range(args.rounds):
            start = time.perf_counter()
            for inp, _ in tests:
                with open(inp, "rb") as fin, open(d / "plain.out", "wb") as fout:
                    subprocess.run([str(exe)], stdin=fin, stdout=fout, check=True)
            plain_times.append(time.perf_counter() - start)

            start = time.perf_counter()
            for inp, hint in tests:
                env = runner.run(environ(inp, hint))
                code = env.get("result_code") or env.get("exception", "FAILURE")
                verdicts[code] = verdicts.get(code, 0) + 1
            judged_times.append(time.perf_counter() - start)
        ratios = [p / j for p, j in zip(plain_times, judged_times, strict=True)]
        plain, judged = statistics.median(plain_times), statistics.median(judged_times)

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

        steps: dict[str, list[float]] = {}
        if args.breakdown:
            with timed_steps(steps):
                for inp, hint in tests:
                    whole = time.perf_counter()
                    runner.run({
                        "job_type": args.job, "use_filetracker": False, "exe_file": str(exe),
                        "in_file": str(inp), "hint_file": str(hint), "check_output": True,
                        "exec_time_limit": 1000, "exec_mem_limit": 65536,
                    })
                    steps.setdefault("the whole run()", []).append(
                        (time.perf_counter() - whole) * 1e3)

    n = args.tests
    if steps:
        print(f"steps of one {args.job} job (median of {n}, ms):")
        for label in ("the whole run()", *STEPS, "job directory: create",
                      "job directory: remove"):
            if label in steps:
                print(f"  {label:24s} {statistics.median(steps[label]):6.3f}")
    print(f"plain subprocess loop: {n} runs in {plain:.3f} s = {n / plain:7.1f} runs/s"
          f"  (median of {args.rounds} rounds)")
    print(f"{args.job} job:             {n} tests in {judged:.3f} s = {n / judged:7.1f} tests/s"
          f"  verdicts {verdicts}")
    print(f"{args.job} job function direct: {n / direct:7.1f} tests/s (no runner)")
    print(f"throughput ratio {args.job}/plain per round: "
          + " ".join(f"{r:.2f}" for r in ratios))
    print(f"throughput ratio {args.job}/plain: {statistics.median(ratios):.2f}"
          "  (median of the rounds; target >= 0.5)")
    print(f"throughput ratio {args.job} direct/plain: {plain / direct:.2f}")
    return 0 if verdicts.get("OK") == n * args.rounds else 1


if __name__ == "__main__":
    sys.exit(main())
