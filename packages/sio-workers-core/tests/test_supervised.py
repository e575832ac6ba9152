"""SupervisedExecutor: commands, renv keys, profiles (python, jvm), return codes."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from sio.workers.executors.base import ExecError, noquote
from sio.workers.executors.supervised import SupervisedExecutor, UnsupportedCommand, command_argv

RENV_KEYS = {"return_code", "result_code", "result_string", "time_used", "mem_used",
             "real_time_used", "num_syscalls", "exit_signal", "measurement"}


def usable() -> bool:
    from sio.workers.supervisor import cgroups

    return os.geteuid() == 0 and cgroups.detect() is not None


needs_supervisor = pytest.mark.skipif(not usable(), reason="needs root and cgroups")


def test_command_argv_forms():
    assert command_argv(["./a b", "x;y"]) == ["./a b", "x;y"]
    assert command_argv(noquote("./prog --flag 'a b'")) == ["./prog", "--flag", "a b"]
    assert command_argv("./prog 1 2") == ["./prog", "1", "2"]
    assert command_argv([noquote("./prog"), "a;b"]) == ["./prog", "a;b"]
    for bad in ("./a | ./b", "./a > out", "./a; rm -rf ~", "echo $HOME", "ls *"):
        with pytest.raises(UnsupportedCommand):
            command_argv(noquote(bad))


@needs_supervisor
def test_shell_syntax_is_se():
    with SupervisedExecutor() as ex:
        renv = ex(noquote("./a | ./b"), ignore_errors=True)
        assert renv["result_code"] == "SE" and "shell syntax" in renv["result_string"]
        with pytest.raises(ExecError) as info:
            ex(noquote("./a | ./b"))
    assert info.value.renv["result_code"] == "SE"


@needs_supervisor
def test_capture_output_env_and_renv(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WORKER_SECRET", "s3cret")
    with SupervisedExecutor() as ex:
        renv = ex(["/usr/bin/env"], env={"A": "1"}, capture_output=True, split_lines=True)
    assert RENV_KEYS <= set(renv)
    assert sorted(renv["stdout"]) == [b"A=1", b"LANGUAGE=en_US.UTF-8", b"LC_ALL=en_US.UTF-8"]
    assert (renv["result_code"], renv["return_code"], renv["num_syscalls"]) == ("OK", 0, 0)
    assert renv["measurement"]["time"] == "cgroup-cpu"
    assert renv["measurement"]["memory"] == "cgroup-peak"


@needs_supervisor
def test_program_return_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with SupervisedExecutor(use_program_return_code=True) as ex:
        renv = ex(["/bin/false"], ignore_errors=True)
    assert (renv["result_code"], renv["return_code"]) == ("RE", 1)
    with SupervisedExecutor() as ex:
        renv = ex(["/bin/false"], ignore_errors=True)
    assert (renv["result_code"], renv["return_code"]) == ("RE", 0)


@needs_supervisor
def test_stdin_is_passed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in").write_text("hello\n")
    with SupervisedExecutor() as ex, open(tmp_path / "in", "rb") as fin:
        renv = ex(["/bin/cat"], stdin=fin, capture_output=True)
    assert renv["stdout"] == b"hello\n"


@needs_supervisor
def test_python_profile(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.py").write_text("import threading\nprint(sum(range(10)))\n"
                                   "open('/tmp/x', 'w').write('x')\n")
    with SupervisedExecutor(allow_local_open=True) as ex:
        renv = ex(["python3", "p.py"], profile="python", capture_output=True,
                  time_limit=5000, mem_limit=256 * 1024)
    assert (renv["result_code"], renv["stdout"]) == ("OK", b"45\n")
    with SupervisedExecutor() as ex:
        renv = ex(["python3", "-c", "open('/tmp/x', 'w')"], profile="python",
                  time_limit=5000, mem_limit=256 * 1024, ignore_errors=True)
    assert renv["result_string"] == "program exited with code 1"  # PermissionError
    with SupervisedExecutor() as ex:
        renv = ex(["python3", "-c", "import socket; socket.socket()"], profile="python",
                  time_limit=5000, mem_limit=256 * 1024, ignore_errors=True)
    assert renv["result_string"] == "intercepted forbidden syscall socket"


@needs_supervisor
@pytest.mark.skipif(not shutil.which("javac"), reason="no JDK")
def test_jvm_profile_threads(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "Hello.java").write_text(
        "public class Hello { public static void main(String[] a) throws Exception {"
        " Thread t = new Thread(() -> System.out.println(\"thread\")); t.start(); t.join();"
        " System.out.println(\"hello\"); } }")
    subprocess.run(["javac", "Hello.java"], check=True)
    with SupervisedExecutor(allow_local_open=True) as ex:
        renv = ex(["java", "-Xmx64m", "-XX:+UseSerialGC", "-cp", ".", "Hello"],
                  profile="jvm", capture_output=True, time_limit=10000, mem_limit=512 * 1024)
    assert (renv["result_code"], renv["stdout"]) == ("OK", b"thread\nhello\n")


@needs_supervisor
def test_concurrent_runs_get_distinct_slots(tmp_path, monkeypatch):
    import threading

    monkeypatch.chdir(tmp_path)
    results: list[dict] = []

    def one() -> None:
        with SupervisedExecutor() as ex:
            results.append(ex(
                ["python3", "-c", "import os, time; print(os.getuid()); time.sleep(0.3)"],
                profile="python", capture_output=True, time_limit=5000,
                mem_limit=256 * 1024))

    threads = [threading.Thread(target=one) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    uids = {r["stdout"].strip() for r in results}
    assert [r["result_code"] for r in results] == ["OK"] * 3
    assert len(uids) == 3 and all(int(u) >= 1000 for u in uids)


@needs_supervisor
def test_a_process_keeps_one_slot_between_its_runs(tmp_path, monkeypatch):
    """After a run the process keeps its slot locked (no other process can
    take it meanwhile), and its next run takes it without opening a lock
    file; changed slot settings (here the uid base) make it take the slot
    afresh; a forked child does not think it holds it."""
    import fcntl

    from sio.workers.supervisor import slots

    monkeypatch.chdir(tmp_path)

    def lockable(path):
        fd = os.open(path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False
        finally:
            os.close(fd)

    with SupervisedExecutor() as ex:
        assert ex(["/bin/true"])["result_code"] == "OK"
        kept = slots._idle
        assert kept is not None
        lock = slots.slot_lock_path(kept[2].index)
        assert not lockable(lock)  # ours between the runs
        opened = []
        real_open = os.open
        monkeypatch.setattr(slots.os, "open", lambda *a, **k: opened.append(a[0])
                            or real_open(*a, **k))
        assert ex(["/bin/true"])["result_code"] == "OK"
        assert slots._idle[2] is kept[2] and not any(str(p).endswith(".lock") for p in opened)
        monkeypatch.undo()
        monkeypatch.chdir(tmp_path)
        pid = os.fork()
        if pid == 0:  # the child forgets the kept slot: its runs lock their own
            os._exit(0 if slots._idle is None else 1)
        assert os.waitpid(pid, 0)[1] == 0
        monkeypatch.setenv("SIO_SUPERVISOR_UID_BASE", "61100")
        renv = ex(["/usr/bin/id", "-u"], capture_output=True)
        assert renv["result_code"] == "OK" and renv["stdout"].strip() == b"61100"
        assert slots._idle is not None and slots._idle[2] is not kept[2]
    monkeypatch.delenv("SIO_SUPERVISOR_UID_BASE")
    with SupervisedExecutor() as ex:
        assert ex(["/bin/true"])["result_code"] == "OK"
    assert slots._idle[2].uid == 61000 + slots._idle[2].index  # the default base again


@needs_supervisor
def test_only_the_program_is_charged_to_the_run_cgroup(tmp_path, monkeypatch):
    """The launcher and the namespace init stay outside the run's cgroup: the
    program alone is counted (CPU, memory, pids), never the setup."""
    import threading
    import time

    from sio.workers.supervisor import build, cgroups

    monkeypatch.chdir(tmp_path)
    launcher = os.path.realpath(build.launcher_path())
    seen: dict[int, str] = {}
    done = threading.Event()

    def watch() -> None:
        if cgroups.detect() == "v1":
            slots = (cgroups.CGROUP_MOUNT / "pids" / cgroups.V1_PREFIX).glob("slot-*/cgroup.procs")
        else:
            slots = cgroups.v2_root().glob("slot-*/cgroup.procs")
        files = list(slots)
        while not done.is_set():
            for procs in files:
                try:
                    pids = procs.read_text().split()
                except OSError:
                    continue
                for pid in pids:
                    try:
                        seen[int(pid)] = os.readlink(f"/proc/{pid}/exe")
                    except OSError:
                        pass
            time.sleep(0.005)

    with SupervisedExecutor() as ex:
        ex(["/bin/true"])  # the slot cgroups exist from here on
        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            renv = ex(["/bin/sleep", "0.5"], time_limit=5000)
        finally:
            done.set()
            watcher.join()
    assert renv["result_code"] == "OK"
    assert set(seen.values()) == {os.path.realpath("/bin/sleep")}, seen
    assert launcher not in seen.values()


@needs_supervisor
def test_supervisor_failure_is_se_with_reason(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with SupervisedExecutor() as ex:
        renv = ex(["./missing-program"], ignore_errors=True)
    assert renv["result_code"] == "SE"
    assert "missing-program" in renv["result_string"]
    assert renv["return_code"] == 1


@needs_supervisor
def test_limits_from_environ_with_prefix(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with SupervisedExecutor() as ex:
        renv = ex(["/bin/sleep", "5"], environ={"exec_real_time_limit": 200},
                  environ_prefix="exec_", ignore_errors=True)
    assert (renv["result_code"], renv["result_string"]) == ("TLE", "wall time limit exceeded")
    assert renv["real_time_killed"] is True


@needs_supervisor
def test_mem_used_of_a_tiny_program_is_never_zero(tmp_path, monkeypatch, build_c):
    # The v1 cgroup peak alone can read 0 for a program smaller than the
    # per-CPU charge batches; the program's own peak RSS is the floor.
    src = tmp_path / "tiny.c"
    src.write_text("int main(void) { return 0; }\n")
    tiny = str(build_c(src, static=True))
    monkeypatch.chdir(tmp_path)
    with SupervisedExecutor() as ex:
        used = [ex([tiny], time_limit=1000, mem_limit=65536)["mem_used"] for _ in range(10)]
    assert all(100 <= kib < 4096 for kib in used), used


@needs_supervisor
@pytest.mark.parametrize("libc", ["glibc", "musl"])
def test_launcher_builds_and_runs_with_either_libc(libc, tmp_path, monkeypatch):
    from sio.workers.supervisor import build

    if libc == "musl" and not shutil.which("musl-gcc"):
        pytest.skip("musl-tools not installed")
    monkeypatch.setenv("SIO_LAUNCHER_LIBC", libc)
    monkeypatch.setenv("SIO_LAUNCHER_CACHE", str(tmp_path / "cache"))
    launcher = build.launcher_path()
    assert launcher.parent == tmp_path / "cache" and build.libc() == libc
    monkeypatch.chdir(tmp_path)
    with SupervisedExecutor() as ex:
        ok = ex(["/bin/true"], time_limit=1000)
        rv = ex(["/usr/bin/python3", "-c", "import socket; socket.socket()"],
                time_limit=5000, ignore_errors=True)
    assert ok["result_code"] == "OK"
    assert rv["result_code"] == "RV"
    assert rv["result_string"] == "intercepted forbidden syscall socket"  # named by libseccomp


def test_status_line_protocol():
    from sio.workers.supervisor import supervisor as sup

    assert sup._parse_status("exit 0 1500000 548 1200\n") == (0, None, None, 1500000, 548, 1200)
    assert sup._parse_status("exit 9 10 20\n") == (9, None, None, 10, 20, None)
    assert sup._parse_status("rv socket 77\n") == (None, "socket", None, 77, None, None)
    # an error from the program's set-up wins over the init's exit line
    text = "error setrlimit: Invalid argument\nexit 32512 5 0 0\n"
    assert sup._parse_status(text)[2] == "setrlimit: Invalid argument"
    # only the init's exit/rv line is final; errors may be followed by it
    assert sup._final_line([b"exit 0 1 2 3\n"])
    assert sup._final_line([b"rv ptr", b"ace 5\n"])
    assert not sup._final_line([b"exit 0 1 2"])
    assert not sup._final_line([b"error mount /proc: EPERM\n"])
    assert sup._final_line([b"error exec ./a: ENOENT\n", b"exit 32512 5 0 0\n"])


@needs_supervisor
def test_launchers_are_reaped_and_cpu_is_the_programs(tmp_path, monkeypatch, build_c):
    """The worker goes on at the init's final line and reaps the launcher
    later: no zombie piles up, and the kernel's rusage reported by the init
    is the program's alone."""
    import time

    from sio.workers.supervisor import supervisor as sup

    src = tmp_path / "spin.c"
    src.write_text("int main(void) { for (volatile long i = 0; i < 800000000L; i++); return 0; }\n")
    spin = str(build_c(src, static=True))
    monkeypatch.chdir(tmp_path)
    with SupervisedExecutor() as ex:
        for _ in range(20):
            assert ex(["/bin/true"])["result_code"] == "OK"
    assert len(sup._unreaped) <= 4  # only the last few runs' launchers, still exiting
    deadline = time.monotonic() + 10
    while sup._unreaped and time.monotonic() < deadline:
        time.sleep(0.01)
        sup._reap_finished()
    assert not sup._unreaped
    zombies = []
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/children") as f:
            children = f.read().split()
        for pid in children:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    comm, _, rest = f.read().partition("(")[2].rpartition(")")
            except OSError:
                continue
            if rest.split()[0] == "Z" and comm.startswith("sio-launcher"):
                zombies.append(pid)
    assert zombies == []
    null = os.open(os.devnull, os.O_RDWR)
    try:
        spec = sup.RunSpec(argv=[spin], env={}, stdin=null, stdout=null, stderr=null,
                           time_limit_ms=10000, real_time_limit_ms=20000, mem_limit_kib=65536,
                           output_limit=1024)
        outcome = sup.supervise(spec)
    finally:
        os.close(null)
    assert outcome.facts.system_error is None
    assert outcome.rusage_cpu_ms is not None and outcome.rusage_cpu_ms > 50
    assert abs(outcome.facts.cpu_ms - outcome.rusage_cpu_ms) <= 0.02 * outcome.rusage_cpu_ms + 2


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs")
def test_the_watchdogs_cpu_count_is_each_threads_own():
    """The watchdog's CPU count (its sleep bound) is cached per thread: a
    thread pinned to one CPU gets 1, whatever another thread read."""
    import threading

    from sio.workers.supervisor import watchdog

    everyone = watchdog._cpus_of_this_thread()
    seen = []

    def pinned():
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        seen.append(watchdog._cpus_of_this_thread())

    t = threading.Thread(target=pinned)
    t.start()
    t.join()
    assert seen == [1.0] and everyone == float(len(os.sched_getaffinity(0)))
    assert watchdog._cpus_of_this_thread() == everyone


@needs_supervisor
def test_the_programs_own_cpu_clock_is_exact(tmp_path, monkeypatch, build_c):
    """The program's own CPU clock (clock(), CLOCK_PROCESS_CPUTIME_ID)
    advances as it does outside: no CPU rlimit, whose process-wide timer
    would make it step a scheduler tick at a time (4 ms at HZ=250). The time
    limit is the watchdog's; a spinning program is still TLE."""
    monkeypatch.chdir(tmp_path)
    exe = str(build_c("packages/sio-workers-core/tests/programs/exec_own_clock.c"))
    with SupervisedExecutor() as ex:
        renv = ex([exe], capture_output=True, time_limit=5000)
    assert renv["result_code"] == "OK", renv
    assert int(renv["stdout"]) > 1000, renv["stdout"]  # (about 5 with RLIMIT_CPU here)
