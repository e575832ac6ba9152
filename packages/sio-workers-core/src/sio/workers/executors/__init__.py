"""Executors: environments that run commands (docs/contracts.rst §3).

Always importable: :class:`noquote`, :class:`ExecError`, :class:`BaseExecutor`,
:class:`UnprotectedExecutor`, :class:`DetailedUnprotectedExecutor`,
:class:`SandboxExecutor`. ``PRootExecutor``, ``SupervisedExecutor`` and
``VCPUExecutor`` are imported on first access, so a missing optional part never
breaks ``import sio.workers.executors``.
"""

from __future__ import annotations

import importlib
from typing import Any

from sio.workers.executors.base import BaseExecutor, ExecError, noquote
from sio.workers.executors.sandboxed import SandboxExecutor
from sio.workers.executors.unprotected import (
    DetailedUnprotectedExecutor,
    UnprotectedExecutor,
)

_LAZY = {
    "PRootExecutor": "sio.workers.executors.proot",
    "SupervisedExecutor": "sio.workers.executors.supervised",
    "VCPUExecutor": "sio.workers.executors.vcpu",
}

__all__ = [
    "BaseExecutor",
    "DetailedUnprotectedExecutor",
    "ExecError",
    "PRootExecutor",
    "SandboxExecutor",
    "SupervisedExecutor",
    "UnprotectedExecutor",
    "VCPUExecutor",
    "noquote",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
