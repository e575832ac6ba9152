#!/bin/sh
# Evidence for deterministic instruction counting (issue 5).
#
# Builds the test programs of tests/vcpu/programs and, for each instruction
# counter available here (perf: hardware counters; qemu: qemu-user + plugin),
# runs through VCPUExecutor:
#   - the 1-second reference loop 10 times (counts must be identical),
#   - a busy loop under a 500 ms limit (TLE, killed within 1 %),
#   - 4 threads of fixed work (counted across threads),
# printing one line per check, then the perf/qemu count ratio for the same
# binaries where both backends work. Needs root (the secure supervisor).
# Usage: bench/vcpu_check.sh [RUNS]     (default 10)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-$ROOT/.venv/bin/python}
[ -x "$PY" ] || PY=python3
RUNS=${1:-10}
WORK=$(mktemp -d /tmp/vcpu-check.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
chmod 755 "$WORK"
for p in ref_loop busy threads; do
    gcc -O2 -pthread -o "$WORK/$p" "$ROOT/tests/vcpu/programs/$p.c"
done
echo "vcpu_check: $(uname -srm), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
exec "$PY" - "$WORK" "$RUNS" <<'PYEOF'
import os, sys
from sio.workers.executors.vcpu import VCPUExecutor
from sio.workers.vcpu import BACKENDS, probe_backend

work, runs = sys.argv[1], int(sys.argv[2])
os.chdir(work)
REF_MS = 1000
WORK_PER_THREAD = 20_000_000
counts = {}


def run(backend, argv, **kw):
    with VCPUExecutor(backend=backend) as ex:
        return ex(argv, ignore_errors=True, **kw)


def line(backend, check, ok, text):
    print(f"[{backend}] {check:<22} {'PASS' if ok else 'FAIL'}  {text}", flush=True)


for backend in BACKENDS:
    usable, detail = probe_backend(backend)
    if not usable:
        print(f"[{backend}] unavailable: {detail}")
        continue
    rs = [run(backend, ["./ref_loop", str(REF_MS)], time_limit=10_000) for _ in range(runs)]
    ins = [r["measurement"].get("instructions") for r in rs]
    ok = len(set(ins)) == 1 and all(r["result_code"] == "OK" for r in rs)
    counts[(backend, "ref_loop")] = ins[0]
    line(backend, f"ref_loop x{runs}", ok,
         f"counts {sorted(set(ins))}, time_used {sorted({r['time_used'] for r in rs})} ms "
         f"(target ~{REF_MS}), wall {min(r['real_time_used'] for r in rs)}-"
         f"{max(r['real_time_used'] for r in rs)} ms")
    r = run(backend, ["./busy"], time_limit=500)
    n = r["measurement"].get("instructions") or 0
    over = (n / (500 * 2_000_000) - 1) * 100
    line(backend, "busy under 500 ms", r["result_code"] == "TLE" and 0 <= over <= 1,
         f"{r['result_code']} '{r['result_string']}', time_used {r['time_used']} ms, "
         f"{n} instructions = {over:+.3f} % past the limit")
    one = run(backend, ["./threads", "1"], time_limit=10_000)
    four = run(backend, ["./threads", "4"], time_limit=10_000)
    n1 = one["measurement"].get("instructions") or 0
    n4 = four["measurement"].get("instructions") or 0
    counts[(backend, "threads")] = n4
    extra = (n4 - n1) / WORK_PER_THREAD
    line(backend, "4 threads", four["result_code"] == "OK" and abs(extra - 3) < 0.03,
         f"4 threads {n4}, 1 thread {n1}: difference = {extra:.4f} x one thread's work (expect 3)")

for prog in ("ref_loop", "threads"):
    p, q = counts.get(("perf", prog)), counts.get(("qemu", prog))
    if p and q:
        print(f"[ratio] {prog:<22} perf/qemu = {p / q:.6f} ({p} / {q})")
    else:
        print(f"[ratio] {prog:<22} perf/qemu = n/a (needs both backends)")
PYEOF
