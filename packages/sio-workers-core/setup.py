"""Build hook: compile the package's native helpers at install.

All metadata lives in pyproject.toml. ``build_py`` compiles
``sio/workers/supervisor/launcher.c`` into the build tree as
``sio-launcher-<source hash>`` (see ``sio.workers.supervisor.build``) and
the helpers of ``sio.workers.native.BUILT_AT_INSTALL`` (``sio-reaper``, the
qemu instruction-counting plugin) next to their sources. A failed build
does not fail the install: the binary is then built on first use into a
per-user cache, and ``sio-doctor`` says which is the case. Editable installs
do not run this hook (they use the on-demand build).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"
BUILD_MODULE = SRC / "sio" / "workers" / "supervisor" / "build.py"
NATIVE_MODULE = SRC / "sio" / "workers" / "native.py"


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _load_build_module():
    return _load(BUILD_MODULE, "_sio_launcher_build")


def _native_targets(build_lib: str):
    native = _load(NATIVE_MODULE, "_sio_native_build")
    for helper in native.BUILT_AT_INSTALL:
        rel = helper.source.with_name(helper.binary_name()).relative_to(SRC)
        yield native, helper, Path(build_lib) / rel


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
        for native, helper, target in _native_targets(self.build_lib):
            try:
                helper.compile(target)
            except native.NativeBuildError as exc:
                print(f"warning: {helper.source.name} not built at install: {exc}",
                      file=sys.stderr)

    def get_outputs(self, include_bytecode=True):
        outputs = super().get_outputs(include_bytecode)
        build = _load_build_module()
        launcher = os.path.join(self.build_lib, "sio", "workers", "supervisor", build.binary_name())
        if os.path.exists(launcher):
            outputs.append(launcher)
        for _, _, target in _native_targets(self.build_lib):
            if target.exists():
                outputs.append(str(target))
        return outputs


setup(cmdclass={"build_py": BuildPyWithLauncher})
