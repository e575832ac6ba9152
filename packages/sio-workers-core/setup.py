"""Build hook: compile the package's native helpers at install.

All metadata lives in pyproject.toml. ``build_py`` compiles every helper of
``sio.workers.native.BUILT_AT_INSTALL`` (the supervisor's launcher
``sio-launcher-<hash>``, ``sio-reaper``, the qemu instruction-counting
plugin) into the build tree next to its source. A failed build does not
fail the install: the binary is then built on first use into a per-user
cache, and ``sio-doctor`` says which is the case. Editable installs do not
run this hook (they use the on-demand build).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"
NATIVE_MODULE = SRC / "sio" / "workers" / "native.py"


def _native_targets(build_lib: str):
    """(module, helper, destination) for each helper built at install."""
    name = "_sio_native_build"
    spec = importlib.util.spec_from_file_location(name, NATIVE_MODULE)
    native = importlib.util.module_from_spec(spec)
    sys.modules[name] = native  # dataclasses look their module up
    spec.loader.exec_module(native)
    for helper in native.BUILT_AT_INSTALL:
        rel = helper.source.with_name(helper.binary_name()).relative_to(SRC)
        yield native, helper, Path(build_lib) / rel


class BuildPyWithNativeHelpers(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        for native, helper, target in _native_targets(self.build_lib):
            try:
                helper.compile(target)
            except native.NativeBuildError as exc:
                print(f"warning: {helper.source.name} not built at install: {exc}",
                      file=sys.stderr)

    def get_outputs(self, include_bytecode=True):
        outputs = super().get_outputs(include_bytecode)
        for _, _, target in _native_targets(self.build_lib):
            if target.exists():
                outputs.append(str(target))
        return outputs


setup(cmdclass={"build_py": BuildPyWithNativeHelpers})
