"""The counting backends on their own: choice, the qemu plugin, perf probing.

These run qemu directly (no supervisor) to check the plugin itself; the
executor's behaviour is in test_vcpu.py.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess

import pytest

from sio.workers import vcpu
from sio.workers.vcpu import perf, plugin, qemu

MS = vcpu.INSTRUCTIONS_PER_MS
STARTUP = 1_000_000  # generous bound on process start-up instructions


def run_qemu(tmp_path, program, *args, limit=None, **opts):
    with qemu.CountArea(tmp_path) as area:
        argv = qemu.argv_prefix(path=str(area.path), limit=limit, **opts)
        proc = subprocess.run([*argv, str(program), *args], capture_output=True, check=False)
        return proc, area.read()


def test_choose_backend_argument_wins(monkeypatch):
    monkeypatch.setenv(vcpu.ENV_VAR, "qemu")
    assert vcpu.choose_backend() == "qemu"
    assert vcpu.choose_backend("perf") == "perf"
    monkeypatch.delenv(vcpu.ENV_VAR)
    assert vcpu.choose_backend() == "perf"
    monkeypatch.setenv(vcpu.ENV_VAR, "valgrind")
    with pytest.raises(vcpu.BackendError, match="valgrind"):
        vcpu.choose_backend()


def test_conversion():
    assert vcpu.instructions_to_ms(2_000_000_000) == 1000
    assert vcpu.ms_to_instructions(500, "qemu") == 1_000_000_000


def test_plugin_built_once_per_source(tmp_path, monkeypatch):
    monkeypatch.setenv("SIO_NATIVE_CACHE", str(tmp_path))
    monkeypatch.setattr(plugin, "_built", None)
    if plugin.PLUGIN.installed():
        pytest.skip("the plugin was built at install")
    first = plugin.build_plugin()
    assert first.parent == tmp_path and plugin.source_hash() in first.name
    mtime = first.stat().st_mtime_ns
    monkeypatch.setattr(plugin, "_built", None)
    assert plugin.build_plugin() == first and first.stat().st_mtime_ns == mtime


def test_reference_loop_count_is_exact(tmp_path, qemu_path, vcpu_program):
    prog = vcpu_program("ref_loop")
    proc, result = run_qemu(tmp_path, prog, "20")
    assert proc.returncode == 0 and result.state == "exited"
    assert 20 * MS <= result.instructions < 20 * MS + STARTUP


def test_counts_are_identical_across_runs(tmp_path, qemu_path, vcpu_program):
    prog = vcpu_program("ref_loop")
    counts = {run_qemu(tmp_path, prog, "5")[1].instructions for _ in range(5)}
    assert len(counts) == 1


def test_limit_kills_within_one_percent(tmp_path, qemu_path, vcpu_program):
    limit = 50 * MS
    proc, result = run_qemu(tmp_path, vcpu_program("busy"), limit=limit)
    assert proc.returncode == -signal.SIGKILL
    assert result.state == "limit"
    assert limit < result.instructions <= limit * 1.01


def test_fatal_signal_keeps_exact_count(tmp_path, qemu_path, vcpu_program):
    prog = vcpu_program("crash")
    runs = [run_qemu(tmp_path, prog, "3") for _ in range(2)]
    for proc, result in runs:
        assert proc.returncode == -signal.SIGSEGV and result.state == "killed"
    assert runs[0][1].instructions == runs[1][1].instructions > 3 * 100_000


@pytest.mark.parametrize(("name", "syscall"), [("fork", "fork"), ("execs", "execve")])
def test_fork_and_exec_are_stopped(tmp_path, qemu_path, vcpu_program, name, syscall):
    proc, result = run_qemu(tmp_path, vcpu_program(name))
    assert proc.returncode == -signal.SIGKILL
    assert result.state == "forbidden"
    # glibc's fork() is clone(SIGCHLD): reported as clone
    assert result.forbidden_syscall in {syscall, "clone"}


def test_threads_are_counted(tmp_path, qemu_path, vcpu_program):
    prog = vcpu_program("threads")
    one = run_qemu(tmp_path, prog, "1")[1].instructions
    four = run_qemu(tmp_path, prog, "4")[1].instructions
    work = 20_000_000
    assert abs((four - one) - 3 * work) < 0.01 * work


def test_missing_area_reads_none(tmp_path):
    with qemu.CountArea(tmp_path) as area:
        assert area.read() is None


def test_perf_open_error_explains_fix():
    assert "qemu" in perf.open_error(errno.ENOENT)
    assert "no PMU" in perf.open_error(errno.ENOENT)
    assert "perf_event_paranoid" in perf.open_error(errno.EACCES, paranoid=3)
    assert "seccomp" in perf.open_error(errno.EPERM, paranoid=1)


def test_perf_probe_matches_machine():
    usable, text = perf.probe()
    if usable:
        pytest.skip("this machine has a hardware instruction counter")
    assert "failed with" in text and "SIO_INSTRUCTION_COUNTER=qemu" in text


def test_perf_counter_raises_counter_error_without_pmu():
    if perf.probe()[0]:
        pytest.skip("this machine has a hardware instruction counter")
    with pytest.raises(perf.CounterError, match="qemu"):
        with perf.PerfCounter(1000):
            pass


def test_perf_inheritance_and_overflow_kill(vcpu_program):
    """The perf machinery (inherit, enable_on_exec, overflow signals to the
    watcher, kill) exercised with the software task clock (ns)."""
    procs = []

    def kill():
        for p in procs:
            p.kill()

    limit_ns = 100_000_000
    with perf.PerfCounter(limit_ns, kill, event=perf.TASK_CLOCK) as counter:
        p = subprocess.Popen([str(vcpu_program("busy"))])
        procs.append(p)
        if counter._limit_hit:  # the limit came before ``p`` was in ``procs``
            p.kill()
        p.wait(timeout=60)
    assert counter.result.limit_hit
    assert counter.result.instructions >= limit_ns
    assert p.returncode == -signal.SIGKILL
    with perf.PerfCounter(event=perf.TASK_CLOCK) as counter:
        subprocess.run([str(vcpu_program("threads")), "4"], check=True, capture_output=True)
    assert counter.result.instructions > 0 and not counter.result.limit_hit


def test_arming_never_aims_sigkill_at_the_worker(vcpu_program, monkeypatch):
    """Arming hands the overflow signal over to the program in two fcntl
    calls; after each of them, a SIGKILL signal must never be owned by the
    worker's own thread (an overflow in between would kill the worker)."""
    import fcntl
    import struct
    import threading

    state = {"sig": None, "owner": None}
    bad = []
    real_fcntl = fcntl.fcntl

    def recording_fcntl(fd, cmd, arg=0):
        result = real_fcntl(fd, cmd, arg)
        if cmd == perf.F_SETSIG:
            state["sig"] = arg
        elif cmd == perf.F_SETOWN_EX:
            state["owner"] = struct.unpack("<ii", arg)
        if state["sig"] == signal.SIGKILL and state["owner"] != (perf.F_OWNER_PID, p.pid):
            bad.append(dict(state))
        return result

    monkeypatch.setattr(perf.fcntl, "fcntl", recording_fcntl)
    armed = threading.Event()
    limit_ns = 100_000_000
    counter = perf.PerfCounter(limit_ns, None, event=perf.TASK_CLOCK, target=lambda: p.pid)
    real_arm = counter._arm

    def arm():
        real_arm()
        armed.set()

    counter._arm = arm
    with counter:
        # held by the shell until ``p`` is known to the target and the check
        p = subprocess.Popen(["sh", "-c", 'read go && exec "$0"', str(vcpu_program("busy"))],
                             stdin=subprocess.PIPE)
        p.stdin.write(b"go\n")
        p.stdin.close()
        p.wait(timeout=60)
    assert armed.is_set() and counter.armed_pid == p.pid
    # killed by the kernel at the limit: SIGKILL, or the watcher's signal when
    # the overflow fell between arming's two calls (seen under qemu TCG)
    assert p.returncode in (-signal.SIGKILL, -counter._signo)
    assert counter.result.instructions >= limit_ns
    assert not bad, f"SIGKILL owned by someone else than the program: {bad}"


def test_probe_backends_reports_both():
    report = vcpu.probe_backends()
    assert set(report["backends"]) == {"perf", "qemu"}
    for entry in report["backends"].values():
        assert isinstance(entry["ok"], bool) and entry["detail"]
    assert report["configured"] == vcpu.choose_backend()
    assert report["configured_ok"] == report["backends"][report["configured"]]["ok"]


def test_jvm_detection(tmp_path, vcpu_program):
    from sio.workers.vcpu.run import is_jvm

    assert not is_jvm(vcpu_program("ref_loop"))
    assert is_jvm("/opt/jdk/bin/java")
    java = shutil.which("java")
    if java is None:
        pytest.skip("no java installed")
    renamed = tmp_path / "solution"
    shutil.copy(os.path.realpath(java), renamed)
    assert is_jvm(renamed)  # by its libjli.so dependency, whatever its name
