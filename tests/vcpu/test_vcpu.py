"""VCPUExecutor: deterministic time by instruction counting (issue 5, contracts §3.3).

The qemu backend runs everywhere; the perf backend's tests need a hardware
counter (``pmu`` marker) — without one only its SE path is checked.
"""

from __future__ import annotations

import os
import shutil

import pytest

from sio.workers import vcpu
from sio.workers.vcpu.run import wall_guard_ms

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the supervisor needs root")

MS = vcpu.INSTRUCTIONS_PER_MS
THREAD_WORK = 20_000_000  # instructions of one thread of programs/threads.c


@pytest.fixture
def run(tmp_path, monkeypatch):
    """``run(backend, argv, **kw) -> renv`` with VCPUExecutor, from a job dir."""
    from sio.workers.executors.vcpu import VCPUExecutor

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(vcpu.ENV_VAR, raising=False)

    def run_(backend, argv, executor_kw=None, **kw):
        with VCPUExecutor(backend=backend, **(executor_kw or {})) as ex:
            return ex([str(a) for a in argv], ignore_errors=True, **kw)

    return run_


# ---- qemu backend (CI) ----------------------------------------------------


def test_same_time_used_over_10_runs(run, qemu_path, vcpu_program):
    prog = vcpu_program("ref_loop")
    renvs = [run("qemu", [prog, 20]) for _ in range(10)]
    assert {r["result_code"] for r in renvs} == {"OK"}
    assert {r["time_used"] for r in renvs} == {20}
    assert len({r["measurement"]["instructions"] for r in renvs}) == 1
    m = renvs[0]["measurement"]
    assert m["time"] == "instructions-qemu" and m["memory"] == "cgroup-peak"


def test_one_second_reference_loop_reads_1000_ms(run, qemu_path, vcpu_program):
    renv = run("qemu", [vcpu_program("ref_loop"), 1000], time_limit=2000)
    assert renv["result_code"] == "OK"
    assert renv["time_used"] == 1000
    assert 1000 * MS <= renv["measurement"]["instructions"] < 1000 * MS + 1_000_000


def test_busy_loop_tle_within_one_percent(run, qemu_path, vcpu_program):
    renv = run("qemu", [vcpu_program("busy")], time_limit=500)
    assert renv["result_code"] == "TLE"
    assert renv["result_string"] == "time limit exceeded (instructions)"
    assert 500 * MS < renv["measurement"]["instructions"] <= 500 * MS * 1.01
    assert 500 <= renv["time_used"] <= 505
    assert renv["exit_signal"] is None


def test_threads_counted_across_threads(run, qemu_path, vcpu_program):
    prog = vcpu_program("threads")
    one = run("qemu", [prog, 1])
    four = run("qemu", [prog, 4])
    assert one["result_code"] == four["result_code"] == "OK"
    extra = four["measurement"]["instructions"] - one["measurement"]["instructions"]
    assert abs(extra - 3 * THREAD_WORK) < 0.01 * THREAD_WORK
    assert four["time_used"] >= 4 * THREAD_WORK // MS


@pytest.mark.parametrize(("name", "syscalls"), [("fork", {"clone", "fork"}), ("execs", {"execve"})])
def test_process_creation_is_rv(run, qemu_path, vcpu_program, name, syscalls):
    """The native profile forbids fork and exec; under qemu the plugin stops
    them before qemu performs them (an exec'ed program would run uncounted)."""
    renv = run("qemu", [vcpu_program(name)])
    assert renv["result_code"] == "RV"
    prefix = "intercepted forbidden syscall "
    assert renv["result_string"].startswith(prefix)
    assert renv["result_string"][len(prefix):] in syscalls
    assert renv["exit_signal"] is None


def test_write_open_rv_in_plain_profile_allowed_with_local_open(run, qemu_path, vcpu_program):
    prog = vcpu_program("write_tmp")
    plain = run("qemu", [prog])
    assert (plain["result_code"], plain["result_string"]) == ("RV", "opening files")
    local = run("qemu", [prog], executor_kw={"allow_local_open": True}, capture_output=True)
    assert local["result_code"] == "OK" and local["stdout"] == b"written\n"


def test_fatal_signal_is_re_with_deterministic_time(run, qemu_path, vcpu_program):
    prog = vcpu_program("crash")
    renvs = [run("qemu", [prog, 30]) for _ in range(2)]
    for renv in renvs:
        assert (renv["result_code"], renv["result_string"]) == ("RE", "program exited due to signal 11")
    assert renvs[0]["measurement"]["instructions"] == renvs[1]["measurement"]["instructions"]


def test_memory_excludes_qemu_and_mle_holds(run, qemu_path, vcpu_program):
    prog = vcpu_program("mem")
    ok = run("qemu", [prog, 16], mem_limit=64 * 1024)
    assert ok["result_code"] == "OK"
    assert 16 * 1024 <= ok["mem_used"] < 16 * 1024 + 3 * 1024
    mle = run("qemu", [prog, 16], mem_limit=8 * 1024)
    assert mle["result_code"] == "MLE"


def test_jvm_refused_under_qemu(run, qemu_path):
    java = shutil.which("java") or "java"
    renv = run("qemu", [java, "-version"])
    assert renv["result_code"] == "SE"
    assert "JVM" in renv["result_string"] and "native programs only" in renv["result_string"]


def test_environment_variable_chooses_and_argument_wins(run, qemu_path, vcpu_program, monkeypatch):
    prog = vcpu_program("ref_loop")
    monkeypatch.setenv(vcpu.ENV_VAR, "qemu")
    assert run(None, [prog, 1])["measurement"]["time"] == "instructions-qemu"
    assert run("perf", [prog, 1])["measurement"]["time"] == "instructions-perf"
    monkeypatch.setenv(vcpu.ENV_VAR, "valgrind")
    renv = run(None, [prog, 1])
    assert renv["result_code"] == "SE" and "valgrind" in renv["result_string"]


def test_wall_guard_longer_under_qemu():
    assert wall_guard_ms(1000, "perf") == 65_000
    assert wall_guard_ms(1000, "qemu") == 65_000 * vcpu.qemu.QEMU_WALL_SLOWDOWN


# ---- perf backend ---------------------------------------------------------


def test_perf_without_counter_is_se_with_fix(run, vcpu_program, pmu_available):
    if pmu_available:
        pytest.skip("this machine has a hardware instruction counter")
    renv = run("perf", [vcpu_program("ref_loop"), 1])
    assert renv["result_code"] == "SE"
    text = renv["result_string"]
    assert "perf_event_open" in text and "ENOENT" in text
    assert "SIO_INSTRUCTION_COUNTER=qemu" in text
    assert renv["time_used"] == 0  # never a CPU-time fallback


@pytest.mark.parametrize("backend", ["qemu", "perf-task-clock"])
def test_address_space_is_not_randomised(run, qemu_path, vcpu_program, monkeypatch, backend):
    if backend == "perf-task-clock":
        from sio.workers.vcpu import perf
        from sio.workers.vcpu import run as vcpu_run

        monkeypatch.setattr(vcpu_run, "PERF_EVENT", perf.TASK_CLOCK)
        monkeypatch.setattr(vcpu, "probe_backend", lambda backend: (True, "task clock"))
        backend = "perf"
    prog = vcpu_program("addresses")
    outputs = {run(backend, [prog], capture_output=True)["stdout"] for _ in range(3)}
    assert len(outputs) == 1 and outputs != {b""}


def test_perf_counts_the_program_and_nothing_of_the_launcher(
    run, build_c, tmp_path, monkeypatch
):
    """The counter is attached to the program held at its exec: under the
    supervisor it counts exactly what it counts for the same program spawned
    bare. Driven by user-mode page faults, a software event as deterministic
    as instructions here (before, the launcher's set-up added 33 faults)."""
    import subprocess

    from sio.workers.vcpu import perf
    from sio.workers.vcpu import run as vcpu_run
    from sio.workers.vcpu.clocks import no_aslr

    src = tmp_path / "trivial.c"
    src.write_text("int main(void) { return 0; }\n")
    prog = str(build_c(src, static=True))
    bare = set()
    for _ in range(3):
        with no_aslr(), perf.PerfCounter(event=perf.PAGE_FAULTS) as counter:
            subprocess.run([prog], env={}, check=True)
        bare.add(counter.result.instructions)
    assert len(bare) == 1

    monkeypatch.setattr(vcpu_run, "PERF_EVENT", perf.PAGE_FAULTS)
    monkeypatch.setattr(vcpu, "probe_backend", lambda backend: (True, "page faults"))
    counted = {run("perf", [prog])["measurement"]["instructions"] for _ in range(3)}
    assert counted == bare


def test_perf_path_with_software_event(run, vcpu_program, monkeypatch):
    """The perf backend end to end (counter inherited through the launcher,
    namespaces and threads; overflow watcher killing the run's cgroup),
    driven by the software task clock (ns) instead of instructions."""
    from sio.workers.vcpu import perf
    from sio.workers.vcpu import run as vcpu_run

    monkeypatch.setattr(vcpu_run, "PERF_EVENT", perf.TASK_CLOCK)
    monkeypatch.setattr(vcpu, "probe_backend", lambda backend: (True, "task clock"))
    ok = run("perf", [vcpu_program("threads"), 4])
    assert ok["result_code"] == "OK" and ok["measurement"]["time"] == "instructions-perf"
    assert ok["measurement"]["instructions"] > 0  # ns of task clock here
    tle = run("perf", [vcpu_program("busy")], time_limit=100)  # 2*10^8 ns = 0.2 s CPU
    assert tle["result_code"] == "TLE"
    assert tle["result_string"] == "time limit exceeded (instructions)"
    assert tle["measurement"]["instructions"] >= 100 * MS


@pytest.mark.pmu
def test_perf_same_time_used_over_10_runs(run, vcpu_program):
    prog = vcpu_program("ref_loop", static=True)
    renvs = [run("perf", [prog, 100]) for _ in range(10)]
    assert {r["result_code"] for r in renvs} == {"OK"}
    assert len({r["time_used"] for r in renvs}) == 1
    assert renvs[0]["measurement"]["time"] == "instructions-perf"
    assert abs(renvs[0]["time_used"] - 100) <= 2


@pytest.mark.pmu
def test_perf_busy_loop_tle_within_one_percent(run, vcpu_program):
    renv = run("perf", [vcpu_program("busy")], time_limit=500)
    assert renv["result_code"] == "TLE"
    assert 500 * MS <= renv["measurement"]["instructions"] <= 500 * MS * 1.01


@pytest.mark.pmu
def test_perf_threads_counted(run, vcpu_program):
    prog = vcpu_program("threads")
    one = run("perf", [prog, 1])["measurement"]["instructions"]
    four = run("perf", [prog, 4])["measurement"]["instructions"]
    assert abs((four - one) - 3 * THREAD_WORK) < 0.02 * THREAD_WORK
