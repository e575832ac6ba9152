"""``default-<extension>`` compilers: a configurable mapping to real ones.

Built-in mapping (the host toolchains, which the project's setup installs,
so a fresh worker compiles without any sandbox image)::

    c -> system-c, cpp/cc/cxx/c++ -> system-cpp, pas -> system-pas,
    java -> system-java, py -> system-python

``$SIO_DEFAULT_COMPILERS`` overrides entries: comma-separated
``extension=compiler`` pairs, e.g. ``c=c.12,cpp=cpp.12,pas=fpc`` (the
target may carry a version after ``.`` as in ``environ['compiler']``).
"""

from __future__ import annotations

import os

from sio.workers import Failure, entrypoints

BUILTIN = {
    "c": "system-c",
    "cpp": "system-cpp",
    "cc": "system-cpp",
    "cxx": "system-cpp",
    "c++": "system-cpp",
    "pas": "system-pas",
    "java": "system-java",
    "py": "system-python",
}


def mapping() -> dict[str, str]:
    """The current ``extension -> compiler`` mapping."""
    result = dict(BUILTIN)
    for item in os.environ.get("SIO_DEFAULT_COMPILERS", "").split(","):
        if "=" in item:
            ext, _, target = item.partition("=")
            if ext.strip() and target.strip():
                result[ext.strip().lower()] = target.strip()
    return result


def resolve(extension: str) -> str:
    """The compiler name ``default-<extension>`` stands for."""
    target = mapping().get(extension.lower())
    if target is None or target.split(".", 1)[0].startswith("default-"):
        raise Failure(f"no default compiler for extension {extension!r} "
                      f"(see SIO_DEFAULT_COMPILERS)")
    return target


def load_compiler(name: str):
    """The compiler object for a full compiler name (``entry[.version]``):
    a :class:`~sio.compilers.base.Compiler` instance or a plain callable."""
    entry, _, version = name.partition(".")
    obj = entrypoints.load(entrypoints.COMPILERS_GROUP, entry)
    if isinstance(obj, type):
        return obj(version or None)
    return obj


class DefaultCompiler:
    """Entry-point object of ``default-<extension>``."""

    def __init__(self, extension: str) -> None:
        self.extension = extension

    def target(self):
        """The compiler this name maps to now."""
        return load_compiler(resolve(self.extension))

    def __call__(self, environ: dict) -> dict:
        return self.target()(environ)

    def self_test(self) -> bool | str:
        test = getattr(self.target(), "self_test", None)
        return test() if test else True


default_c = DefaultCompiler("c")
default_cpp = DefaultCompiler("cpp")
default_cc = DefaultCompiler("cc")
default_pas = DefaultCompiler("pas")
default_java = DefaultCompiler("java")
default_py = DefaultCompiler("py")
