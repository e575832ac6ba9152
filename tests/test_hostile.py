"""The hostile-program suite: docs/hostile.rst §A–§F and §H 49 under SupervisedExecutor.

Each case is a small C source in tests/hostile/, compiled by the test. The
``run_hostile`` fixture (tests/conftest.py) checks the invariants after every
run: no process of the run survives (a /proc and cgroup scan) and the next
run sees an empty /tmp and no other process. The worker surviving is the test
process itself carrying on. Limits are small to keep the suite fast.
"""

from __future__ import annotations

import os
import socket

import pytest

TL = 300  # ms of CPU
WALL = 1500  # ms


def limits(**kw):
    base = {"time_limit": TL, "real_time_limit": WALL, "mem_limit": 64 * 1024}
    base.update(kw)
    return base


# ---- A. Time ----

def test_a01_infinite_loop_tle(run_hostile):
    r = run_hostile("a01_spin.c", **limits()).renv
    assert (r["result_code"], r["result_string"]) == ("TLE", "CPU time limit exceeded")
    assert TL <= r["time_used"] <= TL + 100
    assert r["measurement"]["time"] == "cgroup-cpu"


@pytest.mark.parametrize("mode", ["sleep", "pause", "pipe"])
def test_a02_sleeping_is_wall_tle(run_hostile, mode):
    r = run_hostile("a02_sleep.c", mode, **limits(real_time_limit=400)).renv
    assert (r["result_code"], r["result_string"]) == ("TLE", "wall time limit exceeded")
    assert r["real_time_killed"] is True
    assert r["time_used"] < 50


def test_a03_clock_spin_tle(run_hostile):
    assert run_hostile("a03_clock_spin.c", **limits()).renv["result_code"] == "TLE"


def test_a04_threads_cpu_is_summed(run_hostile):
    r = run_hostile("a04_threads.c", flags=("-pthread",), **limits(time_limit=400)).renv
    assert (r["result_code"], r["result_string"]) == ("TLE", "CPU time limit exceeded")


def test_a05_forking_children_is_rv_in_native_profile(run_hostile):
    r = run_hostile("a05_fork_burn.c", **limits()).renv
    assert (r["result_code"], r["result_string"]) == ("RV", "intercepted forbidden syscall clone")


def test_a06_caught_signals_do_not_save_it(run_hostile):
    r = run_hostile("a06_ignore_signals.c", **limits()).renv
    assert r["result_code"] == "TLE"


def test_a07_cannot_stop_the_supervisor(run_hostile):
    r = run_hostile("a07_stop_parent.c", **limits()).renv
    assert (r["result_code"], r["result_string"]) == ("TLE", "CPU time limit exceeded")


def test_a08_near_the_limit_is_stable(run_hostile):
    verdicts = {run_hostile("a08_near_limit.c", str(int(TL * 0.97)), **limits()).renv["result_code"]
                for _ in range(10)}
    assert verdicts == {"OK"}


# ---- B. Memory ----

def test_b09_malloc_until_null_is_mle(run_hostile):
    r = run_hostile("b09_malloc_until_null.c", **limits(time_limit=2000)).renv
    assert (r["result_code"], r["result_string"]) == ("MLE", "memory limit exceeded")
    assert r["measurement"]["memory"] == "cgroup-peak"


def test_b10_static_array_is_mle(run_hostile):
    assert run_hostile("b10_static_array.c", **limits(time_limit=2000)).renv["result_code"] == "MLE"


def test_b11_huge_new_is_mle(run_hostile):
    r = run_hostile("b11_new_huge.cpp", **limits(time_limit=2000, mem_limit=16 * 1024)).renv
    assert r["result_code"] == "MLE"


def test_b12_deep_recursion_is_mle(run_hostile):
    # The stack rlimit is twice the memory limit, so the cgroup limit is hit first: MLE.
    r = run_hostile("b12_recursion.c", **limits(time_limit=2000, mem_limit=32 * 1024)).renv
    assert r["result_code"] == "MLE"


def test_b13_address_space_is_not_memory(run_hostile):
    r = run_hostile("b13_mmap_8g.c", **limits()).renv
    assert r["result_code"] == "OK"
    assert 1024 <= r["mem_used"] < 8 * 1024


def test_b14_forked_allocators_are_rv_in_native_profile(run_hostile):
    assert run_hostile("b14_fork_alloc.c", **limits()).renv["result_code"] == "RV"


def test_b15_filling_tmp_is_mle_or_ole(run_hostile):
    r = run_hostile("b15_tmp_fill.c", executor_kwargs={"allow_local_open": True},
                    **limits(time_limit=3000, real_time_limit=6000)).renv
    assert r["result_code"] in ("MLE", "OLE")


def test_b15_plain_profile_forbids_writing_tmp(run_hostile):
    r = run_hostile("b15_tmp_fill.c", **limits()).renv
    assert (r["result_code"], r["result_string"]) == ("RV", "opening files")


@pytest.mark.parametrize("where", ["bss", "data", "heap", "stack"])
def test_b16_30_mib_fits_36_not_27(run_hostile, where):
    ok = run_hostile("b16_mem30.c", where, **limits(time_limit=2000, mem_limit=36 * 1024)).renv
    assert ok["result_code"] == "OK"
    # The v1 cgroup figure alone may read up to ~256 KiB per CPU low (charge
    # batches); mem_used is never below the program's own peak RSS.
    assert 30 * 1024 <= ok["mem_used"] < 36 * 1024
    mle = run_hostile("b16_mem30.c", where, **limits(time_limit=2000, mem_limit=27 * 1024)).renv
    assert mle["result_code"] == "MLE"


# ---- C. Output and files ----

def test_c17_putchar_loop_is_ole_quickly(run_hostile):
    r = run_hostile("c17_putchar_loop.c", **limits(time_limit=2000, output_limit=1 << 20)).renv
    assert (r["result_code"], r["result_string"]) == ("OLE", "output limit exceeded")
    assert r["time_used"] < 2000


def test_c18_stderr_flood_discarded_or_ole(run_hostile):
    discarded = run_hostile("c18_stderr_flood.c", stderr=None, **limits()).renv
    assert discarded["result_code"] == "TLE"
    to_file = run_hostile("c18_stderr_flood.c", **limits(time_limit=2000, output_limit=1 << 16))
    assert to_file.renv["result_code"] == "OLE"
    assert len(to_file.stderr) == (1 << 16) + 1


def test_c19_one_big_write_is_ole(run_hostile):
    r = run_hostile("c19_big_write.c", **limits(output_limit=64 * 1024))
    assert r.renv["result_code"] == "OLE"
    assert len(r.stdout) == 64 * 1024 + 1


def test_c19_exactly_the_limit_is_ok(run_hostile):
    r = run_hostile("c19_big_write.c", **limits(output_limit=1 << 20))
    assert r.renv["result_code"] == "OK"


def test_c20_growing_a_file_is_ole(run_hostile):
    r = run_hostile("c20_file_grow.c", executor_kwargs={"allow_local_open": True},
                    **limits(time_limit=2000, output_limit=1 << 20)).renv
    assert (r["result_code"], r["result_string"]) == ("OLE", "output limit exceeded")


def test_c20_job_dir_is_read_only(run_hostile):
    r = run_hostile("c20_file_grow.c", "grown", executor_kwargs={"allow_local_open": True},
                    **limits())
    assert r.renv["result_string"] == "program exited with code 2"
    assert not (r.job_dir / "grown").exists()


def test_c21_binary_output_is_kept_verbatim(run_hostile):
    r = run_hostile("c21_binary_output.c", **limits())
    assert r.renv["result_code"] == "OK"
    assert r.stdout == b"a\0b\xff\xfe\xc3(\n"


def test_c23_no_symlinks_or_fifos_in_job_dir(run_hostile):
    r = run_hostile("c23_symlinks.c", executor_kwargs={"allow_local_open": True}, **limits())
    assert r.renv["result_code"] == "OK"
    assert not (r.job_dir / "out").is_symlink() and not (r.job_dir / "fifo").exists()
    assert (r.job_dir / "exe").is_file()


def test_c24_tmp_and_children_do_not_outlive_the_run(run_hostile):
    plant = run_hostile("c24_leave_tmp.c", "plant", executor_kwargs={"allow_local_open": True},
                        **limits())
    assert plant.renv["result_code"] == "OK"
    check = run_hostile("c24_leave_tmp.c", "check", **limits())
    assert check.renv["result_code"] == "OK"
    child = run_hostile("c24_leave_tmp.c", "child", **limits())
    assert child.renv["result_code"] == "RV"


def test_c25_many_files_stopped_by_inode_limit(run_hostile):
    r = run_hostile("c25_many_files.c", executor_kwargs={"allow_local_open": True},
                    **limits(time_limit=2000))
    assert r.renv["result_code"] == "OK"


# ---- D. Filesystem and secrets ----

@pytest.mark.parametrize("allow_local_open", [False, True])
def test_d26_host_files_are_invisible(run_hostile, allow_local_open, tmp_path):
    other = tmp_path / "other-job-secret"
    other.write_text("secret")
    r = run_hostile("d26_read_secrets.c", str(other),
                    executor_kwargs={"allow_local_open": allow_local_open}, **limits())
    assert r.renv["result_code"] == "OK", r.stdout


def test_d27_no_secrets_in_environment_or_mounts(run_hostile, monkeypatch):
    monkeypatch.setenv("SIO_TEST_BROKER", "amqp://guest:hunter2@127.0.0.1:5672//")
    r = run_hostile("d27_environ_leak.c", env={"ONLY": "this"}, **limits())
    assert r.renv["result_code"] == "OK"
    assert b"ONLY=this" in r.stdout
    for secret in (b"hunter2", b"amqp", b"FILETRACKER", b"SIO_TEST", b"PATH="):
        assert secret not in r.stdout


@pytest.mark.parametrize("call", ["chroot", "mount", "unshare", "setns", "pivot_root"])
def test_d28_namespace_escapes_are_rv(run_hostile, call):
    r = run_hostile("d28_ns_escape.c", call, **limits()).renv
    assert (r["result_code"], r["result_string"]) == (
        "RV", f"intercepted forbidden syscall {call}")


def test_d29_only_safe_devices(run_hostile):
    assert run_hostile("d29_devices.c", **limits()).renv["result_code"] == "OK"
    writable = run_hostile("d29_devices.c", "rw", executor_kwargs={"allow_local_open": True},
                           **limits())
    assert writable.renv["result_code"] == "OK"


def test_d30_bad_paths_get_errno(run_hostile):
    assert run_hostile("d30_bad_paths.c", **limits()).renv["result_code"] == "OK"


# ---- E. Processes and signals ----

@pytest.mark.parametrize("source", ["e31_fork_bomb.c", "e32_daemon.c", "e33_fork100.c"])
def test_e31_e33_process_creation_is_rv(run_hostile, source):
    r = run_hostile(source, **limits()).renv
    assert (r["result_code"], r["result_string"]) == ("RV", "intercepted forbidden syscall clone")


def test_e34_cannot_kill_the_worker(run_hostile):
    r = run_hostile("e34_kill_all.c", **limits()).renv
    assert r["result_code"] in ("OK", "RE")
    assert r["result_string"] != "program exited with code 1"
    os.kill(os.getpid(), 0)


def test_e35_ptrace_is_rv(run_hostile):
    r = run_hostile("e35_ptrace.c", **limits()).renv
    assert (r["result_code"], r["result_string"]) == ("RV", "intercepted forbidden syscall ptrace")


@pytest.mark.parametrize("mode,name", [("execve", "execve"), ("system", "clone")])
def test_e36_exec_and_system_are_rv(run_hostile, mode, name):
    r = run_hostile("e36_exec_sh.c", mode, **limits())
    assert (r.renv["result_code"], r.renv["result_string"]) == (
        "RV", f"intercepted forbidden syscall {name}")
    assert b"escaped" not in r.stdout


@pytest.mark.parametrize("mode,expected", [
    ("segv", "program exited due to signal 11"),
    ("fpe", "program exited due to signal 8"),
    ("abort", "program exited due to signal 6"),
    ("exit42", "program exited with code 42"),
])
def test_e37_runtime_errors(run_hostile, mode, expected):
    r = run_hostile("e37_crash.c", mode, **limits()).renv
    assert (r["result_code"], r["result_string"]) == ("RE", expected)


def test_e37_ignore_return(run_hostile):
    r = run_hostile("e37_crash.c", "exit42", ignore_return=True, **limits()).renv
    assert r["result_code"] == "OK"


def test_e38_threads_allowed_and_counted(run_hostile):
    r = run_hostile("e38_threads.c", flags=("-pthread",), **limits()).renv
    assert r["result_code"] == "OK"


# ---- F. Network and IPC ----

@pytest.mark.parametrize("addr,port", [("1.1.1.1", "80"), ("127.0.0.1", "5672"),
                                       ("127.0.0.1", "6379")])
def test_f39_f40_network_is_rv(run_hostile, addr, port):
    r = run_hostile("f39_tcp_public.c", addr, port, **limits()).renv
    assert (r["result_code"], r["result_string"]) == ("RV", "intercepted forbidden syscall socket")


def test_f40_loopback_of_host_unreachable_even_without_seccomp(build_c, tmp_path, monkeypatch):
    """Defence in depth: with no seccomp filter at all, the pooled network
    namespace still has no route to the host's loopback services."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    from sio.workers.supervisor.supervisor import Profile, RunSpec, supervise
    from sio.workers.supervisor.verdict import verdict

    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 6379)) != 0:
            pytest.skip("no Redis on the host's loopback to try")
    exe = build_c("tests/hostile/f39_tcp_public.c", static=True)
    monkeypatch.chdir(tmp_path)
    with open(os.devnull, "r+b") as null:
        outcome = supervise(RunSpec(
            argv=[str(exe), "127.0.0.1", "6379"], env={}, stdin=null.fileno(),
            stdout=null.fileno(), stderr=null.fileno(), time_limit_ms=TL,
            real_time_limit_ms=WALL, mem_limit_kib=65536, output_limit=1 << 20,
            profile=Profile("unfiltered", "none", pids=8, nofile=64, stack_is_memory=True),
            plain_open=False))
    assert verdict(outcome.facts) == ("OK", "ok")


def test_f41_ipc_does_not_cross_runs(run_hostile):
    assert run_hostile("f41_ipc.c", "plant", **limits()).renv["result_code"] == "OK"
    assert run_hostile("f41_ipc.c", "check", **limits()).renv["result_code"] == "OK"
    r = run_hostile("f41_ipc.c", "unix", **limits()).renv
    assert (r["result_code"], r["result_string"]) == ("RV", "intercepted forbidden syscall socket")


# ---- H. Controller ----

def test_h49_printed_verdicts_are_ignored(run_hostile):
    r = run_hostile("h49_fake_ok.c", **limits())
    assert (r.renv["result_code"], r.renv["result_string"]) == ("RE", "program exited with code 1")
    assert r.stdout.startswith(b"OK\n")


def test_worker_killed_mid_run_leaves_no_survivor(build_c, tmp_path, find_survivors):
    """PR_SET_PDEATHSIG chain: a worker killed by SIGKILL takes its run with it."""
    import subprocess
    import sys
    import time

    survivors = find_survivors
    if os.geteuid() != 0:
        pytest.skip("needs root")
    exe = build_c("tests/hostile/a02_sleep.c", static=True)
    script = (
        "import sys\n"
        "from sio.workers.executors.supervised import SupervisedExecutor\n"
        "with SupervisedExecutor() as ex:\n"
        f"    ex([{str(exe)!r}], time_limit=60000, real_time_limit=60000)\n"
    )
    worker = subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path)
    try:
        deadline = time.monotonic() + 20
        while not survivors(include_busy=True) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert survivors(include_busy=True), "the run did not start"
    finally:
        worker.kill()
        worker.wait()
    deadline = time.monotonic() + 5
    while survivors() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert survivors() == []
