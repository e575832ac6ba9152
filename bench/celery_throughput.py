#!/usr/bin/env python3
"""Throughput of sio-celery-worker against a bare Celery echo task.

For each broker (Redis, RabbitMQ, the embedded SQLite broker) and in one
run: start a bare Celery worker (default Celery settings, a task returning
its argument), the same bare worker with sio-celery's reliability settings
(late acks, prefetch 1, events) and ``sio-celery-worker``, all with the same
broker and concurrency, send N jobs to each (``ping`` jobs to sio-workers, ``echo`` to
the bare one), wait for every result and print jobs/s, the CPU time a job
costs the worker (its whole process tree: main, pool processes and what they
start), the client and the machine (broker included), and two ratios: sio
against the bare worker with the same settings (what running a job through
sio-workers costs over Celery), and sio against the default bare worker
(that, plus the price of the settings). Target: ratio >= 0.9 for Redis and
RabbitMQ.

Each round runs the workers one after another, starting with a
different one each round; the ratios are printed best round against best
round and, less sensitive to a machine whose speed drifts between rounds
(a shared VM), as the median of the rounds' own ratios.

With ``--workload exec`` the jobs are the tests of a 100-test submission
(``-n 100``), sent test by test: ``exec`` jobs of a small binary (local
files, the default checker) to sio-celery-worker, and to the bare workers a
task that judges the same test the plain way (a fresh directory,
``subprocess.run``, a byte compare). Target: ratio against the bare worker
with sio-celery's settings >= 0.9 for Redis and RabbitMQ.

A fourth worker, the bare one with sio-celery's settings, is sent sio's
environ and answers with it (with ``--workload exec``: the verdict, the
program's CPU and wall time and memory from ``getrusage``, the score, who
ran it — what sio's exec job answers): the ratio against it leaves out
what the messages themselves cost (a bigger task body, result and events,
Celery's ``saferepr`` of the result for the log and the events: ~0.1 ms a
job alone for an exec job's environ), which any worker answering the
contract pays, and shows what the work costs.

Usage: .venv/bin/python bench/celery_throughput.py [-n 1000] [-c 2] [--rounds 2]
       [--brokers redis,amqp,embedded] [--workload ping|exec]
Environment: BENCH_REDIS_URL (default redis://127.0.0.1:6379/12, flushed),
BENCH_AMQP_URL (default amqp://guest:guest@127.0.0.1:5672//).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from celery import Celery

BIN = Path(sys.executable).parent
TASK_NAME = "sio.celery.job.sioworkers_job"
ENVIRON = "bare+sio-settings+environ"

BARE_APP = """
import os
from celery import Celery

if os.environ["BENCH_BROKER"].startswith("sqla+"):
    import sio.celery.embedded  # noqa: F401  (the same SQLite transport as sio-celery-worker)

app = Celery("bare", broker=os.environ["BENCH_BROKER"], backend=os.environ["BENCH_BACKEND"])
app.conf.task_default_queue = "bare-echo"
if os.environ.get("BENCH_SIO_SETTINGS"):
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_send_task_events=True,
        task_send_sent_event=True,
    )


@app.task(name="bare.echo")
def echo(value):
    return value


@app.task(name="bare.judge")
def judge(test):
    # One test the plain way: a fresh directory, subprocess.run of the
    # binary, the output compared byte for byte, the directory removed.
    import shutil
    import subprocess
    import tempfile

    workdir = tempfile.mkdtemp()
    try:
        out = os.path.join(workdir, "out")
        with open(test["in"], "rb") as fin, open(out, "wb") as fout:
            code = subprocess.run([test["exe"]], stdin=fin, stdout=fout).returncode
        with open(out, "rb") as got, open(test["hint"], "rb") as want:
            same = got.read() == want.read()
        return "OK" if code == 0 and same else ("RE" if code else "WA")
    finally:
        shutil.rmtree(workdir)


@app.task(name="bare.echo_environ")
def echo_environ(environ):
    # What a worker must at least do with a job: the environ in, the
    # environ back with who ran it.
    import socket

    return dict(environ, worker=socket.gethostname(), result="SUCCESS")


@app.task(name="bare.judge_environ")
def judge_environ(environ):
    # The same test judged the plain way, but sent and answered as sio's
    # exec job is: its environ in, the environ back with what a contest
    # system reads (the verdict, the CPU and wall time and the memory the
    # program used, its score, who ran it): the same messages on the wire,
    # in the events and in the worker's log.
    import resource
    import socket
    import time

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    verdict = judge({"exe": environ["exe_file"], "in": environ["in_file"],
                     "hint": environ["hint_file"]})
    wall_ms = round((time.monotonic() - start) * 1000)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    score = 100 if verdict == "OK" else 0
    return dict(
        environ, worker=socket.gethostname(), result_code=verdict,
        result_string="ok" if verdict == "OK" else verdict, time_used=round(cpu_s * 1000),
        mem_used=after.ru_maxrss, num_syscalls=0, real_time_used=wall_ms,
        result_percentage=float(score), result_percentage_fraction=[score, 1],
        result="SUCCESS",
    )
"""

PROGRAM = r"""
#include <stdio.h>
int main(void) {
    long long a, b;
    if (scanf("%lld %lld", &a, &b) != 2) return 1;
    printf("%lld\n", a + b);
    return 0;
}
"""


def make_tests(tmp: Path, n: int) -> list[dict]:
    """A binary (compiled here) and ``n`` tests of it: ``{exe, in, hint}``."""
    tmp.mkdir(parents=True, exist_ok=True)
    source, exe = tmp / "sum.c", tmp / "sum"
    source.write_text(PROGRAM)
    subprocess.run(["gcc", "-O2", "-o", str(exe), str(source)], check=True)
    tests = []
    for i in range(n):
        inp, hint = tmp / f"{i}.in", tmp / f"{i}.out"
        inp.write_text(f"{i} {i * 7}\n")
        hint.write_text(f"{i * 8}\n")
        tests.append({"exe": str(exe), "in": str(inp), "hint": str(hint)})
    # Written back at once: on this VM's long-used, journal-less root ext4 a
    # few hundred files waiting for writeback made each inode allocation
    # (every test's directory and output, of either loop) ~0.1 ms dearer in
    # the rounds before the kernel wrote them back (measured; a fresh
    # journal-less image did not show it; docs/exec.rst).
    os.sync()
    return tests


def backend_for(broker: str, data_dir: Path) -> str:
    if broker.startswith("sqla+"):
        return f"db+sqlite:///{data_dir / 'results.sqlite'}"
    return "rpc://"


def start(cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
    out = open(log, "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    deadline = time.monotonic() + 120
    while " ready." not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            raise RuntimeError(f"worker did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.2)
    return proc


def stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by ``pid`` and every process
    below it, with the children they have reaped: a worker's pool processes
    and what they start (the bare task's programs; sio's launchers, their
    namespace inits and programs), so that a program started by a pool
    process and one started by a launcher count alike."""
    tick = os.sysconf("SC_CLK_TCK")
    parent: dict[int, int] = {}
    cpu: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(entry.name)] = int(fields[1])
        cpu[int(entry.name)] = sum(int(f) for f in fields[11:15])
    total = 0
    for proc, ticks in cpu.items():
        ancestor, hops = proc, 0
        while ancestor not in (pid, 0, 1) and hops < 64:
            ancestor, hops = parent.get(ancestor, 0), hops + 1
        if ancestor == pid:
            total += ticks
    return total / tick


def busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent so far: every CPU's time
    less its idle, I/O wait and steal time (``/proc/stat``)."""
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def measure(
    app: Celery, name: str, queue: str, make_arg, n: int, worker_pid: int | None = None
) -> tuple[float, float, float, float]:
    """Send n tasks, wait for all results: ``(jobs/s, worker CPU ms a job,
    client CPU ms a job, machine CPU ms a job)`` (CPU: user + system; the
    worker's counts its whole process tree, :func:`tree_cpu_seconds`; the
    machine's counts everything, broker and client included)."""
    worker_before = tree_cpu_seconds(worker_pid) if worker_pid else 0.0
    client_before = os.times()
    busy_before = busy_cpu_seconds()
    begin = time.perf_counter()
    results = [app.send_task(name, args=[make_arg(i)], queue=queue) for i in range(n)]
    for res in results:
        res.get(timeout=600)
    rate = n / (time.perf_counter() - begin)
    busy = busy_cpu_seconds() - busy_before
    client_after = os.times()
    worker_cpu = tree_cpu_seconds(worker_pid) - worker_before if worker_pid else 0.0
    client_cpu = (client_after.user + client_after.system) - (
        client_before.user + client_before.system
    )
    return rate, worker_cpu * 1000 / n, client_cpu * 1000 / n, busy * 1000 / n


def purge(app: Celery, queue: str) -> None:
    with app.connection_for_write() as conn:
        try:
            conn.default_channel.queue_purge(queue)
        except Exception:  # the queue may not exist yet
            pass


def run_broker(label: str, broker: str, n: int, concurrency: int, rounds: int, tmp: Path,
               workload: str = "ping"):
    data_dir = tmp / f"data-{label}"
    data_dir.mkdir()
    backend = backend_for(broker, data_dir)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CELERY_")}
    env.update(
        SIO_CELERY_DATA_DIR=str(data_dir),
        BENCH_BROKER=broker,
        BENCH_BACKEND=backend,
        PYTHONPATH=os.pathsep.join(filter(None, [str(tmp), env.get("PYTHONPATH", "")])),
    )
    common = ["-c", str(concurrency), "-l", "info", "--without-mingle", "--without-gossip"]

    bare_client = Celery("bare-client", broker=broker, backend=backend, set_as_current=False)
    # The sio-settings variant's client sends task-sent events like sio's.
    bare_sio_client = Celery(
        "bare-sio-client", broker=broker, backend=backend, set_as_current=False
    )
    bare_sio_client.conf.task_send_sent_event = True
    sio_client = Celery("sio-client", set_as_current=False)
    sio_client.config_from_object("sio.celery.default_config")
    sio_client.conf.broker_url = broker
    sio_client.conf.result_backend = backend
    purge(bare_client, "bare-echo")
    purge(sio_client, "sioworkers")

    if workload == "exec":
        tests = make_tests(tmp / f"tests-{label}", n)
        sio_arg = lambda i: {  # noqa: E731
            "job_type": "exec", "use_filetracker": False, "exe_file": tests[i % n]["exe"],
            "in_file": tests[i % n]["in"], "hint_file": tests[i % n]["hint"],
            "check_output": True, "exec_time_limit": 1000, "exec_mem_limit": 65536,
        }
        bare_arg = lambda i: tests[i % n]  # noqa: E731
        bare_task, environ_task = "bare.judge", "bare.judge_environ"
    else:
        sio_arg = lambda i: {"job_type": "ping", "ping": i}  # noqa: E731
        bare_arg = lambda i: i  # noqa: E731
        bare_task, environ_task = "bare.echo", "bare.echo_environ"
    bare_cmd = [str(BIN / "celery"), "-A", "bare_echo_app", "worker", *common]
    variants = {
        "bare": (bare_cmd, {}, bare_client, bare_task, "bare-echo", bare_arg),
        "bare+sio-settings": (
            bare_cmd,
            {"BENCH_SIO_SETTINGS": "1"},
            bare_sio_client,
            bare_task,
            "bare-echo",
            bare_arg,
        ),
        # the same, sent sio's environ and answering with it (the same
        # messages as sio's): the part of the difference that is the
        # messages the contract asks for, not the work
        ENVIRON: (
            bare_cmd,
            {"BENCH_SIO_SETTINGS": "1"},
            bare_sio_client,
            environ_task,
            "bare-echo",
            sio_arg,
        ),
        "sio": (
            [str(BIN / "sio-celery-worker"), *common, broker],
            {},
            sio_client,
            TASK_NAME,
            "sioworkers",
            sio_arg,
        ),
    }
    rates: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[tuple[float, float, float]]] = {name: [] for name in variants}
    names = list(variants)
    for r in range(rounds):
        # A different variant starts each round: none always runs first
        # (right after a worker start, the machine's state shifts).
        for name in names[r % len(names):] + names[: r % len(names)]:
            cmd, extra_env, client, task, queue, make_arg = variants[name]
            proc = start(
                [*cmd[:-1], "-n", f"{name}{r}@%h", cmd[-1]]
                if name == "sio"
                else [*cmd, "-n", f"{name}{r}@%h"],
                {**env, **extra_env},
                tmp / f"{label}-{name}{r}.log",
            )
            try:
                measure(client, task, queue, make_arg, 20)  # warm up
                rate, worker_ms, client_ms, machine_ms = measure(
                    client, task, queue, make_arg, n, proc.pid
                )
                rates[name].append(rate)
                cpu[name].append((worker_ms, client_ms, machine_ms))
            finally:
                stop(proc)
    bare_client.close()
    bare_sio_client.close()
    sio_client.close()
    best = {name: max(values) for name, values in rates.items()}
    ratio = best["sio"] / best["bare"]
    like_for_like = best["sio"] / best["bare+sio-settings"]
    same_messages = best["sio"] / best[ENVIRON]
    what = "judge" if workload == "exec" else "echo"
    sio_what = "exec" if workload == "exec" else "ping"
    print(
        f"{label:9s} bare {what} {best['bare']:7.1f} jobs/s | bare {what}, sio settings "
        f"{best['bare+sio-settings']:7.1f} jobs/s | the same, environ in and out "
        f"{best[ENVIRON]:7.1f} jobs/s | sio-celery-worker {sio_what} {best['sio']:7.1f} jobs/s",
        flush=True,
    )
    print(
        f"          best vs best: ratio sio/bare {ratio:4.2f} | ratio sio/bare-with-sio-settings "
        f"{like_for_like:4.2f} | ratio sio/bare-with-sio-settings-environ {same_messages:4.2f}",
        flush=True,
    )
    per_round = [s / b for s, b in zip(rates["sio"], rates["bare+sio-settings"], strict=True)]
    per_round_environ = [s / b for s, b in zip(rates["sio"], rates[ENVIRON], strict=True)]
    for against, values in (("bare-with-sio-settings", per_round),
                            ("bare-with-sio-settings-environ", per_round_environ)):
        print(
            f"          ratio sio/{against} round by round: "
            f"{', '.join(f'{x:.2f}' for x in values)} (median {statistics.median(values):.2f})",
            flush=True,
        )
    print(
        "          rounds: "
        + "; ".join(f"{k} {', '.join(f'{x:.0f}' for x in v)}" for k, v in rates.items()),
        flush=True,
    )
    print(
        "          CPU ms a job, worker tree/client/machine (median of rounds): "
        + "; ".join(
            f"{k} " + "/".join(f"{statistics.median(x[i] for x in v):.2f}" for i in range(3))
            for k, v in cpu.items()
        ),
        flush=True,
    )
    return (ratio, like_for_like, statistics.median(per_round),
            statistics.median(per_round_environ))


def run_cost_ms(n: int = 200) -> float:
    """Milliseconds one ``run()`` of a ping job takes here, without Celery."""
    from sio.workers.runner import run

    begin = time.perf_counter()
    for i in range(n):
        run({"job_type": "ping", "ping": i})
    return (time.perf_counter() - begin) / n * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=1000, help="jobs per measurement")
    parser.add_argument("-c", "--concurrency", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="best of this many rounds")
    parser.add_argument("--brokers", default="redis,amqp,embedded")
    parser.add_argument("--workload", choices=("ping", "exec"), default="ping",
                        help="ping jobs against an echo task, or exec jobs of a small binary "
                        "(sent test by test; -n is the number of tests) against a task "
                        "judging the same test the plain way")
    args = parser.parse_args(argv)
    urls = {
        "redis": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12"),
        "amqp": os.environ.get("BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//"),
    }
    print(
        f"celery throughput: {args.n} {args.workload} jobs, concurrency {args.concurrency}, "
        f"best of {args.rounds} round(s); target ratio >= 0.9 (redis, amqp)",
        flush=True,
    )
    print(f"sio.workers.runner.run() of a ping job in-process: {run_cost_ms():.2f} ms", flush=True)
    with tempfile.TemporaryDirectory(prefix="sio-celery-bench-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "bare_echo_app.py").write_text(BARE_APP)
        ratios = {}
        for label in args.brokers.split(","):
            if label == "embedded":
                broker = f"sqla+sqlite:///{tmp / 'data-embedded' / 'broker.sqlite'}"
            else:
                broker = urls[label]
            if label == "redis":
                import redis

                redis.Redis.from_url(broker).flushdb()
            ratios[label] = run_broker(label, broker, args.n, args.concurrency, args.rounds, tmp,
                                       args.workload)
        if "redis" in ratios:
            redis.Redis.from_url(urls["redis"]).flushdb()
    for index, against in (
        (1, "the bare task with sio-celery's settings, best round against best round"),
        (2, "the bare task with sio-celery's settings, median of the rounds' ratios"),
        (3, "the bare task with sio-celery's settings and sio's messages (environ in "
            "and out), median of the rounds' ratios"),
        (0, "a default bare worker"),
    ):
        below = [k for k in ("redis", "amqp") if k in ratios and ratios[k][index] < 0.9]
        if any(k in ratios for k in ("redis", "amqp")):
            print(
                f"against {against}: "
                + ("below 0.9: " + ", ".join(below) if below else "redis/amqp ratios >= 0.9")
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
