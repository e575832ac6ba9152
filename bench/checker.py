"""Benchmark: the default checker (sio.executors.compare) against ``cmp``.

Writes outputs of 10 MB and 100 MB (numbers, 10 per line), then times, in
the same run and on the same files (hot page cache):

* ``cmp`` on identical files (it must read both fully) — the reference;
* the default checker on identical files (the common case: accepted);
* the default checker on the same output with CRLF line ends (accepted, the
  slow path: every chunk is canonicalised);
* the default checker on a WA at the very end;
* a 100 MB single line without newline vs a short answer (bad-inputs §C 22).

Each checker run is a fresh process, so its peak RSS is its own: memory must
stay flat from 10 MB to 100 MB. Target: checker speed ≥ 0.5 × cmp's on the
identical files. Usage: ``python bench/checker.py [--size-mb 100] [--dir DIR]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time

_CHILD = """
import json, os, resource, sys, time
from sio.executors import compare
h = os.open(sys.argv[1], os.O_RDONLY)
o = os.open(sys.argv[2], os.O_RDONLY)
t = time.perf_counter()
r = compare.compare_fds(h, o)
elapsed = time.perf_counter() - t
print(json.dumps({"ok": r.ok, "message": r.message[:80], "seconds": elapsed,
                  "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def _write(path: str, size: int, crlf: bool = False, tail: bytes = b"") -> None:
    rnd = random.Random(1)
    line = b" ".join(b"%d" % rnd.randint(0, 10**9) for _ in range(10)) + b"\n"
    block = line * (1_000_000 // len(line) + 1)
    count = size // len(block) + 1
    if crlf:
        block = block.replace(b"\n", b"\r\n")
    with open(path, "wb") as f:
        for _ in range(count):
            f.write(block)
        f.write(tail)


def _checker(hint: str, out: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", _CHILD, hint, out],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def _cmp(a: str, b: str) -> float:
    t = time.perf_counter()
    subprocess.run(["cmp", "-s", a, b], check=False)
    return time.perf_counter() - t


def _best_checker(hint: str, out: str, repeat: int = 3) -> dict:
    return min((_checker(hint, out) for _ in range(repeat)), key=lambda r: r["seconds"])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--dir", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        for size_mb in sorted({10, args.size_mb}):
            size = size_mb * 1_000_000
            hint, same, crlf, wa = (os.path.join(d, n) for n in ("hint", "same", "crlf", "wa"))
            _write(hint, size, tail=b"1\n")
            _write(same, size, tail=b"1\n")
            _write(crlf, size, crlf=True, tail=b"1\r\n")
            _write(wa, size, tail=b"2\n")
            cmp_s = min(_cmp(hint, same) for _ in range(3))
            same_r = _best_checker(hint, same)
            crlf_r = _best_checker(hint, crlf, 1)
            wa_r = _best_checker(hint, wa, 1)
            mb = os.path.getsize(same) / 1e6
            print(f"== {mb:.0f} MB output ==")
            print(f"cmp (identical)            {cmp_s:7.3f} s  {mb / cmp_s:8.0f} MB/s")
            for label, r in (("checker (identical)", same_r), ("checker (CRLF, accepted)", crlf_r),
                             ("checker (WA at the end)", wa_r)):
                print(f"{label:26} {r['seconds']:7.3f} s  {mb / r['seconds']:8.0f} MB/s"
                      f"  peak RSS {r['peak_rss_kib'] / 1024:6.1f} MiB  ok={r['ok']} {r['message']}")
            ratio = cmp_s / same_r["seconds"]
            print(f"speed ratio checker/cmp (identical): {ratio:.2f}  (target >= 0.5)")
            for p in (same, crlf, wa):
                os.unlink(p)
        line = os.path.join(d, "line")
        with open(line, "wb") as f:
            for _ in range(args.size_mb):
                f.write(b"x" * 1_000_000)
        with open(hint, "wb") as f:
            f.write(b"42\n")
        r = _checker(hint, line)
        print(f"{args.size_mb} MB single line vs '42': {r['seconds']:.3f} s, peak RSS "
              f"{r['peak_rss_kib'] / 1024:.1f} MiB, ok={r['ok']}: {r['message']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
