"""``sio-doctor``: what this machine supports, and which executors can run.

Prints namespaces, the cgroup version and controllers (and whether peak memory
and OOM events can be read), seccomp, the perf instruction counter, PRoot,
qemu-user plugin support, compilers, whether the supervisor's launcher is
built, the file system under the job directories and what a new file costs
there, measured (with a warning when it is dear, :mod:`sio.workers.jobdir_fs`),
what a ``cpuid`` and a static glibc program's start cost this CPU, measured
(:mod:`sio.workers.cpuid_cost`: on a virtual machine the start-up's ``cpuid``
traps are a floor under every C program's ``time_used``), and per executor
whether it can run here.

Exit status: 0 when every *configured* executor can run, 1 otherwise.
Configured executors: ``--executors a,b`` or ``$SIO_EXECUTORS`` (comma- or
space-separated), default ``supervised``. Known executors: ``supervised``
(SupervisedExecutor, also ``exec``/``cpu-exec``), ``vcpu`` (VCPUExecutor with
the configured instruction counter), ``proot``, ``unprotected``.

``--build`` builds the launcher when it is not built yet; ``--json`` prints
the report as JSON.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

NAMESPACES = ("mnt", "pid", "net", "ipc", "uts", "user", "cgroup")
COMPILERS = ("gcc", "g++", "fpc", "javac", "java", "python3")
KNOWN_EXECUTORS = ("supervised", "vcpu", "proot", "unprotected")

PERF_TYPE_HARDWARE = 0
PERF_COUNT_HW_INSTRUCTIONS = 1
NR_PERF_EVENT_OPEN = 298  # x86-64


def check_namespaces() -> dict[str, bool]:
    return {ns: os.path.exists(f"/proc/self/ns/{ns}") for ns in NAMESPACES}


def check_cgroups() -> dict[str, Any]:
    from sio.workers.supervisor import cgroups

    version = cgroups.detect()
    info: dict[str, Any] = {"version": version}
    mount = cgroups.CGROUP_MOUNT
    if version == "v2":
        root = cgroups.v2_root()
        info["root"] = str(root)
        info["controllers"] = (root / "cgroup.controllers").read_text().split() if root else []
        info["memory_peak"] = bool(root) and (root / "memory.peak").exists()
        info["oom_events"] = bool(root) and (root / "memory.events").exists()
    else:
        info["controllers"] = sorted(
            p.name for p in mount.iterdir() if (p / "cgroup.procs").exists()
        ) if mount.exists() else []
        info["memory_peak"] = (mount / "memory" / "memory.max_usage_in_bytes").exists()
        try:
            text = (mount / "memory" / "memory.oom_control").read_text()
            info["oom_events"] = "oom_kill " in text
        except OSError:
            info["oom_events"] = False
        unified = mount / "unified" / "cgroup.controllers"
        if unified.exists():
            info["unified_v2_controllers"] = unified.read_text().split()
    info["favordynmods"] = _favordynmods()
    return info


def _favordynmods() -> str:
    """Whether joining a cgroup may wait for an RCU grace period: "on" when
    any cgroup hierarchy is mounted with ``favordynmods`` (the supervisor
    mounts one at its first run, :func:`sio.workers.supervisor.slots.favor_dynmods`)."""
    try:
        with open("/proc/self/mounts") as mounts:
            for line in mounts:
                fields = line.split()
                if len(fields) > 3 and fields[2] in ("cgroup", "cgroup2") and \
                        "favordynmods" in fields[3].split(","):
                    return "on"
    except OSError:
        return "unknown"
    if os.environ.get("SIO_CGROUP_FAVORDYNMODS", "1") == "0":
        return "off (SIO_CGROUP_FAVORDYNMODS=0)"
    return "off (set at the first supervised run; needs Linux >= 6.0)"


def check_seccomp() -> dict[str, Any]:
    info: dict[str, Any] = {}
    try:
        status = Path("/proc/self/status").read_text()
        info["kernel"] = "Seccomp:" in status
    except OSError:
        info["kernel"] = False
    try:
        actions = Path("/proc/sys/kernel/seccomp/actions_avail").read_text().split()
    except OSError:
        actions = []
    info["actions"] = actions
    info["user_notif"] = "user_notif" in actions
    info["libseccomp_static"] = any(
        Path(d, "libseccomp.a").exists()
        for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib")
    )
    return info


def check_perf() -> dict[str, Any]:
    """Try perf_event_open(PERF_TYPE_HARDWARE, INSTRUCTIONS) on ourselves."""

    class Attr(ctypes.Structure):
        _fields_ = [("type", ctypes.c_uint32), ("size", ctypes.c_uint32),
                    ("config", ctypes.c_uint64), ("rest", ctypes.c_uint64 * 13)]

    attr = Attr(PERF_TYPE_HARDWARE, ctypes.sizeof(Attr), PERF_COUNT_HW_INSTRUCTIONS)
    attr.rest[1] = 1 | (1 << 5)  # disabled, exclude_kernel
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.syscall(NR_PERF_EVENT_OPEN, ctypes.byref(attr), 0, -1, -1, 0)
    if fd >= 0:
        os.close(fd)
        return {"instructions": True, "detail": "perf_event_open works"}
    err = ctypes.get_errno()
    return {"instructions": False, "detail": f"perf_event_open: {os.strerror(err)} (errno {err})"}


def check_tools() -> dict[str, Any]:
    tools: dict[str, Any] = {}
    tools["proot"] = shutil.which("proot")
    qemu = shutil.which("qemu-x86_64")
    plugin = False
    if qemu:
        try:
            text = subprocess.run([qemu, "-h"], capture_output=True, text=True, timeout=10).stdout
            plugin = "-plugin" in text
        except (OSError, subprocess.TimeoutExpired):
            plugin = False
    tools["qemu-x86_64"] = qemu
    tools["qemu_plugins"] = plugin
    tools["compilers"] = {c: shutil.which(c) for c in COMPILERS}
    return tools


def check_launcher(build_it: bool) -> dict[str, Any]:
    from sio.workers.supervisor import build

    info: dict[str, Any] = {"source_hash": build.source_hash(), "libc": build.libc()}
    installed, cached = build.installed_launcher(), build.cached_launcher()
    path = installed or cached
    if path is None and build_it:
        try:
            path = build.launcher_path(build=True)
        except build.LauncherBuildError as exc:
            info["error"] = str(exc)
    info["built"] = path is not None
    info["path"] = str(path) if path else None
    info["where"] = "install" if installed else ("cache" if path else None)
    return info


def check_native(build_it: bool) -> dict[str, dict[str, Any]]:
    """The small native helpers other than the launcher (``sio-reaper``, the
    qemu plugin): built at install, in the cache, or not yet."""
    from sio.workers import native

    out: dict[str, dict[str, Any]] = {}
    for helper in native.BUILT_AT_INSTALL:
        if helper is native.LAUNCHER:  # reported on its own line (check_launcher)
            continue
        installed, cached = helper.installed(), helper.cached()
        info: dict[str, Any] = {}
        path = installed or cached
        if path is None and build_it:
            try:
                path = helper.path(build=True)
            except (native.NativeBuildError, OSError) as exc:
                info["error"] = str(exc)
        info["built"] = path is not None
        info["path"] = str(path) if path else None
        info["where"] = "install" if installed else ("cache" if path else None)
        out[helper.source.name] = info
    return out


def selftest_supervised() -> tuple[bool, str]:
    """Run /bin/true under SupervisedExecutor's machinery; (ok, detail)."""
    from sio.workers.supervisor.supervisor import RunSpec, supervise
    from sio.workers.supervisor.verdict import verdict

    true = shutil.which("true") or "/bin/true"
    with open(os.devnull, "r+b") as null:
        outcome = supervise(RunSpec(
            argv=[true], env={}, stdin=null.fileno(), stdout=null.fileno(),
            stderr=null.fileno(), time_limit_ms=5000, real_time_limit_ms=10000,
            mem_limit_kib=65536, output_limit=1 << 20,
        ))
    code, text = verdict(outcome.facts)
    if code == "OK":
        return True, f"self-test ok ({outcome.measurement})"
    return False, f"self-test {code}: {text}"


def check_executors(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    reasons = []
    if os.geteuid() != 0:
        reasons.append("needs root")
    if report["cgroups"]["version"] is None:
        reasons.append("no usable cgroup hierarchy")
    if not report["seccomp"]["user_notif"]:
        reasons.append("seccomp user notification unavailable")
    if not report["launcher"]["built"]:
        reasons.append("launcher not built (run sio-doctor --build)")
    if reasons:
        out["supervised"] = {"ok": False, "detail": "; ".join(reasons)}
    else:
        ok, detail = selftest_supervised()
        out["supervised"] = {"ok": ok, "detail": detail}
    try:
        from sio.workers.vcpu import probe_backends

        vcpu = probe_backends()
        ok = bool(vcpu["configured_ok"]) and out["supervised"]["ok"]
        out["vcpu"] = {"ok": ok, "detail": f"counter {vcpu['configured']}: "
                       + "; ".join(f"{k}: {v['detail']}" for k, v in vcpu["backends"].items())}
    except Exception as exc:  # noqa: BLE001 - report, never crash the doctor
        out["vcpu"] = {"ok": False, "detail": f"cannot probe: {exc}"}
    proot = report["tools"]["proot"]
    out["proot"] = {"ok": bool(proot), "detail": proot or "proot not found"}
    reaper = report["native"].get("reaper.c", {})
    out["unprotected"] = {
        "ok": True,
        "detail": "no isolation (trusted code only); DetailedUnprotected mem_used "
        + ("exact (sio-reaper)" if reaper.get("built") else
           "exact once sio-reaper is built (sio-doctor --build)")
        + "; " + kill_on_death(),
    }
    return out


def kill_on_death() -> str:
    """Whether every process of an unprotected run (compilers, checkers,
    ``unsafe-exec``, ``ingen``, ``inwer``) dies with a dead worker here
    (probed with a real run; builds ``sio-reaper`` when it can)."""
    try:
        from sio.workers.executors.process import pid_namespace_works

        works = pid_namespace_works()
    except Exception as exc:  # noqa: BLE001 - report, never crash the doctor
        return f"kill-on-death unknown ({exc})"
    if works:
        return "every process of a run dies with the worker (pid namespace per run)"
    return ("NO pid namespace per run: a run's command dies with the worker, but what "
            "it forked may outlive it (run the worker as root)")


def check_job_directories() -> dict[str, Any]:
    """The file system under the job directories (:mod:`sio.workers.jobdir_fs`)."""
    from sio.workers import jobdir_fs

    try:
        fs = jobdir_fs.describe()
    except Exception as exc:  # noqa: BLE001 - report, never crash the doctor
        return {"path": None, "detail": f"cannot tell ({exc})", "advice": None}
    if fs is None:
        return {"path": None, "detail": "cannot tell (no /proc/self/mountinfo entry)",
                "advice": None}
    return {"path": fs.path, "fstype": fs.fstype, "device": fs.device,
            "mountpoint": fs.mountpoint, "journal": fs.journal,
            "new_file_us": fs.new_file_us, "detail": fs.summary,
            "advice": fs.advice}


def check_cpuid(build_it: bool) -> dict[str, Any]:
    """What ``cpuid`` and a static glibc program's start cost here
    (:mod:`sio.workers.cpuid_cost`): measured with the probe when it is
    built (or ``build_it``)."""
    from sio.workers import cpuid_cost, native

    try:
        cost = cpuid_cost.measure(build=build_it)
    except (cpuid_cost.ProbeError, native.NativeBuildError, OSError) as exc:
        return {"measured": False, "detail": f"not measured ({exc})"}
    return {"measured": True, "hypervisor": cost.hypervisor, "cpuid_us": cost.cpuid_us,
            "start_us": cost.start_us, "detail": cost.summary}


def check_stale() -> dict[str, Any]:
    """What a stale-state sweep would clear now (a dry run of
    :func:`sio.workers.stale.clear_stale_state`) and whether it can."""
    try:
        from sio.workers.stale import clear_stale_state

        found = clear_stale_state(dry_run=True)
    except Exception as exc:  # noqa: BLE001 - report, never crash the doctor
        return {"ok": False, "summary": f"cannot look ({exc})", "lines": []}
    return {"ok": os.geteuid() == 0, "found": found.found(), "summary": found.summary(),
            "lines": found.lines()}


def configured_executors(arg: str | None) -> list[str]:
    text = arg if arg is not None else os.environ.get("SIO_EXECUTORS", "supervised")
    return [e for e in text.replace(",", " ").split() if e]


def gather(build_it: bool = False) -> dict[str, Any]:
    report: dict[str, Any] = {
        "namespaces": check_namespaces(),
        "cgroups": check_cgroups(),
        "seccomp": check_seccomp(),
        "perf": check_perf(),
        "tools": check_tools(),
        "launcher": check_launcher(build_it),
        "native": check_native(build_it),
        "job_directories": check_job_directories(),
        "cpuid": check_cpuid(build_it),
        "stale": check_stale(),
    }
    report["executors"] = check_executors(report)
    return report


def _yes(value: Any) -> str:
    return "yes" if value else "no"


def format_report(report: dict[str, Any], configured: list[str]) -> str:
    cg = report["cgroups"]
    lines = [
        "namespaces: " + " ".join(f"{k}={_yes(v)}" for k, v in report["namespaces"].items()),
        f"cgroups: version={cg['version'] or 'none'} controllers={','.join(cg['controllers'])} "
        f"memory-peak={_yes(cg['memory_peak'])} oom-events={_yes(cg['oom_events'])} "
        f"favordynmods={cg['favordynmods']}",
        f"seccomp: kernel={_yes(report['seccomp']['kernel'])} "
        f"user-notif={_yes(report['seccomp']['user_notif'])} "
        f"libseccomp.a={_yes(report['seccomp']['libseccomp_static'])}",
        f"perf instruction counter: {_yes(report['perf']['instructions'])} "
        f"({report['perf']['detail']})",
        f"proot: {report['tools']['proot'] or 'no'}",
        f"qemu-user: {report['tools']['qemu-x86_64'] or 'no'} "
        f"plugins={_yes(report['tools']['qemu_plugins'])}",
        "compilers: " + " ".join(f"{k}={'yes' if v else 'no'}"
                                 for k, v in report["tools"]["compilers"].items()),
        f"launcher: built={_yes(report['launcher']['built'])} libc={report['launcher']['libc']}"
        + (f" ({report['launcher']['where']}: {report['launcher']['path']})"
           if report["launcher"]["built"] else "")
        + (f" error: {report['launcher']['error']}" if "error" in report["launcher"] else ""),
    ]
    for name, info in report["native"].items():
        lines.append(
            f"{name}: built={_yes(info['built'])}"
            + (f" ({info['where']}: {info['path']})" if info["built"] else " (built on first use)")
            + (f" error: {info['error']}" if "error" in info else "")
        )
    jobs = report["job_directories"]
    lines.append(f"job directories: {jobs['path'] or '?'}: {jobs['detail']}"
                 + (f" - WARNING: {jobs['advice']}" if jobs["advice"] else ""))
    lines.append(f"cpuid: {report['cpuid']['detail']}")
    stale = report["stale"]
    lines.append(
        f"stale-state sweep: {stale['summary']}"
        + ("" if stale.get("ok") else " (not root: other users' leftovers and the "
           "supervisor's cgroups stay; workers start without a full sweep)")
        + (" - run sio-clear-stale" if stale.get("found") else "")
    )
    lines += [f"   {line}" for line in stale["lines"]]
    lines += [
        "executors:",
    ]
    for name, info in report["executors"].items():
        mark = "*" if name in configured else " "
        lines.append(f" {mark} {name}: {'can run' if info['ok'] else 'CANNOT run'} "
                     f"- {info['detail']}")
    lines.append("(* = configured)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sio-doctor", description=__doc__.splitlines()[0])
    parser.add_argument("--executors", help="comma-separated executors that must work "
                        "(default: $SIO_EXECUTORS or 'supervised')")
    parser.add_argument("--build", action="store_true", help="build the launcher and the other native helpers if needed")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    configured = configured_executors(args.executors)
    unknown = [e for e in configured if e not in KNOWN_EXECUTORS]
    if unknown:
        print(f"sio-doctor: unknown executor(s) {', '.join(unknown)}; known: "
              f"{', '.join(KNOWN_EXECUTORS)}", file=sys.stderr)
        return 2
    report = gather(build_it=args.build)
    print(json.dumps(report, indent=2) if args.json else format_report(report, configured))
    failing = [e for e in configured if not report["executors"][e]["ok"]]
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
