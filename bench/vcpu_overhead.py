"""Wall-time overhead of instruction counting (issue 5).

Runs the 1-second reference loop (tests/vcpu/programs/ref_loop.c: 2·10⁹
instructions = 1000 ms of virtual time) natively, under VCPUExecutor with the
qemu backend and with the perf backend (where this machine has hardware
counters), and under bare ``qemu-x86_64`` (no plugin, no supervisor: what
qemu itself costs), interleaved in one run, and prints the median wall time of each and its ratio
to native. Targets: qemu ≤ 5×, perf ≤ 1.05×. Needs root (the supervisor).

Usage: .venv/bin/python bench/vcpu_overhead.py [--runs N] [--ms MS]
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

from sio.workers.executors.vcpu import VCPUExecutor
from sio.workers.vcpu import probe_backend
from sio.workers.vcpu.plugin import find_qemu

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "tests" / "vcpu" / "programs" / "ref_loop.c"


def native(prog: Path, ms: int, prefix: tuple[str, ...] = ()) -> float:
    start = time.monotonic()
    subprocess.run([*prefix, str(prog), str(ms)], check=True, stdout=subprocess.DEVNULL)
    return (time.monotonic() - start) * 1000


def counted(backend: str, ms: int) -> tuple[float, dict]:
    with VCPUExecutor(backend=backend) as ex:
        start = time.monotonic()
        renv = ex(["./ref_loop", str(ms)], time_limit=20 * ms + 1000)
        return (time.monotonic() - start) * 1000, renv


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--ms", type=int, default=1000, help="virtual ms of the reference loop")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vcpu-overhead-"))
    os.chmod(work, 0o755)
    try:
        prog = work / "ref_loop"
        subprocess.run(["gcc", "-O2", "-o", str(prog), str(SOURCE)], check=True)
        os.chdir(work)
        usable = {b: probe_backend(b) for b in ("qemu", "perf")}
        bare_qemu = find_qemu()
        walls: dict[str, list[float]] = {"native": [], "bare-qemu": [], "qemu": [], "perf": []}
        last: dict[str, dict] = {}
        # interleaved, so that a change of the machine's load hits all alike
        for _ in range(args.runs):
            walls["native"].append(native(prog, args.ms))
            if bare_qemu:
                walls["bare-qemu"].append(native(prog, args.ms, (bare_qemu,)))
            for backend, (ok, _detail) in usable.items():
                if ok:
                    wall, last[backend] = counted(backend, args.ms)
                    walls[backend].append(wall)
        base = statistics.median(walls["native"])
        base_min = min(walls["native"])
        rows = [("native", walls["native"], "", "")]
        if bare_qemu:
            rows.append(("bare-qemu", walls["bare-qemu"], "",
                         "qemu-x86_64 alone: no plugin, no supervisor"))
        for backend, (ok, detail) in usable.items():
            if not ok:
                rows.append((backend, None, "", f"unavailable: {detail[:90]}"))
                continue
            renv = last[backend]
            rows.append((backend, walls[backend], renv["time_used"], renv["result_code"]))
        print(f"reference loop {args.ms} virtual ms, {args.runs} interleaved runs, "
              f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
        print(f"{'backend':<10} {'median ms':>9} {'x native':>9} {'min ms':>8} {'x native':>9} "
              f"{'time_used':>10}  note")
        for name, wall, used, note in rows:
            if wall is None:
                print(f"{name:<10} {'-':>9} {'-':>9} {'-':>8} {'-':>9} {'-':>10}  {note}")
            else:
                med, low = statistics.median(wall), min(wall)
                print(f"{name:<10} {med:>9.1f} {med / base:>9.2f} {low:>8.1f} {low / base_min:>9.2f} "
                      f"{used!s:>10}  {note}")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
