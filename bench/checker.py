"""Benchmark: the default checker (sio.executors.compare) against ``cmp``.

Writes outputs of 10 MB and 100 MB (numbers, 10 per line), then times, in
the same run and on the same files (hot page cache), in ``--rounds``
alternating rounds:

* ``cmp`` on identical files (it must read both fully) — the reference;
* the default checker on identical files (the common case: accepted);
* the default checker on the same output with CRLF line ends (accepted);
* the same output with a space at the end of every line (accepted);
* a WA at the very end (the line number is counted, the files read twice);
* a 100 MB single line without newline vs a short answer (docs/hostile.rst §C 22).

The figures are the medians over the rounds; a ratio is ``cmp``'s time over
the checker's time in the same round (the speed relative to ``cmp``).
Targets: ≥ 0.5 on identical files, ≥ 0.25 with CRLF line ends. Each checker
run is a fresh child process and its peak RSS (``ru_maxrss``) is its own:
memory must stay flat from 10 MB to 100 MB.

``--baseline REV`` also times ``compare.py`` as of the git revision ``REV``
in the same rounds (before/after figures from one run).
Usage: ``python bench/checker.py [--size-mb 100] [--rounds 5] [--dir DIR]
[--baseline REV]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_MODULE = "packages/sio-exec/src/sio/executors/compare.py"

_CHILD = """
import importlib.util, json, os, resource, sys, time
if sys.argv[3]:
    spec = importlib.util.spec_from_file_location("compare_under_test", sys.argv[3])
    compare = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = compare
    spec.loader.exec_module(compare)
else:
    from sio.executors import compare
h = os.open(sys.argv[1], os.O_RDONLY)
o = os.open(sys.argv[2], os.O_RDONLY)
t = time.perf_counter()
r = compare.compare_fds(h, o)
elapsed = time.perf_counter() - t
print(json.dumps({"ok": r.ok, "message": r.message[:80], "seconds": elapsed,
                  "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def _write(path: str, size: int, eol: bytes = b"\n", tail: bytes = b"") -> None:
    rnd = random.Random(1)
    line = b" ".join(b"%d" % rnd.randint(0, 10**9) for _ in range(10)) + b"\n"
    block = line * (1_000_000 // len(line) + 1)
    count = size // len(block) + 1
    block = block.replace(b"\n", eol)
    with open(path, "wb") as f:
        for _ in range(count):
            f.write(block)
        f.write(tail)


def _checker(hint: str, out: str, module: str = "") -> dict:
    proc = subprocess.run([sys.executable, "-c", _CHILD, hint, out, module],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def _cmp(a: str, b: str) -> float:
    t = time.perf_counter()
    subprocess.run(["cmp", "-s", a, b], check=False)
    return time.perf_counter() - t


def _baseline_module(rev: str, directory: str) -> str:
    source = subprocess.run(["git", "-C", _ROOT, "show", f"{rev}:{_MODULE}"],
                            capture_output=True, check=True).stdout
    path = os.path.join(directory, "compare_baseline.py")
    with open(path, "wb") as f:
        f.write(source)
    return path


def _size_run(d: str, size_mb: int, rounds: int, impls: dict[str, str]) -> None:
    size = size_mb * 1_000_000
    paths = {n: os.path.join(d, n) for n in ("hint", "same", "crlf", "spaces", "wa")}
    _write(paths["hint"], size, tail=b"1\n")
    _write(paths["same"], size, tail=b"1\n")
    _write(paths["crlf"], size, eol=b"\r\n", tail=b"1\r\n")
    _write(paths["spaces"], size, eol=b" \n", tail=b"1 \n")
    _write(paths["wa"], size, tail=b"2\n")
    cases = {"identical": "same", "CRLF": "crlf", "trailing spaces": "spaces",
             "WA at the end": "wa"}
    cmp_times: list[float] = []
    runs: dict[tuple[str, str], list[dict]] = {}
    for _ in range(rounds):
        cmp_times.append(_cmp(paths["hint"], paths["same"]))
        for impl, module in impls.items():
            for case, name in cases.items():
                runs.setdefault((impl, case), []).append(
                    _checker(paths["hint"], paths[name], module))
    mb = os.path.getsize(paths["same"]) / 1e6
    cmp_s = statistics.median(cmp_times)
    print(f"== {mb:.0f} MB output, {rounds} rounds, medians ==")
    print(f"{'cmp (identical)':34} {cmp_s:7.3f} s  {mb / cmp_s:6.0f} MB/s")
    for (impl, case), results in runs.items():
        seconds = statistics.median(r["seconds"] for r in results)
        ratio = statistics.median(c / r["seconds"] for c, r in zip(cmp_times, results, strict=True))
        rss = max(r["peak_rss_kib"] for r in results) / 1024
        last = results[-1]
        print(f"{impl + ': ' + case:34} {seconds:7.3f} s  {mb / seconds:6.0f} MB/s  "
              f"x cmp {ratio:5.2f}  peak RSS {rss:5.1f} MiB  ok={last['ok']} {last['message']}")
    for p in paths.values():
        os.unlink(p)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dir", default=None)
    parser.add_argument("--baseline", metavar="REV", default=None,
                        help="also time compare.py of this git revision")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        impls = {"checker": ""}
        if args.baseline:
            impls = {f"baseline {args.baseline}": _baseline_module(args.baseline, d), **impls}
        print("targets: x cmp >= 0.5 identical, >= 0.25 CRLF; peak RSS flat 10 -> 100 MB")
        for size_mb in sorted({10, args.size_mb}):
            _size_run(d, size_mb, args.rounds, impls)
        line, hint = os.path.join(d, "line"), os.path.join(d, "hint")
        with open(line, "wb") as f:
            for _ in range(args.size_mb):
                f.write(b"x" * 1_000_000)
        with open(hint, "wb") as f:
            f.write(b"42\n")
        for impl, module in impls.items():
            r = _checker(hint, line, module)
            print(f"{impl}: {args.size_mb} MB single line vs '42': {r['seconds']:.3f} s, "
                  f"peak RSS {r['peak_rss_kib'] / 1024:.1f} MiB, ok={r['ok']}: {r['message']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
