"""The installed Debian packages: dependency closures and file lists.

Images are assembled from the files of packages installed on the build host
(``/var/lib/dpkg``), which is fast, needs no network, and is reproducible for
a given set of installed package versions (recorded in the manifest).
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field

#: Packages never copied into an image: package-management and init
#: machinery pulled in by maintainer scripts, not needed to run a toolchain.
EXCLUDED = frozenset({
    "debconf", "debconf-2.0", "dpkg", "perl-base", "install-info", "ucf",
    "adduser", "passwd", "init-system-helpers", "lsb-base", "sysvinit-utils",
    "libc-bin", "sensible-utils", "cdebconf", "debianutils", "mount",
    "login", "libpam-runtime", "libpam-modules", "libpam-modules-bin",
    "systemd", "libsystemd0", "ca-certificates-java", "ca-certificates",
    "openssl", "python3", "tzdata",
})

#: Paths (prefixes) left out of images: documentation and translations.
EXCLUDED_PREFIXES = (
    "/usr/share/doc/", "/usr/share/man/", "/usr/share/info/",
    "/usr/share/locale/", "/usr/share/lintian/", "/usr/share/bug/",
    "/usr/share/doc-base/", "/usr/share/gdb/",
)

_INFO_DIR = "/var/lib/dpkg/info"


class DebianError(RuntimeError):
    """A package is missing or the dpkg database cannot be read."""


@dataclass
class Package:
    name: str
    arch: str
    version: str
    depends: list[list[str]] = field(default_factory=list)  # groups of alternatives
    provides: list[str] = field(default_factory=list)

    def list_file(self) -> str | None:
        for candidate in (f"{self.name}:{self.arch}.list", f"{self.name}.list"):
            path = os.path.join(_INFO_DIR, candidate)
            if os.path.exists(path):
                return path
        return None

    def files(self) -> list[str]:
        """The paths the package installed (as dpkg lists them)."""
        path = self.list_file()
        if path is None:
            raise DebianError(f"no file list for installed package {self.name}")
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            return [line.rstrip("\n") for line in f if line.strip() not in ("", "/.")]


def _names(field_text: str) -> list[list[str]]:
    groups = []
    for group in field_text.split(","):
        alts = []
        for alt in group.split("|"):
            alt = alt.strip()
            if not alt:
                continue
            name = re.split(r"[\s(\[<]", alt, maxsplit=1)[0]
            alts.append(name.split(":", 1)[0])
        if alts:
            groups.append(alts)
    return groups


def installed_packages() -> dict[str, Package]:
    """All installed packages by name (one architecture per name)."""
    fmt = "${Package}\t${Architecture}\t${Version}\t${db:Status-Abbrev}\t" \
          "${Provides}\t${Pre-Depends}, ${Depends}\n"
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f", fmt], check=True,
                             capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise DebianError(f"cannot query dpkg: {exc}") from None
    packages: dict[str, Package] = {}
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) != 6 or not parts[3].startswith("ii"):
            continue
        name, arch, version, _status, provides, depends = parts
        pkg = Package(name, arch, version, _names(depends),
                      [alts[0] for alts in _names(provides)])
        if name not in packages or arch not in ("all",) and packages[name].arch == "all":
            packages[name] = pkg
    return packages


def closure(roots: list[str], packages: dict[str, Package] | None = None,
            excluded: frozenset[str] = EXCLUDED) -> dict[str, Package]:
    """``roots`` and everything they depend on (first installed alternative,
    virtual packages through ``Provides``), minus ``excluded``."""
    packages = packages if packages is not None else installed_packages()
    providers: dict[str, list[str]] = {}
    for pkg in packages.values():
        for virtual in pkg.provides:
            providers.setdefault(virtual, []).append(pkg.name)

    def resolve(name: str) -> str | None:
        if name in packages:
            return name
        for provider in sorted(providers.get(name, [])):
            return provider
        return None

    result: dict[str, Package] = {}
    todo = []
    for root in roots:
        found = resolve(root)
        if found is None:
            raise DebianError(f"package {root} is not installed on this host "
                              f"(apt-get install {root})")
        todo.append(found)
    while todo:
        name = todo.pop()
        if name in result or name in excluded:
            continue
        pkg = packages[name]
        result[name] = pkg
        for alts in pkg.depends:
            if any(a in excluded for a in alts):
                continue
            for alt in alts:
                found = resolve(alt)
                if found is not None:
                    todo.append(found)
                    break
    return dict(sorted(result.items()))


def wanted(path: str) -> bool:
    """Whether a packaged path goes into images."""
    return not any(path.startswith(p) or path + "/" == p for p in EXCLUDED_PREFIXES)
