#!/usr/bin/env python3
"""The judging demo: sio-workers behind Celery on the embedded broker.

1. starts ``sio-celery-worker`` in a subprocess (embedded SQLite broker in a
   fresh temporary directory, or ``--broker URL``),
2. sends one ``compile`` job per solution of the example problem
   (``examples/sum`` by default),
3. sends one ``exec`` job per (compiled solution, test), with the output
   checked against the test's ``.out``,
4. prints the verdict table (solution x test -> verdict and CPU time),
5. stops the worker; exit status 0 when every verdict is the expected one
   (``problem.json``), 1 otherwise, 2 when the demo could not run.

Files travel as absolute local paths (``use_filetracker: False``): the
worker runs on this machine.

Usage: .venv/bin/python scripts/demo.py [--problem DIR] [--exec-job exec]
       [--broker URL] [--concurrency N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TASK_NAME = "sio.celery.job.sioworkers_job"
JOB_TIMEOUT = 300


class DemoError(RuntimeError):
    """The demo cannot run (worker did not start, a job type is missing...)."""


def start_worker(work: Path, broker: str | None, concurrency: int, env: dict) -> subprocess.Popen:
    log = work / "worker.log"
    cmd = [str(BIN / "sio-celery-worker"), "-c", str(concurrency), "-l", "info", "-n", "demo@%h"]
    cmd += ["--without-mingle", "--without-gossip"]
    if broker:
        cmd.append(broker)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True, cwd=work
        )
    deadline = time.monotonic() + 120
    while " ready." not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_worker(proc)
            raise DemoError(f"the worker did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.2)
    return proc


def stop_worker(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # pool processes too, if any is left
    except ProcessLookupError:
        pass
    proc.wait()


def gather(results: dict) -> dict:
    """Wait for every AsyncResult in ``results`` (key -> result)."""
    return {key: res.get(timeout=JOB_TIMEOUT) for key, res in results.items()}


def check_job_types(envs: dict) -> None:
    for env in envs.values():
        if env.get("result") == "FAILURE" and "entry-point group 'sio.jobs'" in env.get(
            "exception", ""
        ):
            raise DemoError(f"the worker cannot run this job: {env['exception']}")


def judge(app, problem: Path, work: Path, exec_job: str) -> tuple[dict, dict]:
    """Compile and run every solution; returns (compile envs, exec envs)."""
    spec = json.loads((problem / "problem.json").read_text())
    send = lambda env: app.send_task(TASK_NAME, args=[env], queue="sioworkers")  # noqa: E731
    compiled = gather(
        {
            solution: send(
                {
                    "job_type": "compile",
                    "source_file": str(problem / "prog" / solution),
                    "out_file": str(work / f"{Path(solution).stem}.e"),
                    "compiler": spec.get("compiler", "system-cpp"),
                    "use_filetracker": False,
                }
            )
            for solution in spec["solutions"]
        }
    )
    check_job_types(compiled)
    runs = {}
    for solution, env in compiled.items():
        if env.get("result") != "SUCCESS" or env.get("result_code") != "OK":
            continue
        for test in spec["tests"]:
            runs[(solution, test)] = send(
                {
                    "job_type": exec_job,
                    "exe_file": env["out_file"],
                    "exec_info": env.get("exec_info") or {"mode": "executable"},
                    "in_file": str(problem / "tests" / f"{test}.in"),
                    "hint_file": str(problem / "tests" / f"{test}.out"),
                    "check_output": True,
                    "exec_time_limit": spec["exec_time_limit"],
                    "exec_mem_limit": spec["exec_mem_limit"],
                    "use_filetracker": False,
                }
            )
    executed = gather(runs)
    check_job_types(executed)
    return compiled, executed


def verdict(env: dict) -> str:
    if env.get("result") != "SUCCESS":
        return "FAIL"
    return str(env.get("result_code", "?"))


def report(spec: dict, compiled: dict, executed: dict) -> bool:
    """Print the verdict table; True when every verdict is the expected one."""
    tests = spec["tests"]
    width = max(len(s) for s in spec["solutions"]) + 2
    print(
        f"\nproblem {spec['name']}: time limit {spec['exec_time_limit']} ms, "
        f"memory limit {spec['exec_mem_limit']} KiB\n"
    )
    print("solution".ljust(width) + "".join(f"test {t}".ljust(16) for t in tests) + "expected")
    all_good = True
    for solution, expected in spec["solutions"].items():
        cenv = compiled[solution]
        row = solution.ljust(width)
        good = True
        if cenv.get("result") != "SUCCESS" or cenv.get("result_code") != "OK":
            reason = cenv.get("result_code") or cenv.get("exception", "FAILURE")
            row += f"compilation: {reason} {cenv.get('compiler_output', '')}".strip()[:80]
            good = False
        else:
            for test in tests:
                env = executed[(solution, test)]
                v = verdict(env)
                cell = f"{v} {env.get('time_used', '-')}ms" if v != "FAIL" else "FAIL"
                row += cell.ljust(16)
                good &= v == expected[test]
        row += "as expected" if good else "NOT as expected"
        all_good &= good
        print(row)
    for (solution, test), env in executed.items():
        if verdict(env) != spec["solutions"][solution][test]:
            detail = env.get("result_string") or env.get("exception", "")
            print(f"  {solution} test {test}: {verdict(env)} ({detail[:200]})")
    return all_good


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problem", type=Path, default=REPO / "examples" / "sum")
    parser.add_argument("--exec-job", default="exec", help="exec, cpu-exec, unsafe-exec, ...")
    parser.add_argument("--broker", help="broker URL (default: embedded, in a temporary dir)")
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args(argv)
    problem = args.problem.resolve()
    spec = json.loads((problem / "problem.json").read_text())

    work = Path(tempfile.mkdtemp(prefix="sio-demo-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CELERY_")}
    env["SIO_CELERY_DATA_DIR"] = str(work / "celery")
    # The client below must meet the worker in the same place.
    os.environ["SIO_CELERY_DATA_DIR"] = env["SIO_CELERY_DATA_DIR"]
    for name in ("CELERY_BROKER_URL", "CELERY_CONFIG_MODULE", "CELERY_RESULT_BACKEND"):
        os.environ.pop(name, None)
    if args.broker:
        os.environ["CELERY_BROKER_URL"] = args.broker
    from sio.celery import app

    where = args.broker or app.conf.broker_url
    print(f"starting sio-celery-worker (broker {where}, {args.concurrency} processes)")
    worker = None
    try:
        worker = start_worker(work, args.broker, args.concurrency, env)
        print(
            f"judging {len(spec['solutions'])} solutions x {len(spec['tests'])} tests "
            f"of {problem.name} with '{args.exec_job}' jobs"
        )
        compiled, executed = judge(app, problem, work, args.exec_job)
        ok = report(spec, compiled, executed)
    except DemoError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    finally:
        if worker is not None:
            stop_worker(worker)
            print("worker stopped")
        app.close()
        shutil.rmtree(work, ignore_errors=True)
    print("all verdicts as expected" if ok else "some verdicts differ from the expected ones")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
