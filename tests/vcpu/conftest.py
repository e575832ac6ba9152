"""Fixtures of the instruction-counting tests (tests/vcpu).

``vcpu_program(name)`` compiles ``programs/<name>.c`` (once per session) and
returns its path. ``pmu_available`` tells whether this machine has a hardware
instruction counter; tests marked ``pmu`` are skipped without one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sio.workers.vcpu import perf, plugin

PROGRAMS = Path(__file__).resolve().parent / "programs"


@pytest.fixture(scope="session")
def vcpu_program(build_c):
    def build(name: str, static: bool = False) -> Path:
        return build_c(PROGRAMS / f"{name}.c", "-pthread", static=static)

    return build


@pytest.fixture(scope="session")
def pmu_available() -> bool:
    return perf.probe()[0]


@pytest.fixture(scope="session")
def qemu_path() -> str:
    path = plugin.find_qemu()
    if not path:
        pytest.skip("qemu-x86_64 is not installed (Debian package qemu-user)")
    return path


def pytest_collection_modifyitems(config, items):
    usable, reason = perf.probe()
    if usable:
        return
    skip = pytest.mark.skip(reason=f"no hardware instruction counter here: {reason[:120]}")
    here = Path(__file__).resolve().parent
    for item in items:
        if "pmu" in item.keywords and here in Path(str(item.path)).resolve().parents:
            item.add_marker(skip)
