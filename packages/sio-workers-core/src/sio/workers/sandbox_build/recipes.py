"""Recipes: which packages and host paths make up each sandbox image.

Names (the folder inside ``<name>.tar.gz`` and the name passed to
:func:`sio.workers.sandbox.get_sandbox`):

``null-sandbox``
    An empty root (only the manifest).
``proot-sandbox``
    ``/usr/bin/proot``, ``/bin/sh`` (dash) and coreutils with their libraries.
``compiler-gcc.<version>``
    gcc and g++ (``/usr/bin/gcc``, ``/usr/bin/g++``, also ``cc``/``c++``),
    binutils, libc6-dev, libstdc++ headers, ``/bin/sh``.
``compiler-fpc.<version>``
    Free Pascal: ``/usr/bin/fpc`` (+ ``ppcx64``), the RTL units,
    ``/etc/fpc.cfg``, binutils, ``/bin/sh``.
``compiler-java.<version>``
    OpenJDK: ``/usr/bin/javac``, ``/usr/bin/java``, ``/usr/bin/jar``, ``/bin/sh``
    (without ``jmods``, which only ``jlink`` needs).

``<version>`` is the version of the toolchain installed on the build host,
written with dots or underscores (``compiler-gcc.12.2.0`` and
``compiler-gcc.12_2_0`` are both accepted; each name is its own image);
for Java it is the major version (``compiler-java.17``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field


class RecipeError(ValueError):
    """No recipe for a name, or the toolchain is missing on this host."""


def _run(*cmd: str) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RecipeError(f"cannot run {cmd[0]}: {exc}") from None
    return (proc.stdout + proc.stderr).strip()


def gcc_version() -> str:
    """The full version of the host's ``gcc`` (``12.2.0``)."""
    if not shutil.which("gcc"):
        raise RecipeError("gcc is not installed (apt-get install gcc g++)")
    return _run("gcc", "-dumpfullversion")


def fpc_version() -> str:
    """The version of the host's Free Pascal (``3.2.2``)."""
    if not shutil.which("fpc"):
        raise RecipeError("fpc is not installed (apt-get install fpc)")
    return _run("fpc", "-iV")


def java_version() -> str:
    """The major version of the host's ``javac`` (``17``)."""
    if not shutil.which("javac"):
        raise RecipeError("javac is not installed (apt-get install default-jdk-headless)")
    match = re.search(r"javac (\d+)", _run("javac", "-version"))
    if not match:
        raise RecipeError("cannot tell the javac version")
    return match.group(1)


@dataclass(frozen=True)
class Recipe:
    """How to build one family of images.

    ``packages(version)`` are the root Debian packages (their dependency
    closure goes in); ``host_paths`` are extra host paths copied with their
    symlink chains (update-alternatives links, generated config files);
    ``tools`` documents where the main programs are inside the image.
    """

    family: str
    description: str
    packages: Callable[[str], list[str]]
    host_paths: tuple[str, ...] = ()
    version: Callable[[], str] | None = None
    tools: dict[str, str] = field(default_factory=dict)
    exclude_packages: frozenset[str] = frozenset()
    exclude_paths: tuple[str, ...] = ()  # fnmatch patterns


#: Not needed to compile and link ordinary programs (sanitizers, LTO tools,
#: profilers, Kerberos pulled in through libtirpc): left out to keep the
#: images small.
_GCC_EXCLUDED_PACKAGES = frozenset({
    "libasan8", "libtsan2", "liblsan0", "libubsan1", "libhwasan0", "libgprofng0",
    "libssl3", "libkrb5-3", "libk5crypto3", "libgssapi-krb5-2", "libkrb5support0",
})
_GCC_EXCLUDED_PATHS = (
    "*/lto-dump*", "*-lto-dump-*", "/usr/lib/gcc/*/lto1", "*/libasan*", "*/libtsan*",
    "*/liblsan*", "*/libubsan*", "*/libhwasan*", "*/gprofng*", "/usr/bin/*gp-*",
)


_SH = ("/bin/sh",)

RECIPES: dict[str, Recipe] = {
    "null-sandbox": Recipe(
        "null-sandbox", "an empty root", lambda v: [],
    ),
    "proot-sandbox": Recipe(
        "proot-sandbox", "proot with /bin/sh and basic libraries",
        lambda v: ["proot", "dash", "coreutils"], _SH,
        tools={"proot": "/usr/bin/proot", "sh": "/bin/sh"},
    ),
    "compiler-gcc": Recipe(
        "compiler-gcc", "gcc/g++ with libc6-dev and libstdc++",
        lambda v: ["gcc", "g++", "libc6-dev", "dash"],
        _SH + ("/usr/bin/cc", "/usr/bin/c++"),
        gcc_version,
        tools={"gcc": "/usr/bin/gcc", "g++": "/usr/bin/g++", "sh": "/bin/sh"},
        exclude_packages=_GCC_EXCLUDED_PACKAGES,
        exclude_paths=_GCC_EXCLUDED_PATHS,
    ),
    "compiler-fpc": Recipe(
        "compiler-fpc", "Free Pascal with the RTL units",
        lambda v: [f"fp-compiler-{v}", f"fp-units-rtl-{v}", "dash"],
        _SH + ("/usr/bin/fpc", "/usr/bin/ppcx64", "/etc/fpc.cfg"),
        fpc_version,
        tools={"fpc": "/usr/bin/fpc", "sh": "/bin/sh"},
        exclude_packages=_GCC_EXCLUDED_PACKAGES,
        exclude_paths=_GCC_EXCLUDED_PATHS,
    ),
    "compiler-java": Recipe(
        "compiler-java", "OpenJDK (headless)",
        lambda v: [f"openjdk-{v}-jdk-headless", "dash"],
        _SH + ("/usr/bin/javac", "/usr/bin/java", "/usr/bin/jar"),
        java_version,
        tools={"javac": "/usr/bin/javac", "java": "/usr/bin/java", "sh": "/bin/sh"},
        exclude_paths=("/usr/lib/jvm/*/jmods", "/usr/lib/jvm/*/jmods/*",
                       "/usr/lib/jvm/*/man/*", "/usr/lib/jvm/*/demo/*"),
    ),
}


def resolve(name: str) -> tuple[Recipe, str | None]:
    """The recipe for the image ``name`` and the toolchain version it names.

    Raises :class:`RecipeError` for an unknown name or a version other than
    the one installed on this host."""
    if name in RECIPES and RECIPES[name].version is None:
        return RECIPES[name], None
    family, dot, version = name.partition(".")
    recipe = RECIPES.get(family)
    if recipe is None or recipe.version is None or not dot or not version:
        raise RecipeError(f"no recipe for {name!r}; known: {', '.join(known_names())}")
    host = recipe.version()
    if version.replace("_", ".") != host:
        raise RecipeError(
            f"{name}: this host has {family.split('-', 1)[1]} {host}; "
            f"build {family}.{host} or {family}.{host.replace('.', '_')}"
        )
    return recipe, host


def default_name(family: str, underscores: bool = True) -> str:
    """The image name for ``family`` and this host's toolchain
    (``compiler-gcc`` → ``compiler-gcc.12_2_0``)."""
    recipe = RECIPES[family]
    if recipe.version is None:
        return family
    version = recipe.version()
    return f"{family}.{version.replace('.', '_') if underscores else version}"


def known_names() -> list[str]:
    """Image names buildable on this host (compilers that are installed)."""
    names = []
    for family, recipe in RECIPES.items():
        try:
            names.append(default_name(family))
        except RecipeError:
            if recipe.version is None:
                names.append(family)
    return names
