#!/usr/bin/env python3
"""Benchmark: a hello C++ program through the ``compile`` job vs plain ``g++``.

Runs, interleaved in the same process, N times each:

* plain ``g++`` with the job's flags (the baseline),
* the job with ``system-g++``,
* the job with the sandboxed ``g++`` (when a ``compiler-gcc`` sandbox can be
  had: ``--sandboxed g++.VERSION`` or ``$SIO_BENCH_SANDBOXED_COMPILER``;
  images come from ``$SIO_SANDBOXES_URL`` or filetracker), and with
  ``--proot`` the same under PRoot; with ``--build-images`` (the default
  when neither ``$SIO_SANDBOXES_URL`` nor ``$FILETRACKER_URL`` is set) the
  ``compiler-gcc`` image is built here by the project's sandbox builder and
  installed from a ``file://`` URL into a temporary sandboxes directory,

and prints the medians and the ratios to the baseline. Targets: system
≤ 1.1×, sandboxed ≤ 1.5×. Usage: ``bench/compile.py [-n N] [--sandboxed NAME] [--proot]``.
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

from sio.compilers.cpp import SystemCpp
from sio.compilers.sandboxed import isolation
from sio.workers.runner import run

HELLO = '#include <iostream>\nint main() { std::cout << "Hello World" << std::endl; }\n'


def plain(src: Path, out: Path) -> None:
    cmd = ["g++", *SystemCpp.options, "-o", str(out), str(src), *SystemCpp.libraries]
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL)


def job(src: Path, out: Path, compiler: str) -> None:
    env = run({"job_type": "compile", "source_file": str(src), "out_file": str(out),
               "use_filetracker": False, "compiler": compiler})
    if env.get("result") != "SUCCESS" or env.get("result_code") != "OK":
        raise RuntimeError(f"{compiler}: {env.get('exception') or env.get('compiler_output')}")


def with_proot(src: Path, work: Path, compiler: str) -> None:
    os.environ["SIO_COMPILER_ISOLATION"] = "proot"
    try:
        job(src, work / "proot.e", compiler)
    finally:
        del os.environ["SIO_COMPILER_ISOLATION"]


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return (time.perf_counter() - start) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=15, help="runs of each (default 15)")
    parser.add_argument("--sandboxed", default=os.environ.get("SIO_BENCH_SANDBOXED_COMPILER"),
                        help="sandboxed compiler name, e.g. g++.12.2.0 (default: try 'g++')")
    parser.add_argument("--proot", action="store_true",
                        help="also time the sandboxed compiler under PRoot")
    parser.add_argument("--build-images", action=argparse.BooleanOptionalAction,
                        default=not (os.environ.get("SIO_SANDBOXES_URL")
                                     or os.environ.get("FILETRACKER_URL")),
                        help="build the compiler-gcc image here (default when no image "
                        "source is configured)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sio-bench-compile-"))
    try:
        if args.build_images:
            from sio.workers.sandbox_build import default_name, export_images

            images = export_images([default_name("compiler-gcc")], work / "images")
            os.environ["SIO_SANDBOXES_URL"] = images.as_uri()
            os.environ["SIO_SANDBOXES_BASEDIR"] = str(work / "sandboxes")
        src = work / "hello.cpp"
        src.write_text(HELLO)
        variants = {"plain g++": lambda: plain(src, work / "plain.e"),
                    "job system-g++": lambda: job(src, work / "sys.e", "system-g++")}
        sandboxed = args.sandboxed or "g++"
        try:
            job(src, work / "sbx.e", sandboxed)
        except Exception as exc:  # no sandbox image here: say so, bench the rest
            print(f"sandboxed ({sandboxed}) skipped: {str(exc)[:200]}")
        else:
            variants[f"job {sandboxed} ({isolation()})"] = (
                lambda: job(src, work / "sbx.e", sandboxed))
            if args.proot and isolation() != "proot":
                variants[f"job {sandboxed} (proot)"] = lambda: with_proot(src, work, sandboxed)
        for fn in variants.values():  # warm caches
            fn()
        times: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(args.n):
            for name, fn in variants.items():
                times[name].append(timed(fn))
        base = statistics.median(times["plain g++"])
        print(f"hello C++, {args.n} runs each, median wall ms (ratio to plain g++)")
        for name, values in times.items():
            med = statistics.median(values)
            target = ("" if name == "plain g++" else
                      "  target <= 1.1" if "system" in name else "  target <= 1.5")
            print(f"  {name:28s} {med:8.1f} ms  {med / base:5.2f}x{target}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
