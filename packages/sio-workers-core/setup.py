"""Build hook: compile the supervisor's static launcher at install.

All metadata lives in pyproject.toml. ``build_py`` compiles
``sio/workers/supervisor/launcher.c`` into the build tree as
``sio-launcher-<source hash>`` (see ``sio.workers.supervisor.build``). A
failed build does not fail the install: the launcher is then built on first
use into a per-user cache, and ``sio-doctor`` says which is the case.
Editable installs do not run this hook (they use the on-demand build).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
BUILD_MODULE = HERE / "src" / "sio" / "workers" / "supervisor" / "build.py"


def _load_build_module():
    spec = importlib.util.spec_from_file_location("_sio_launcher_build", BUILD_MODULE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BuildPyWithLauncher(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        build = _load_build_module()
        dest = Path(self.build_lib) / "sio" / "workers" / "supervisor" / build.binary_name()
        try:
            build.compile_launcher(dest)
        except build.LauncherBuildError as exc:
            print(f"warning: sio-launcher not built at install: {exc}", file=sys.stderr)

    def get_outputs(self, include_bytecode=True):
        outputs = super().get_outputs(include_bytecode)
        build = _load_build_module()
        launcher = os.path.join(self.build_lib, "sio", "workers", "supervisor", build.binary_name())
        if os.path.exists(launcher):
            outputs.append(launcher)
        return outputs


setup(cmdclass={"build_py": BuildPyWithLauncher})
