#!/usr/bin/env python3
"""Soak: mixed jobs through ``sio-celery-worker`` while its pool processes
are SIGKILLed.

Starts a filetracker server on 127.0.0.1 and ``sio-celery-worker -c N`` on
RabbitMQ (its own ``TMPDIR``, filetracker cache and exec lock file), sends
``--jobs`` jobs of a seeded mix — ``ping``; ``exec`` (supervised) and
``unsafe-exec`` of small C programs that are OK (print a sum, checked), TLE
(an endless loop, 500 ms limit) or RE (``abort()``); ``compile`` of a good
and of a bad C source — and, while they run, SIGKILLs a random pool process
every ``--kill-interval`` seconds (jittered ±50 %). Every job carries a
unique ``soak_id`` in its environ and is its Celery task id; answers come
back through the ``rpc://`` result backend to a reply queue of the soak's
own, so every answer is seen, also a second one.

Prints: jobs sent, answered, answered twice (an id answered more than once:
allowed for a late-acknowledged job whose pool process died after answering,
but reported), lost (sent, never answered before the deadline; must be 0),
wrong answers (``result`` not ``SUCCESS`` or a verdict other than the
expected one), pool processes killed, processes left over after the worker
stopped (must be 0: a process of the worker's session, one whose cwd or
executable lies under a ``sio-job-*`` directory or the worker's temporary
directory, or one running a program of the soak's jobs — ``./exe``,
``sio-reaper``, the compiler — on a path there), ``sio-job-*`` directories
left in the worker's ``TMPDIR`` (those of killed pool processes are removed
by the next sweep, see ``docs/running.rst``; a few may be left when the last
kills come after the last jobs), and the worker's RSS (main + pool
processes) after a warm-up and at the end (growth must stay under 10 %).
Exit status 0 when lost, left-over processes and wrong answers are 0, the
worker's main process survived and the growth is under 10 %.

Usage: .venv/bin/python bench/soak.py [--jobs 5000] [-c 2] [--kill-interval 3]
       [--seed 1] [--deadline SECONDS] [--broker URL]
       (``--jobs 200``: a quick run)
Broker: ``--broker``, else ``$SOAK_AMQP_URL``, else
``amqp://guest:guest@127.0.0.1:5672/soak``. A virtual host of a broker on
this machine (127.0.0.1 or localhost) is created with ``rabbitmqctl`` when it
is missing (guest gets every permission in it); elsewhere it must exist. The
queue ``sioworkers`` of that virtual host is purged.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

BIN = Path(sys.executable).parent
TASK_NAME = "sio.celery.job.sioworkers_job"
QUEUE = "sioworkers"

PROGRAMS = {
    "sum": '#include <stdio.h>\nint main(void) { long a, b;\n'
    '  if (scanf("%ld %ld", &a, &b) != 2) return 1;\n  printf("%ld\\n", a + b); return 0; }\n',
    "spin": "int main(void) { volatile unsigned long x = 0; for (;;) x++; }\n",
    "abort": "#include <stdlib.h>\nint main(void) { abort(); }\n",
}
GOOD_SOURCE = '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n'
BAD_SOURCE = "int main(void) { return undefined_name; }\n"

#: kind: (weight, expected result_code or None for ping)
KINDS = {
    "ping": (20, None),
    "exec-ok": (14, "OK"),
    "exec-tle": (4, "TLE"),
    "exec-re": (8, "RE"),
    "unsafe-ok": (14, "OK"),
    "unsafe-tle": (4, "TLE"),
    "unsafe-re": (8, "RE"),
    "compile-ok": (4, "OK"),
    "compile-ce": (4, "CE"),
}

#: command lines (first word, base name) of what the soak's jobs run
PROGRAM_NAMES = {"exe", "sio-reaper", "gcc", "cc1", "as", "ld", "collect2", "cc"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environ_for(kind: str, soak_id: str, files: dict) -> dict:
    env: dict = {"soak_id": soak_id, "soak_kind": kind}
    if kind == "ping":
        env.update(job_type="ping", ping=soak_id)
    elif kind.startswith(("exec-", "unsafe-")):
        flavour, outcome = kind.split("-")
        env.update(
            job_type="exec" if flavour == "exec" else "unsafe-exec",
            exe_file=files[{"ok": "sum", "tle": "spin", "re": "abort"}[outcome]],
            in_file=files["in"],
            hint_file=files["hint"],
            check_output=True,
            exec_time_limit=500 if outcome == "tle" else 2000,
            exec_mem_limit=65536,
        )
    else:
        env.update(
            job_type="compile",
            compiler="system-c",
            source_file=files["good" if kind == "compile-ok" else "bad"],
            # a few names only: the server keeps the newest version of each
            out_file=f"/soak/out/{int(soak_id.rsplit('-', 1)[1]) % 8}.e",
        )
    return env


def answer_ok(kind: str, status: str, result) -> bool:
    if status != "SUCCESS" or not isinstance(result, dict) or result.get("result") != "SUCCESS":
        return False
    expected = KINDS[kind][1]
    if expected is None:
        return result.get("ping") == result.get("soak_id")
    return result.get("result_code") == expected


# ------------------------------------------------------------- processes ---


def proc_stat(pid: int) -> list[str] | None:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = proc_stat(int(entry.name))
            if fields and int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def rss_kib(pid: int) -> int:
    try:
        for line in (Path("/proc") / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def worker_rss(main_pid: int) -> tuple[int, int, int]:
    """``(total KiB, main KiB, number of pool processes)``."""
    pool = children(main_pid)
    main = rss_kib(main_pid)
    return main + sum(rss_kib(p) for p in pool), main, len(pool)


def leftover_processes(worker_tmp: Path, worker_sid: int) -> list[str]:
    """Processes that belong to the soak's jobs and outlived the worker."""
    mine = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == mine:
            continue
        pid = int(entry.name)
        fields = proc_stat(pid)
        if fields is None or fields[0] == "Z" and int(fields[1]) == mine:
            continue
        reasons = []
        for link in ("cwd", "exe"):
            try:
                target = os.readlink(entry / link)
            except OSError:
                continue
            if "/sio-job-" in target or target.startswith(str(worker_tmp)):
                reasons.append(f"{link} {target}")
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            argv = []
        name = os.path.basename(argv[0].decode(errors="replace")) if argv and argv[0] else ""
        if name in PROGRAM_NAMES and str(worker_tmp) in " ".join(
            a.decode(errors="replace") for a in argv
        ):
            reasons.append(f"a job's command ({name})")
        if int(fields[4]) == worker_sid:
            reasons.append(f"session of the worker ({worker_sid})")
        if reasons:
            cmd = b" ".join(argv).decode(errors="replace")[:120]
            found.append(f"pid {pid} [{cmd}]: {', '.join(reasons)}")
    return found


# ---------------------------------------------------------------- set-up ---


def build_programs(tmp: Path) -> dict[str, Path]:
    out = {}
    for name, source in PROGRAMS.items():
        src = tmp / f"{name}.c"
        src.write_text(source)
        out[name] = tmp / name
        subprocess.run(["gcc", "-O2", "-o", str(out[name]), str(src)], check=True)
    return out


def upload_files(url: str, tmp: Path, programs: dict[str, Path]) -> dict[str, str]:
    from sio.workers import ft

    (tmp / "1.in").write_text("20 22\n")
    (tmp / "1.out").write_text("42\n")
    (tmp / "good.c").write_text(GOOD_SOURCE)
    (tmp / "bad.c").write_text(BAD_SOURCE)
    refs: dict = {}
    with ft.using_instance(ft.init_instance(url)):
        for name, path in programs.items():
            ft.upload(refs, name, str(path), f"/soak/bin/{name}")
        ft.upload(refs, "in", str(tmp / "1.in"), "/soak/tests/1.in")
        ft.upload(refs, "hint", str(tmp / "1.out"), "/soak/tests/1.out")
        ft.upload(refs, "good", str(tmp / "good.c"), "/soak/src/good.c")
        ft.upload(refs, "bad", str(tmp / "bad.c"), "/soak/src/bad.c")
    return refs


def start_worker(broker: str, concurrency: int, env: dict, tmp: Path) -> subprocess.Popen:
    log = tmp / "worker.log"
    cmd = [
        str(BIN / "sio-celery-worker"), "-c", str(concurrency), "-l", "info",
        "-n", f"soak-{uuid.uuid4().hex[:6]}@%h", "--without-mingle", "--without-gossip",
        broker,
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, cwd=tmp, start_new_session=True,
        )
    deadline = time.monotonic() + 120
    while " ready." not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_worker(proc)
            raise RuntimeError(f"worker did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.2)
    return proc


def stop_worker(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # warm shutdown of the main process
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


# ------------------------------------------------------------------ run ---


class Answers:
    """Every result message of the reply queue, by task id."""

    def __init__(self) -> None:
        self.by_id: dict[str, list[tuple[str, object]]] = collections.defaultdict(list)
        self.count = 0

    def on_message(self, body, message) -> None:
        if isinstance(body, (bytes, str)):
            body = json.loads(body)
        task_id = message.properties.get("correlation_id") or body.get("task_id")
        self.by_id[task_id].append((body.get("status"), body.get("result")))
        self.count += 1
        message.ack()


def drain(conn, until, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not until() and time.monotonic() < deadline:
        try:
            conn.drain_events(timeout=1)
        except TimeoutError:  # socket.timeout
            pass


def killer(main_pid: int, interval: float, rng: random.Random, stop: threading.Event,
           kills: list) -> None:
    while not stop.wait(interval * rng.uniform(0.5, 1.5)):
        pool = children(main_pid)
        if not pool:
            continue
        victim = rng.choice(pool)
        try:
            os.kill(victim, signal.SIGKILL)
            kills.append((time.monotonic(), victim))
        except ProcessLookupError:
            pass


def ensure_local_vhost(url: str) -> None:
    """Create the virtual host of an ``amqp://`` URL of a broker on this
    machine when it is missing (``rabbitmqctl``, as root)."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    rabbitmqctl = shutil.which("rabbitmqctl")
    if parts.scheme not in ("amqp", "pyamqp") or parts.hostname not in (
            "127.0.0.1", "localhost") or not rabbitmqctl:
        return
    vhost = unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
    known = subprocess.run([rabbitmqctl, "-q", "list_vhosts"], capture_output=True,
                           text=True, timeout=60)
    if vhost in known.stdout.split():
        return
    subprocess.run([rabbitmqctl, "add_vhost", vhost], capture_output=True, timeout=60)
    subprocess.run([rabbitmqctl, "set_permissions", "-p", vhost, parts.username or "guest",
                    ".*", ".*", ".*"], capture_output=True, timeout=60)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("-c", "--concurrency", type=int, default=2)
    parser.add_argument("--kill-interval", type=float, default=3.0,
                        help="mean seconds between SIGKILLs of a pool process (0: none)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--deadline", type=float, default=None,
                        help="seconds to wait for all answers (default: 60 + 1 s a job)")
    parser.add_argument("--warmup", type=int, default=40, help="jobs before the RSS baseline")
    parser.add_argument("--broker", default=os.environ.get(
        "SOAK_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/soak"))
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    deadline_s = args.deadline if args.deadline is not None else 60 + args.jobs
    rng = random.Random(args.seed)

    from celery import Celery
    from kombu import Connection, Consumer, Queue

    from sio.workers import ft

    ensure_local_vhost(args.broker)
    tmp = Path(tempfile.mkdtemp(prefix="sio-soak-"))
    worker_tmp = tmp / "worker-tmp"
    worker_tmp.mkdir()
    print(f"soak: {args.jobs} jobs, concurrency {args.concurrency}, a pool process "
          f"SIGKILLed every {args.kill_interval} s (±50 %), seed {args.seed}, "
          f"broker {args.broker}; work dir {tmp}", flush=True)
    os.environ["FILETRACKER_DIR"] = str(tmp / "client-ft-cache")
    ft_url = f"http://127.0.0.1:{free_port()}"
    server = ft.start_filetracker_server(ft_url, str(tmp / "ft-store"), workers=2,
                                         log=str(tmp / "ft-server.log"))
    proc = None
    reply_queue = Queue(f"soak-replies-{uuid.uuid4().hex[:8]}", durable=False,
                        auto_delete=False)
    conn = Connection(args.broker)
    client = Celery("soak-client", set_as_current=False)
    client.config_from_object("sio.celery.default_config")
    client.conf.broker_url = args.broker
    client.conf.result_backend = "disabled://"
    status = 1
    try:
        files = upload_files(ft_url, tmp, build_programs(tmp))
        env = {k: v for k, v in os.environ.items() if not k.startswith("CELERY_")}
        env.update(
            TMPDIR=str(worker_tmp),
            FILETRACKER_URL=ft_url,
            FILETRACKER_DIR=str(tmp / "worker-ft-cache"),
            SIO_EXEC_LOCK_FILE=str(tmp / "exec.lock"),
            SIO_CELERY_DATA_DIR=str(tmp / "celery-data"),
        )
        with client.connection_for_write() as c:
            try:
                c.default_channel.queue_purge(QUEUE)
            except Exception:  # the queue does not exist yet
                pass
        proc = start_worker(args.broker, args.concurrency, env, tmp)
        rss_ready = worker_rss(proc.pid)

        answers = Answers()
        consumer = Consumer(conn, queues=[reply_queue], callbacks=[answers.on_message],
                            accept=["json"])
        consumer.consume()

        def send(soak_id: str, kind: str) -> None:
            client.send_task(TASK_NAME, args=[environ_for(kind, soak_id, files)],
                             task_id=soak_id, queue=QUEUE, reply_to=reply_queue.name)

        # warm-up: every kind, not counted
        kinds = list(KINDS)
        warm = [(f"warm-{i}", kinds[i % len(kinds)]) for i in range(args.warmup)]
        for soak_id, kind in warm:
            send(soak_id, kind)
        drain(conn, lambda: all(i in answers.by_id for i, _ in warm), 300)
        bad_warm = [i for i, k in warm
                    if not any(answer_ok(k, s, r) for s, r in answers.by_id.get(i, []))]
        if bad_warm:
            print(f"warm-up: wrong or missing answers: "
                  f"{[(i, answers.by_id.get(i)) for i in bad_warm[:3]]}", flush=True)
        rss_start = worker_rss(proc.pid)
        answers.by_id.clear()

        weights = [KINDS[k][0] for k in kinds]
        jobs = {f"soak-{i}": rng.choices(kinds, weights)[0] for i in range(args.jobs)}
        stop = threading.Event()
        kills: list = []
        begin = time.monotonic()
        if args.kill_interval > 0:
            thread = threading.Thread(
                target=killer,
                args=(proc.pid, args.kill_interval, random.Random(args.seed + 1), stop, kills),
                daemon=True,
            )
            thread.start()
        for soak_id, kind in jobs.items():
            send(soak_id, kind)
        sent_s = time.monotonic() - begin
        print(f"sent {len(jobs)} jobs in {sent_s:.1f} s", flush=True)

        last_report = time.monotonic()
        idle_since, last_count = time.monotonic(), 0

        def done() -> bool:
            nonlocal last_report, idle_since, last_count
            now = time.monotonic()
            if now - last_report > 30:
                last_report = now
                print(f"  {now - begin:6.0f} s: {len(answers.by_id)}/{len(jobs)} answered, "
                      f"{len(kills)} kills", flush=True)
            if answers.count != last_count:
                idle_since, last_count = now, answers.count
            if proc.poll() is not None:
                return True
            return all(i in answers.by_id for i in jobs)

        drain(conn, done, deadline_s)
        stop.set()
        elapsed = time.monotonic() - begin
        # late duplicates: a job requeued after its answer was published
        drain(conn, lambda: False, 5)
        rss_end = worker_rss(proc.pid)
        worker_alive = proc.poll() is None
        worker_pid = proc.pid
        stop_worker(proc)
        proc = None
        time.sleep(1)
        left = leftover_processes(worker_tmp, worker_pid)
        left_dirs = sorted(p.name for p in worker_tmp.glob("sio-job-*"))

        answered = [i for i in jobs if i in answers.by_id]
        twice = [i for i in answered if len(answers.by_id[i]) > 1]
        lost = [i for i in jobs if i not in answers.by_id]
        wrong = [i for i in answered
                 if not all(answer_ok(jobs[i], s, r) for s, r in answers.by_id[i])]
        per_kind = collections.Counter(jobs.values())
        growth = (rss_end[0] - rss_start[0]) / rss_start[0] * 100

        print(f"jobs sent:                {len(jobs)}  ("
              + ", ".join(f"{k} {per_kind[k]}" for k in kinds) + ")")
        print(f"answered:                 {len(answered)}  in {elapsed:.0f} s "
              f"({len(answered) / elapsed:.1f} jobs/s)")
        print(f"answered twice:           {len(twice)}"
              + (f"  e.g. {twice[:5]}" if twice else ""))
        print(f"lost:                     {len(lost)}"
              + (f"  e.g. {lost[:5]}" if lost else ""))
        print(f"wrong answers:            {len(wrong)}")
        for i in wrong[:5]:
            s, r = answers.by_id[i][0]
            brief = ({k: r.get(k) for k in ("result", "result_code", "exception",
                                             "result_string")} if isinstance(r, dict) else r)
            print(f"    {i} ({jobs[i]}): {s} {brief}")
        print(f"pool processes SIGKILLed: {len(kills)}")
        print(f"worker main process:      {'alive' if worker_alive else 'DIED'} at the end")
        print(f"processes left over:      {len(left)}")
        for line in left[:10]:
            print(f"    {line}")
        print(f"sio-job-* dirs left over: {len(left_dirs)}")
        print(f"worker RSS (main + pool): ready {rss_ready[0] / 1024:.1f} MiB, after warm-up "
              f"{rss_start[0] / 1024:.1f} MiB ({rss_start[2]} pool), end "
              f"{rss_end[0] / 1024:.1f} MiB ({rss_end[2]} pool): growth {growth:+.1f} % "
              f"(main {rss_start[1] / 1024:.1f} -> {rss_end[1] / 1024:.1f} MiB)")
        ok = not lost and not left and not wrong and growth < 10 and worker_alive
        print("soak: PASS" if ok else "soak: FAIL", flush=True)
        status = 0 if ok else 1
        try:
            consumer.cancel()
            reply_queue(conn.default_channel).delete()
        except Exception:
            pass
    finally:
        if proc is not None:
            stop_worker(proc)
        server.stop()
        conn.close()
        client.close()
        if args.keep or status:
            print(f"work dir kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
