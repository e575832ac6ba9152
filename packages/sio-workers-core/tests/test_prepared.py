"""Prepared launchers (``sio.workers.supervisor.prepared``): the next run's
sandbox built ahead; every run through one must be exactly like a run
through a launcher started for it."""

from __future__ import annotations

import os
import signal
import time

import pytest

from sio.workers.executors.supervised import SupervisedExecutor
from sio.workers.supervisor import cgroups, persona, prepared
from sio.workers.supervisor import supervisor as supervisor_module

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or cgroups.detect() is None, reason="needs root and cgroups"
)

PROBE = "packages/sio-workers-core/tests/programs/prepared_probe.c"


@pytest.fixture(autouse=True)
def _no_prepared_left():
    prepared.discard_all()
    yield
    prepared.discard_all()


@pytest.fixture
def counted(monkeypatch):
    """Count the runs that went through a prepared launcher."""
    used = []
    real = supervisor_module._start_prepared

    def spy(spec, slot, prep, **kw):
        started = real(spec, slot, prep, **kw)
        used.append(isinstance(started, tuple))
        return started

    monkeypatch.setattr(supervisor_module, "_start_prepared", spy)
    return used


def run(exe, tmp_path, mem_limit=65536, time_limit=2000, args=(), **kwargs):
    out = tmp_path / "out"
    with open(out, "wb") as fout, SupervisedExecutor() as ex:
        renv = ex([str(exe), *args], stdout=fout, time_limit=time_limit, mem_limit=mem_limit,
                  ignore_errors=True, **kwargs)
    return renv, out.read_text().split("\n")


def test_repeated_runs_use_a_prepared_launcher(build_c, tmp_path, counted):
    exe = build_c(PROBE)
    results = [run(exe, tmp_path) for _ in range(4)]
    # run 1 starts its own; run 2 repeats the root and prepares run 3's
    assert counted == [True, True]
    for renv, lines in results:
        assert renv["result_code"] == "OK", renv
        assert lines[1:3] == ["en_US.UTF-8", "/tmp"]
        assert int(lines[0]) == 65536
    # the same pooled network namespace (the slot's), not the host's
    assert len({lines[3] for _, lines in results}) == 1
    assert results[0][1][3] != str(os.stat("/proc/self/ns/net").st_ino)


def test_tmp_is_resized_for_the_run(build_c, tmp_path, counted):
    exe = build_c(PROBE)
    run(exe, tmp_path, mem_limit=65536)
    run(exe, tmp_path, mem_limit=65536)  # prepares with a 64 MiB /tmp
    renv, lines = run(exe, tmp_path, mem_limit=131072)
    assert counted == [True]
    assert renv["result_code"] == "OK" and int(lines[0]) == 131072
    # served next (its /tmp left empty): back to the starting size
    renv, lines = run(exe, tmp_path, mem_limit=65536)
    assert renv["result_code"] == "OK" and int(lines[0]) == 65536


def test_verdicts_through_prepared_launchers(build_c, tmp_path, counted):
    segv = build_c("packages/sio-workers-core/tests/programs/exec_segv.c")
    busy = build_c("packages/sio-workers-core/tests/programs/exec_busy.c")
    forker = build_c("packages/sio-workers-core/tests/programs/exec_forker.c")
    codes = []
    for exe, limit in ((segv, 2000), (segv, 2000), (segv, 2000), (busy, 300), (forker, 2000)):
        with SupervisedExecutor() as ex:
            renv = ex([str(exe)], time_limit=limit, mem_limit=65536, ignore_errors=True)
        codes.append(renv["result_code"])
    assert codes == ["RE", "RE", "RE", "TLE", "RV"]
    assert counted == [True, True, True]


@pytest.mark.parametrize("serve", ["1", "0"])
def test_a_dead_prepared_launcher_is_replaced(build_c, tmp_path, counted, monkeypatch, serve):
    """A prepared launcher killed while it waits is never used: a one-run
    launcher is discarded before use (its status pipe's EOF); a serving one,
    which is not polled before its send, is discarded when the send fails
    (its init alone held the socket). The run starts a launcher of its own."""
    monkeypatch.setenv("SIO_SUPERVISOR_SERVE", serve)
    exe = build_c(PROBE)
    run(exe, tmp_path)
    run(exe, tmp_path)
    prep = prepared._local.prepared
    assert prep is not None and prep.serving == (serve == "1")
    os.kill(prep.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while not prepared._has_ended(prep) and time.monotonic() < deadline:
        time.sleep(0.01)
    renv, lines = run(exe, tmp_path)
    assert renv["result_code"] == "OK" and lines[1] == "en_US.UTF-8"
    assert counted == ([False] if serve == "1" else [])


def test_prepared_launchers_belong_to_their_thread(build_c, tmp_path, counted):
    """Another thread never takes this thread's prepared launcher (it would
    die with this thread: PR_SET_PDEATHSIG)."""
    import threading

    exe = build_c(PROBE)
    run(exe, tmp_path)
    run(exe, tmp_path)
    mine = prepared._local.prepared
    assert mine is not None
    results = []
    worker = threading.Thread(target=lambda: results.append(run(exe, tmp_path)))
    worker.start()
    worker.join()
    assert results[0][0]["result_code"] == "OK"
    assert counted == [] and prepared._local.prepared is mine
    renv, _ = run(exe, tmp_path)
    assert renv["result_code"] == "OK" and counted == [True]


def test_an_ended_thread_leaves_nothing(build_c, tmp_path):
    """A thread's unused prepared launcher exits with the thread and is
    reaped by a later run."""
    import threading

    exe = build_c(PROBE)
    pids = []

    def two_runs():
        run(exe, tmp_path)
        run(exe, tmp_path)
        pids.append(getattr(prepared._local.prepared, "pid", None))

    worker = threading.Thread(target=two_runs)
    worker.start()
    worker.join()
    import gc

    gc.collect()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        run(exe, tmp_path)  # reaps finished launchers first
        if not os.path.exists(f"/proc/{pids[0]}"):
            break
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{pids[0]}")


@pytest.mark.parametrize("serve, prepares", [("1", 2), ("0", 3)])
def test_cpu_exec_style_runs_prepare_after_the_run(build_c, tmp_path, counted, monkeypatch,
                                                  serve, prepares):
    # serving: the launcher prepared after run 2 serves run 3 and stays for
    # the next one, so nothing is prepared after run 3
    monkeypatch.setenv("SIO_SUPERVISOR_SERVE", serve)
    exe = build_c(PROBE)
    calls = []
    real = prepared.prepare_next

    def spy(*args):
        calls.append(prepared._local.prepared)
        return real(*args)

    monkeypatch.setattr(prepared, "prepare_next", spy)
    for _ in range(3):
        renv, _ = run(exe, tmp_path, prepare_during_run=False)
        assert renv["result_code"] == "OK"
    assert counted == [True] and len(calls) == prepares


def test_a_missing_program_is_se(build_c, tmp_path, counted):
    exe = build_c(PROBE)
    run(exe, tmp_path)
    run(exe, tmp_path)
    with SupervisedExecutor() as ex:
        renv = ex([str(tmp_path / "nothing")], ignore_errors=True)
    assert renv["result_code"] == "SE"
    assert "open program" in renv["result_string"]


def test_forked_worker_does_not_use_the_parents(build_c, tmp_path):
    exe = build_c(PROBE)
    run(exe, tmp_path)
    run(exe, tmp_path)
    assert prepared._local.prepared is not None
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its status
        os._exit(0 if prepared._local.prepared is None else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    prep = prepared._local.prepared
    assert prep is not None and not prepared._has_ended(prep)  # the parent's is intact


def test_preparing_can_be_turned_off(build_c, tmp_path, counted, monkeypatch):
    monkeypatch.setenv("SIO_SUPERVISOR_PREPARE", "0")
    exe = build_c(PROBE)
    for _ in range(3):
        renv, _ = run(exe, tmp_path)
        assert renv["result_code"] == "OK"
    assert counted == [] and prepared._local.prepared is None


def test_a_replaced_bind_source_is_never_served_stale(tmp_path, counted):
    """A sandbox is updated by renaming a new tree into place: a root
    prepared with the old (now deleted) directory must not serve."""
    data = tmp_path / "sandbox"
    data.mkdir()
    (data / "f").write_text("old\n")

    def cat() -> str:
        out = tmp_path / "out"
        with open(out, "wb") as fout:
            null = os.open(os.devnull, os.O_RDWR)
            try:
                spec = supervisor_module.RunSpec(
                    argv=["/bin/cat", "/data/f"], env={}, stdin=null, stdout=fout.fileno(),
                    stderr=null, time_limit_ms=2000, real_time_limit_ms=5000,
                    mem_limit_kib=65536, output_limit=1024, binds=[(str(data), "/data", True)])
                outcome = supervisor_module.supervise(spec)
            finally:
                os.close(null)
        assert outcome.facts.system_error is None, outcome.facts
        return out.read_text()

    assert [cat(), cat(), cat()] == ["old\n"] * 3
    assert counted == [True]  # the third run was prepared during the second
    data.rename(tmp_path / "sandbox.old")
    data.mkdir()
    (data / "f").write_text("new\n")
    assert [cat(), cat()] == ["new\n"] * 2
    assert counted == [True]  # the stale one was not used
    assert cat() == "new\n" and counted == [True, True]


def test_a_nul_cannot_smuggle_options_into_the_message(build_c, tmp_path, counted):
    """A NUL inside a variable would split it into launcher options of its
    own (``-u 0``): refused, as posix_spawn refuses it for a launcher
    started for the run."""
    exe = build_c(PROBE)
    run(exe, tmp_path)
    run(exe, tmp_path)
    with SupervisedExecutor() as ex, pytest.raises(ValueError, match="null byte"):
        ex([str(exe)], env={"A": "x\0-u\0" "0"})
    renv, lines = run(exe, tmp_path)
    assert renv["result_code"] == "OK" and lines[1] == "en_US.UTF-8"


def test_a_serving_launcher_serves_run_after_run_each_as_new(build_c, tmp_path, counted,
                                                            monkeypatch):
    """Serving (``-S``): one prepared launcher serves runs 3, 4, 5 and 6 of
    a root; each of them sees what a launcher of its own would give it:
    pid 2, an empty /tmp (the probe leaves a file there every time), no SysV
    IPC object of the run before (it leaves a segment, a keyless one, a
    semaphore set and a message queue every time: the serving init removes
    them between runs), the slot's network namespace."""
    import shutil
    import tempfile

    monkeypatch.setenv("SIO_SUPERVISOR_SERVE", "1")
    exe = build_c(PROBE)
    # allow_local_open (writing /tmp allowed) binds the working directory:
    # one outside /tmp, so that the root can be served
    work = tempfile.mkdtemp(dir="/var/tmp")
    os.chmod(work, 0o755)
    monkeypatch.chdir(work)
    results, servers = [], []
    try:
        for _ in range(6):
            with SupervisedExecutor(allow_local_open=True) as ex:
                renv = ex([str(exe), "leave"], capture_output=True, time_limit=2000,
                          mem_limit=65536, ignore_errors=True)
            lines = renv["stdout"].decode().split("\n")
            results.append((renv, lines))
            prep = prepared._local.prepared
            servers.append(prep.pid if prep is not None else None)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        prep = prepared._local.prepared
        servers.append(prep.pid if prep is not None else None)
    assert counted == [True] * 4
    assert servers[1] == servers[2] == servers[3] == servers[4] == servers[5]
    for renv, lines in results:
        assert renv["result_code"] == "OK", renv
        # pid 2, /tmp empty, no SysV object of the previous run
        assert lines[4] == "2" and lines[6] == "0" and lines[7] == "0", lines
    assert len({lines[3] for _, lines in results}) == 1


def _serving_launcher(build_c, tmp_path, monkeypatch):
    """The probe, run twice with serving on: the thread then holds a serving
    launcher. Returns (the probe, that launcher)."""
    monkeypatch.setenv("SIO_SUPERVISOR_SERVE", "1")
    exe = build_c(PROBE)
    run(exe, tmp_path)
    run(exe, tmp_path)
    server = prepared._local.prepared
    assert server is not None and server.serving
    return exe, server


def test_a_killed_run_ends_its_serving_launcher(build_c, tmp_path, counted, monkeypatch):
    """A run killed at a limit takes its serving launcher with it; the next
    run's launcher is prepared at once."""
    exe, server = _serving_launcher(build_c, tmp_path, monkeypatch)
    busy = build_c("packages/sio-workers-core/tests/programs/exec_busy.c")
    renv, _ = run(busy, tmp_path, time_limit=300)
    assert renv["result_code"] == "TLE"
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{server.pid}") and time.monotonic() < deadline:
        supervisor_module._reap_finished()
        time.sleep(0.01)
    assert not os.path.exists(f"/proc/{server.pid}")
    fresh = prepared._local.prepared
    assert fresh is not None and fresh.pid != server.pid
    renv, lines = run(exe, tmp_path)
    assert renv["result_code"] == "OK" and lines[4] == "2" and lines[6] == "0"
    assert counted == [True, True]


def test_serving_can_be_turned_off(build_c, tmp_path, counted, monkeypatch):
    monkeypatch.setenv("SIO_SUPERVISOR_SERVE", "0")
    exe = build_c(PROBE)
    pids = []
    for _ in range(4):
        renv, _ = run(exe, tmp_path)
        assert renv["result_code"] == "OK"
        pids.append(getattr(prepared._local.prepared, "pid", None))
    assert counted == [True, True] and pids[0] is None
    assert len(set(pids[1:])) == 3  # one launcher a run


FILTER_PROBE = "packages/sio-workers-core/tests/programs/served_filter_probe.c"


def _init_of(launcher_pid):
    with open(f"/proc/{launcher_pid}/task/{launcher_pid}/children") as f:
        return int(f.read().split()[0])


def _status_field(pid, name):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split(":", 1)[1].strip()
    return None


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the served filter is x86-64's")
def test_a_serving_init_loads_the_filter_once_for_all_its_runs(build_c, tmp_path, counted,
                                                                 monkeypatch):
    """A serving init loads the run's seccomp filter itself, at its first
    run, and every program it starts inherits it instead of loading its own:
    the init is under the filter, the program under exactly one. What the
    filter lets the init do (clone with its flags on its stack, mount and
    umount2 of its "/tmp" string) stays a violation for the program, and so
    does setns."""
    monkeypatch.setenv("SIO_SUPERVISOR_SERVE", "1")
    exe = build_c(FILTER_PROBE)
    for _ in range(3):
        renv, lines = run(exe, tmp_path)
        assert renv["result_code"] == "OK", renv
        assert lines[0] == "Seccomp_filters:\t1", lines
    server = prepared._local.prepared
    assert server is not None and server.serving
    init = _init_of(server.pid)
    assert _status_field(init, "Seccomp") == "2"  # filter mode
    assert _status_field(init, "Seccomp_filters") == "1"
    for mode, name in [("clone", "clone"), ("mount", "mount"), ("umount", "umount2"),
                       ("setns", "setns")]:
        renv, lines = run(exe, tmp_path, args=(mode,))
        assert (renv["result_code"], renv["result_string"]) == (
            "RV", f"intercepted forbidden syscall {name}"), (mode, renv, lines)
    # the same init served them all (a violation does not end it) and serves on
    assert prepared._local.prepared.pid == server.pid
    renv, lines = run(exe, tmp_path)
    assert renv["result_code"] == "OK" and lines[0] == "Seccomp_filters:\t1"
    assert counted == [True] * 6


def test_a_serving_launcher_serves_only_runs_of_its_filter(build_c, tmp_path, counted,
                                                             monkeypatch):
    """Runs of one root with another seccomp profile never go to a serving
    launcher whose init holds the first profile's filter: the native profile
    makes socket() a violation, the python one fails AF_UNIX with EACCES,
    whatever order they come in."""
    monkeypatch.setenv("SIO_SUPERVISOR_SERVE", "1")
    exe = build_c(FILTER_PROBE)
    expected = {"native": ("RV", None), "python": ("OK", "Permission denied")}
    for profile in ["native"] * 3 + ["python"] * 3 + ["native"] * 2 + ["python"]:
        renv, lines = run(exe, tmp_path, args=("socket",), profile=profile)
        code, text = expected[profile]
        assert renv["result_code"] == code, (profile, renv)
        if text is not None:
            assert lines[0] == text, (profile, lines)
    assert any(counted)


def _descendants(pid: int) -> set[int]:
    """Host pids of every live descendant of ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), ()):
            found.add(child)
            todo.append(child)
    return found


def test_a_serving_launcher_holds_the_next_program_parked_and_takes_it_along(
        build_c, tmp_path, counted, monkeypatch):
    """Between runs a serving init holds the next run's program started and
    parked (its clone is off the next run's path): outside the slot's
    cgroup, which stays empty; it runs as pid 2 in the next run; when the
    launcher is discarded, nothing of it is left."""
    exe, server = _serving_launcher(build_c, tmp_path, monkeypatch)
    renv, lines = run(exe, tmp_path)
    assert renv["result_code"] == "OK" and lines[4] == "2"
    assert prepared._local.prepared is server
    deadline = time.monotonic() + 5
    while len(tree := _descendants(server.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(tree) == 2, tree  # the init and the parked program
    from sio.workers.supervisor.slots import acquire_slot

    with acquire_slot(str(supervisor_module.build.launcher_path())) as slot:
        assert not slot.cgroup.has_processes()
    renv, lines = run(exe, tmp_path)
    assert renv["result_code"] == "OK" and lines[4] == "2"
    assert counted == [True, True]
    prepared.discard_all()
    deadline = time.monotonic() + 5
    while any(os.path.exists(f"/proc/{p}") for p in tree) and time.monotonic() < deadline:
        supervisor_module._reap_finished()
        time.sleep(0.01)
    assert not any(os.path.exists(f"/proc/{p}") for p in tree)


def test_from_the_second_run_on_the_parked_program_takes_its_run_itself(
        build_c, tmp_path, counted, monkeypatch):
    """Between runs the parked program waits for the go message itself
    (recvmsg) and the init only for the program's exec (futex): the
    worker's message wakes the program, not the init. Runs are served so
    one after another."""
    import platform

    if platform.machine() != "x86_64":
        pytest.skip("system call numbers of x86-64")
    exe, server = _serving_launcher(build_c, tmp_path, monkeypatch)
    for _ in range(3):
        renv, lines = run(exe, tmp_path)
        assert renv["result_code"] == "OK" and lines[4] == "2"
        deadline = time.monotonic() + 5
        waiting: dict[int, int] = {}
        while time.monotonic() < deadline:
            tree = _descendants(server.pid)
            try:
                waiting = {p: int(open(f"/proc/{p}/syscall").read().split()[0]) for p in tree}
            except (OSError, ValueError):
                continue
            if sorted(waiting.values()) == [47, 202]:
                break
            time.sleep(0.01)
        # recvmsg (47) in the parked program, futex (202) in the init
        assert sorted(waiting.values()) == [47, 202], waiting
        init = min(waiting)  # started first
        assert waiting[init] == 202
    assert counted == [True, True, True]


def test_a_serving_init_that_dies_during_a_run_ends_it_at_once(build_c, tmp_path, counted,
                                                                monkeypatch):
    """The worker waits on a serving launcher's eventfd, not on its status
    pipe: the pipe's hang-up still wakes it, so a launcher killed during a
    run ends the run at once (SE), not at its limits, and the next run
    is served as new."""
    import threading

    exe, server = _serving_launcher(build_c, tmp_path, monkeypatch)
    busy = build_c("packages/sio-workers-core/tests/programs/exec_busy.c")
    killer = threading.Timer(0.3, os.kill, (server.pid, signal.SIGKILL))
    killer.start()
    try:
        start = time.monotonic()
        renv, _ = run(busy, tmp_path, time_limit=8000)
        took = time.monotonic() - start
    finally:
        killer.cancel()
    assert renv["result_code"] == "SE", renv
    assert "without a status" in renv["result_string"]
    assert took < 4, took
    renv, lines = run(exe, tmp_path)
    assert renv["result_code"] == "OK" and lines[4] == "2"


def test_a_parked_program_that_died_is_replaced(build_c, tmp_path, counted, monkeypatch):
    """A parked program killed between runs (nothing in the namespace does
    that, an operator might) is reaped and replaced by the serving init at
    the next run, which runs as usual: served, pid 2."""
    exe, server = _serving_launcher(build_c, tmp_path, monkeypatch)
    renv, lines = run(exe, tmp_path)  # a served run: the next program is parked after it
    assert renv["result_code"] == "OK"
    deadline = time.monotonic() + 5
    while len(tree := _descendants(server.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    init = [p for p in tree if _descendants(p)]
    assert len(init) == 1, tree
    parked = sorted(_descendants(init[0]))
    assert len(parked) == 1, tree
    os.kill(parked[0], signal.SIGKILL)
    while os.path.exists(f"/proc/{parked[0]}/exe") and time.monotonic() < deadline:
        time.sleep(0.01)
    renv, lines = run(exe, tmp_path)
    assert renv["result_code"] == "OK" and lines[4] == "2", (renv, lines)
    assert prepared._local.prepared is server
    assert counted == [True, True]


PERSONA_PROBE = "packages/sio-workers-core/tests/programs/persona_probe.c"


def _thread_aslr_off() -> bool:
    with open("/proc/thread-self/personality") as f:
        return int(f.read(), 16) & persona.ADDR_NO_RANDOMIZE != 0


def test_runs_follow_the_threads_persona_through_served_launchers(build_c, tmp_path, counted,
                                                                  monkeypatch):
    """The persona is read from the kernel once per thread and remembered
    (``persona.py``): each run still gets the thread's ASLR setting, in and
    out of ``no_aslr`` blocks, and no serving launcher started with one
    setting serves a run of the other."""
    monkeypatch.setenv("SIO_SUPERVISOR_SERVE", "1")
    exe = build_c(PERSONA_PROBE)
    settings = (False, False, True, True, True, False, False, True)
    seen = []
    for off in settings:
        if off:
            with persona.no_aslr():
                assert persona.aslr_off() and _thread_aslr_off()
                renv, lines = run(exe, tmp_path)
        else:
            renv, lines = run(exe, tmp_path)
        assert renv["result_code"] == "OK", renv
        seen.append(lines[0])
        assert persona.aslr_off() is False and not _thread_aslr_off()
    assert seen == ["aslr off" if off else "aslr on" for off in settings]
    assert True in counted  # some of them were served


def test_forget_reads_the_persona_again():
    assert persona.aslr_off() is False
    personality = persona._personality()
    old = personality(0xFFFFFFFF)
    personality(old | persona.ADDR_NO_RANDOMIZE)
    try:
        assert persona.aslr_off() is False  # remembered: not asked again
        persona.forget()
        assert persona.aslr_off() is True
    finally:
        personality(old)
        persona.forget()
    assert persona.aslr_off() is False


@pytest.mark.parametrize("malformed, error", [
    ("a descriptor short", "wrong number of descriptors in the run's message"),
    ("a root option", "the run's message may not change the root"),
])
def test_a_bad_message_to_a_parked_program_ends_the_run_and_its_launcher(
        build_c, tmp_path, counted, monkeypatch, malformed, error):
    """From a serving init's second run on, the parked program parses the go
    message itself. A message it refuses (a descriptor missing; an option
    that would change the root) ends that run at once as SE, takes the
    serving launcher (init and program) with it, leaves nothing in the
    slot's cgroup, and the next run starts a launcher of its own (the worker
    never sends such a message; this is the launcher's own guard)."""
    exe, server = _serving_launcher(build_c, tmp_path, monkeypatch)
    renv, lines = run(exe, tmp_path)  # the first run the parked program takes itself
    assert renv["result_code"] == "OK" and lines[4] == "2"
    deadline = time.monotonic() + 5
    while len(tree := _descendants(server.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(tree) == 2, tree  # the init and the parked program
    real_send = prepared.send_run

    def send_malformed(prep, args, fds):
        if malformed == "a descriptor short":
            fds = fds[:-1]
        else:
            args = ["-M", str(tmp_path), *args]
        return real_send(prep, args, fds)

    monkeypatch.setattr(prepared, "send_run", send_malformed)
    start = time.monotonic()
    renv, _ = run(exe, tmp_path, time_limit=5000)
    took = time.monotonic() - start
    monkeypatch.setattr(prepared, "send_run", real_send)
    # the program's error line reaches the worker on the run's status pipe
    assert (renv["result_code"], renv["result_string"]) == ("SE", f"supervisor: {error}"), renv
    assert took < 3, took  # at once, not at the run's limits
    deadline = time.monotonic() + 5
    while any(os.path.exists(f"/proc/{p}") for p in (*tree, server.pid)) \
            and time.monotonic() < deadline:
        supervisor_module._reap_finished()
        time.sleep(0.01)
    assert not any(os.path.exists(f"/proc/{p}") for p in (*tree, server.pid))
    assert prepared._local.prepared is not server
    from sio.workers.supervisor.slots import acquire_slot

    with acquire_slot(str(supervisor_module.build.launcher_path())) as slot:
        assert not slot.cgroup.has_processes()
    renv, lines = run(exe, tmp_path)
    assert renv["result_code"] == "OK", renv
