"""What cpuid and a static glibc program's start cost here (sio.workers.cpuid_cost),
and its line in sio-doctor."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sio.workers import cpuid_cost

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")


def _cpu_says_hypervisor() -> bool:
    flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("flags"))
    return "hypervisor" in flags.split()


@needs_gcc
def test_the_probe_says_what_the_kernel_says_of_the_hypervisor():
    out = subprocess.run([str(cpuid_cost.PROBE.path())], capture_output=True, text=True,
                         check=True).stdout
    vendor, cpuid_us = cpuid_cost._parse(out)
    assert (vendor is not None) == _cpu_says_hypervisor()
    assert cpuid_us > 0
    # "start" does nothing but start
    done = subprocess.run([str(cpuid_cost.PROBE.path()), "start"], capture_output=True)
    assert (done.returncode, done.stdout) == (0, b"")


@needs_gcc
def test_the_start_is_glibcs_start_up(tmp_path):
    """The probe's start costs what a static glibc ``return 0`` costs, and
    where cpuid traps, far more than the same start without libc: the
    difference is glibc's start-up asking cpuid dozens of times."""
    cost = cpuid_cost.measure()
    assert cost.cpuid_us > 0 and cost.start_us > 0
    (tmp_path / "zero.c").write_text("int main(void) { return 0; }\n")
    (tmp_path / "nolibc.c").write_text(
        'void _start(void) { __asm__ volatile("mov $60, %%eax; xor %%edi, %%edi; syscall"'
        ' ::: "memory"); }\n')
    subprocess.run(["gcc", "-O2", "-static", "-o", str(tmp_path / "zero"),
                    str(tmp_path / "zero.c")], check=True)
    subprocess.run(["gcc", "-O2", "-static", "-nostdlib", "-o", str(tmp_path / "nolibc"),
                    str(tmp_path / "nolibc.c")], check=True)
    zero = cpuid_cost.start_cpu_us([str(tmp_path / "zero")])
    nolibc = cpuid_cost.start_cpu_us([str(tmp_path / "nolibc")])
    assert cost.start_us / 3 < zero < cost.start_us * 3
    if cost.cpuid_us >= 2:  # cpuid traps (a virtual machine)
        assert cost.start_us >= 10 * cost.cpuid_us
        assert nolibc < zero / 2


def test_summary_names_the_hypervisor_or_none():
    vm = cpuid_cost.CpuidCost("KVMKVMKVM", 11.4, 790.0)
    assert vm.summary == ("11.4 us each, traps to the hypervisor (KVMKVMKVM); a static glibc "
                          "program's start costs 0.79 ms of CPU here (in every C/C++ "
                          "program's time_used)")
    metal = cpuid_cost.CpuidCost(None, 0.1, 95.0)
    assert metal.summary.startswith("0.1 us each, no hypervisor; ")
    assert "0.10 ms of CPU" in metal.summary


def test_a_failing_program_is_a_probe_error():
    with pytest.raises(cpuid_cost.ProbeError):
        cpuid_cost.start_cpu_us(["/bin/false"], runs=1)


def test_unexpected_probe_output_is_an_error():
    assert cpuid_cost._parse("hypervisor -\ncpuid_ns 120\n") == (None, 0.12)
    with pytest.raises(cpuid_cost.ProbeError):
        cpuid_cost._parse("hypervisor -\n")
    with pytest.raises(cpuid_cost.ProbeError):
        cpuid_cost._parse("cpuid_ns lots\nhypervisor -\n")


@needs_gcc
def test_doctor_prints_the_measured_line():
    doctor = [sys.executable, "-m", "sio.workers.doctor", "--executors", "unprotected",
              "--build"]
    text = subprocess.run(doctor, capture_output=True, text=True, timeout=120).stdout
    line = next(line for line in text.splitlines() if line.startswith("cpuid: "))
    assert " us each, " in line and "ms of CPU here" in line
    assert ("traps to the hypervisor" in line) == _cpu_says_hypervisor()
    report = json.loads(subprocess.run([*doctor, "--json"], capture_output=True, text=True,
                                       timeout=120).stdout)
    cpuid = report["cpuid"]
    assert cpuid["measured"] is True
    assert (cpuid["hypervisor"] is not None) == _cpu_says_hypervisor()
    assert cpuid["cpuid_us"] > 0 and cpuid["start_us"] > 0
