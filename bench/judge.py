"""Benchmark: judging throughput of the exec jobs against a plain loop.

A submission of ``--tests`` tests (default 100) of a small program (the sum
of two numbers, compiled here; with ``work`` it first spins that many ms of
CPU) is judged through a job (``sio.workers.runner.run``, ``use_filetracker:
false``, output checked by the default checker) and, in the same run, by a
**plain loop**: for every test a fresh directory, ``subprocess.run`` of the
same binary (stdin from the input, stdout to a file there), the output
compared byte for byte with the expected one, the directory removed — a
judge with no isolation and no measurement. The two loops alternate for
``--rounds`` rounds; the figure is the median of the rounds' throughput
ratios (job / plain), so that a burst of load on a shared machine does not
decide it. Target for ``exec``: ratio >= 0.8.

Sections:

* the jobs of ``--jobs`` (default ``exec,cpu-exec``; add ``vcpu-exec`` for
  the instruction-counting qemu backend (``$SIO_INSTRUCTION_COUNTER``, qemu
  unless set), ``unsafe-exec`` for the
  unsupervised one) on trivial tests, each against the plain loop;
* with ``--growth``: how the cost grows for the first job — 1, 2 and 4
  processes judging at once (each process its share of the tests, against
  as many plain loops) and tests of 1, 10 and 100 ms of CPU;
* with ``--breakdown``: where one test's time goes (the supervised run, the
  executor call, the job directory, the file copies, the checker).

Usage: ``python bench/judge.py [--tests 100] [--rounds 5] [--jobs exec,cpu-exec]
[--growth] [--breakdown]``.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sio.workers import jobdir, runner

STEPS = {
    # label: (module, attribute) timed around every call
    "supervised run": ("sio.workers.executors.supervised", "supervise"),
    "executor call": ("sio.executors.common", "_run_program"),
    "file copy (each)": ("sio.workers.ft", "download"),
    "default checker": ("sio.executors.checker", "default_check"),
}

PROGRAM = r"""
/* Reads two integers (and optionally a number of ms of CPU to spend first),
   prints their sum. */
#include <stdio.h>
#include <time.h>
static double cpu_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}
int main(void) {
    long long a, b, work = 0;
    if (scanf("%lld %lld", &a, &b) != 2) return 1;
    if (scanf("%lld", &work) == 1) {
        volatile unsigned long long x = 0;
        while (cpu_ms() < work) for (int i = 0; i < 10000; i++) x += i;
    }
    printf("%lld\n", a + b);
    return 0;
}
"""


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
    real_job_directory = jobdir._job_directory

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

    patched.append((jobdir, "_job_directory", real_job_directory))
    jobdir._job_directory = job_directory
    try:
        yield
    finally:
        for module, attr, func in patched:
            setattr(module, attr, func)


def make_tests(d: Path, n: int, work_ms: int, tag: str) -> list[tuple[Path, Path]]:
    tests = []
    for i in range(n):
        inp, hint = d / f"{tag}-{i}.in", d / f"{tag}-{i}.out"
        inp.write_text(f"{i} {i * 7}" + (f" {work_ms}" if work_ms else "") + "\n")
        hint.write_text(f"{i * 8}\n")
        tests.append((inp, hint))
    # Written back at once: on this VM's long-used, journal-less root ext4 a
    # few hundred files waiting for writeback made each inode allocation
    # (every test's directory and output, of either loop) ~0.1 ms dearer in
    # the rounds before the kernel wrote them back (measured; a fresh
    # journal-less image did not show it; docs/exec.rst).
    os.sync()
    return tests


def environ(job: str, exe: Path, inp: Path, hint: Path, work_ms: int) -> dict:
    return {
        "job_type": job, "use_filetracker": False, "exe_file": str(exe),
        "in_file": str(inp), "hint_file": str(hint), "check_output": True,
        "exec_time_limit": max(1000, 10 * work_ms), "exec_mem_limit": 65536,
    }


def plain_share(exe: str, tests: list[tuple[Path, Path]], scratch: str) -> float:
    """The plain judge over ``tests``; returns seconds."""
    start = time.perf_counter()
    for inp, hint in tests:
        workdir = tempfile.mkdtemp(dir=scratch)
        out = os.path.join(workdir, "out")
        with open(inp, "rb") as fin, open(out, "wb") as fout:
            subprocess.run([exe], stdin=fin, stdout=fout, check=True)
        with open(out, "rb") as got, open(hint, "rb") as want:
            if got.read() != want.read():
                raise AssertionError(f"plain loop: wrong answer on {inp}")
        shutil.rmtree(workdir)
    return time.perf_counter() - start


def job_share(job: str, exe: str, tests: list[tuple[Path, Path]], work_ms: int) -> tuple[float, dict]:
    """``tests`` through ``job``; returns (seconds, verdict counts)."""
    verdicts: dict[str, int] = {}
    start = time.perf_counter()
    for inp, hint in tests:
        env = runner.run(environ(job, Path(exe), inp, hint, work_ms))
        code = env.get("result_code") or env.get("exception", "FAILURE")
        verdicts[code] = verdicts.get(code, 0) + 1
    return time.perf_counter() - start, verdicts


def _call(args):
    kind, payload = args
    if kind == "plain":
        return plain_share(*payload), {}
    return job_share(*payload)


def compare(job: str, exe: Path, tests, work_ms: int, rounds: int, processes: int,
            scratch: Path, pool=None) -> dict:
    """Alternate the plain loop and ``job`` for ``rounds`` rounds with
    ``processes`` processes sharing the tests; return the medians."""
    shares = [tests[i::processes] for i in range(processes)]

    def run(kind: str) -> tuple[float, dict]:
        if kind == "plain":
            calls = [("plain", (str(exe), s, str(scratch))) for s in shares]
        else:
            calls = [("job", (job, str(exe), s, work_ms)) for s in shares]
        start = time.perf_counter()
        results = pool.map(_call, calls) if pool else [_call(c) for c in calls]
        verdicts: dict[str, int] = {}
        for _, v in results:
            for k, n in v.items():
                verdicts[k] = verdicts.get(k, 0) + n
        return time.perf_counter() - start, verdicts

    run("plain")  # warm up both paths (slot cgroups, page cache, pool processes)
    run("job")
    plain_times, job_times, verdicts = [], [], {}
    for _ in range(rounds):
        plain_times.append(run("plain")[0])
        t, v = run("job")
        job_times.append(t)
        for k, n in v.items():
            verdicts[k] = verdicts.get(k, 0) + n
    ratios = [p / j for p, j in zip(plain_times, job_times, strict=True)]
    return {
        "plain": statistics.median(plain_times), "job": statistics.median(job_times),
        "ratio": statistics.median(ratios), "ratios": ratios, "verdicts": verdicts,
        "n": len(tests),
    }


def breakdown(job: str, exe: Path, tests) -> None:
    steps: dict[str, list[float]] = {}
    with timed_steps(steps):
        for inp, hint in tests:
            whole = time.perf_counter()
            runner.run(environ(job, exe, inp, hint, 0))
            steps.setdefault("the whole run()", []).append((time.perf_counter() - whole) * 1e3)
    print(f"steps of one {job} job (median of {len(tests)}, ms):")
    for label in ("the whole run()", *STEPS, "job directory: create", "job directory: remove"):
        if label in steps:
            print(f"  {label:24s} {statistics.median(steps[label]):6.3f}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tests", type=int, default=100)
    parser.add_argument("--jobs", default="exec,cpu-exec",
                        help="comma-separated jobs (exec, cpu-exec, vcpu-exec, unsafe-exec)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="alternating rounds of both loops (the median ratio is printed)")
    parser.add_argument("--growth", action="store_true",
                        help="1, 2, 4 processes and 1, 10, 100 ms tests for the first job")
    parser.add_argument("--breakdown", action="store_true",
                        help="also time the steps of each job")
    args = parser.parse_args()
    jobs = [j for j in args.jobs.split(",") if j]
    ok = True
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        source = d / "sum.c"
        source.write_text(PROGRAM)
        exe = d / "sum"
        subprocess.run(["gcc", "-O2", "-o", str(exe), str(source)], check=True)
        scratch = d / "plain"
        scratch.mkdir()
        os.environ.setdefault("SIO_EXEC_LOCK_FILE", str(d / "lock"))
        if "vcpu-exec" in jobs and "SIO_INSTRUCTION_COUNTER" not in os.environ:
            # the qemu backend, which works everywhere (perf needs a hardware
            # counter: SIO_INSTRUCTION_COUNTER=perf to measure that one)
            os.environ["SIO_INSTRUCTION_COUNTER"] = "qemu"
        tests = make_tests(d, args.tests, 0, "t")

        print(f"{args.tests} trivial tests, median of {args.rounds} alternating rounds "
              "(plain = fresh directory + subprocess.run + byte compare):")
        for job in jobs:
            r = compare(job, exe, tests, 0, args.rounds, 1, scratch)
            good = r["verdicts"].get("OK") == r["n"] * args.rounds
            ok &= good
            print(f"  {job:12s} {r['n'] / r['job']:7.1f} tests/s   plain {r['n'] / r['plain']:7.1f}"
                  f" runs/s   ratio {r['ratio']:.2f}"
                  f"  (rounds {' '.join(f'{x:.2f}' for x in r['ratios'])})"
                  + ("" if good else f"  verdicts {r['verdicts']}"))

        if args.growth:
            job = jobs[0]
            print(f"growth of the {job} job's cost (ratio job/plain, same processes and tests):")
            ctx = multiprocessing.get_context("spawn")
            for processes in (1, 2, 4):
                with ctx.Pool(processes) as pool:
                    cells = []
                    for work in (1, 10, 100):
                        n = max(4 * processes, min(args.tests, 2000 // work))
                        wt = make_tests(d, n, work, f"w{work}")
                        r = compare(job, exe, wt, work, max(1, args.rounds // 2), processes,
                                    scratch, pool)
                        ok &= r["verdicts"].get("OK") == sum(r["verdicts"].values())
                        cells.append(f"{work:3d} ms: {r['ratio']:.2f} "
                                     f"({r['n'] / r['job']:6.1f}/s vs {r['n'] / r['plain']:6.1f}/s)")
                    print(f"  {processes} process{'es' if processes > 1 else '  '}  "
                          + "   ".join(cells))

        if args.breakdown:
            for job in jobs:
                breakdown(job, exe, tests)
    print("target: exec ratio >= 0.8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
