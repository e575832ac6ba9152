"""``VCPUExecutor``: the secure supervisor with time counted in instructions.

Contract: docs/contracts.rst §3.3; documentation: ``docs/vcpu.rst``.

Usage::

    with VCPUExecutor(backend="qemu") as ex:       # or backend=None: $SIO_INSTRUCTION_COUNTER, else perf
        renv = ex(["./solution"], stdin=fin, stdout=fout, time_limit=1000, mem_limit=65536)

Everything of :class:`~sio.workers.executors.supervised.SupervisedExecutor`
applies (isolation, limits, verdicts, kwargs); the differences:

* ``time_used`` = instructions // 2,000,000 (virtual ms); ``time_limit`` is
  enforced as ``time_limit × 2,000,000`` instructions, the program killed
  within 1 % past it (TLE ``time limit exceeded (instructions)``);
* ``measurement`` = ``{"time": "instructions-<backend>", "memory":
  "cgroup-peak", "instructions": N, "cgroup": ...}``;
* the default wall-clock guard is ``64 × time_limit + 1000`` ms, multiplied by
  qemu's slowdown under the qemu backend;
* the run ends ``SE`` without starting when the backend cannot work here
  (with the reason and the fix), and under qemu for a JVM;
* ASLR is off for the run.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

from sio.workers import vcpu
from sio.workers.executors.supervised import (
    DEFAULT_TIME_LIMIT_MS,
    RunContext,
    SupervisedExecutor,
    UnsupportedCommand,
    command_argv,
)
from sio.workers.supervisor.supervisor import PROFILES, CpuClock, Profile, RunOutcome
from sio.workers.vcpu import qemu
from sio.workers.vcpu.clocks import no_aslr
from sio.workers.vcpu.run import CountedRun, is_jvm, wall_guard_ms

#: where the qemu backend's files appear inside the sandbox
INSIDE_PLUGIN = "/.sio-vcpu/insn_plugin.so"
INSIDE_AREA = "/.sio-vcpu/count"


class VCPUExecutor(SupervisedExecutor):
    """Supervised execution measured by instruction counting (§3.3).

    ``backend``: ``"perf"``, ``"qemu"`` or ``None`` (then
    ``$SIO_INSTRUCTION_COUNTER``, else ``"perf"``); an unknown name is an
    ``SE`` of every call. Other arguments are those of
    :class:`~sio.workers.executors.supervised.SupervisedExecutor`.
    """

    def __init__(self, backend: str | None = None, allow_local_open: bool = False,
                 use_program_return_code: bool = False, **kwargs: Any) -> None:
        super().__init__(allow_local_open=allow_local_open,
                         use_program_return_code=use_program_return_code, **kwargs)
        self.backend_arg = backend
        self._counted: CountedRun | None = None
        self._guest_plain = False

    # ---- entry point ----

    def run_supervised(self, command: Any, **kw: Any) -> dict[str, Any]:
        try:
            backend = vcpu.choose_backend(self.backend_arg)
        except vcpu.BackendError as e:
            return _se(str(e), "none")
        merged = {**self.defaults, **kw}
        refusal = self._refusal(command, merged, backend)
        if refusal:
            return _se(refusal, backend)
        if merged.get("real_time_limit") is None:
            time_limit = merged.get("time_limit")
            time_limit = DEFAULT_TIME_LIMIT_MS if time_limit is None else int(time_limit)
            kw = {**kw, "real_time_limit": wall_guard_ms(time_limit, backend)}
        self._counted = CountedRun(backend)
        try:
            with no_aslr():
                return super().run_supervised(command, **kw)
        finally:
            self._counted.close()
            self._counted = None

    def _refusal(self, command: Any, kw: dict[str, Any], backend: str) -> str | None:
        try:
            argv = command_argv(command)
        except UnsupportedCommand:
            return None  # the supervisor reports it
        jvm = bool(kw.get("java_sandbox")) or kw.get("profile") == "jvm"
        program = self._resolve_program(argv[0], dict(kw.get("env") or {}))
        return CountedRun(backend).refusal(program, jvm=jvm or is_jvm(argv[0]))

    # ---- supervisor hooks ----

    def _run(self, ctx: RunContext, binds: list[tuple[str, str, bool]],
             stack: contextlib.ExitStack) -> dict[str, Any]:
        if self._counted.backend != "qemu" or self.allow_local_open:
            return super()._run(ctx, binds, stack)
        # Under qemu the plugin itself must open the count area read-write,
        # which the plain profile's seccomp rule forbids; the plugin enforces
        # that rule for the guest instead (noopen=1, "opening files"). The
        # supervisor derives plain_open from allow_local_open and binds the
        # job directory unless it is "/": run with both adjusted.
        job_dir, ctx.job_dir = ctx.job_dir, "/"
        self.allow_local_open = self._guest_plain = True
        try:
            return super()._run(ctx, binds, stack)
        finally:
            self.allow_local_open = self._guest_plain = False
            ctx.job_dir = job_dir

    def _wrapper_argv(self, ctx: RunContext) -> list[str]:
        if self._counted.backend != "qemu":
            return []
        limit = vcpu.ms_to_instructions(ctx.time_limit_ms, "qemu")
        prefix = qemu.argv_prefix(
            path=INSIDE_AREA,
            limit=limit,
            forbid_write_open=self._guest_plain or not self.allow_local_open,
            plugin=INSIDE_PLUGIN,
        )
        # qemu's -0 keeps the argv[0] the program sees
        return [prefix[0], "-0", ctx.argv[0], *prefix[1:]]

    def _extra_binds(self, ctx: RunContext) -> list[tuple[str, str, bool]]:
        if self._counted.backend != "qemu":
            return []
        area = self._counted.open_area()
        return [
            (str(self._counted.plugin_path()), INSIDE_PLUGIN, True),
            (str(area.path), INSIDE_AREA, False),
        ]

    def _profile(self, ctx: RunContext) -> Profile:
        profile = PROFILES[ctx.profile_name]
        if self._counted.backend == "qemu":
            # qemu's own RCU thread
            return dataclasses.replace(profile, pids=profile.pids + 1)
        return profile

    def _memory_overhead_kib(self, ctx: RunContext) -> int:
        if self._counted.backend != "qemu":
            return 0
        return qemu.overhead_kib(ctx.mem_limit_kib)

    def _make_clock(self, ctx: RunContext) -> CpuClock:
        limit = vcpu.ms_to_instructions(ctx.time_limit_ms, self._counted.backend)
        return self._counted.make_clock(limit)

    def _finish_renv(self, renv: dict[str, Any], outcome: RunOutcome, ctx: RunContext) -> None:
        fixed = self._counted.finish(outcome, ctx.mem_limit_kib)
        stdout = renv.get("stdout")
        renv.clear()
        renv.update(self._renv(fixed, ctx))
        if stdout is not None:
            renv["stdout"] = stdout
        self._counted.fix_renv(renv, fixed)


def _se(reason: str, backend: str) -> dict[str, Any]:
    return {
        "return_code": 1,
        "result_code": "SE",
        "result_string": reason,
        "time_used": 0,
        "mem_used": 0,
        "real_time_used": 0,
        "num_syscalls": 0,
        "exit_signal": None,
        "measurement": {"time": f"instructions-{backend}", "memory": "none"},
    }


__all__ = ["INSIDE_AREA", "INSIDE_PLUGIN", "VCPUExecutor"]
