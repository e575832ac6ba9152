"""Assembling images: a reproducible ``<name>.tar.gz`` from host files.

The archive holds one folder ``<name>`` with the files of the recipe's
package closure (documentation left out), the extra host paths with their
symlink chains, merged-``/usr`` top-level links when the host has them, and
``<name>/.sio-sandbox.json`` (the manifest: name, recipe, packages and
versions). Members are sorted, owned by root, dated 0, with no setuid bits;
absolute symlinks are rewritten to relative ones so that the image passes
:func:`tarfile.data_filter`.

Built archives are cached in ``$SIO_SANDBOX_IMAGE_CACHE`` (default
``$XDG_CACHE_HOME/sio-workers/images``, i.e. ``~/.cache/sio-workers/images``)
under ``<name>-<key>.tar.gz``, the key being a hash of the manifest, so a
rebuild happens only when a package version changes.
"""

from __future__ import annotations

import contextlib
import fcntl
import fnmatch
import gzip
import hashlib
import io
import json
import logging
import os
import shutil
import stat
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sio.workers.sandbox_build import debian, recipes

logger = logging.getLogger(__name__)

#: Bumped when the archive layout changes (part of the cache key).
FORMAT = 1
MANIFEST = ".sio-sandbox.json"
_MERGED_USR = ("bin", "sbin", "lib", "lib64", "lib32", "libx32")


def cache_dir() -> Path:
    """Where built archives are kept."""
    explicit = os.environ.get("SIO_SANDBOX_IMAGE_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return Path(base).expanduser() / "sio-workers" / "images"


@dataclass
class _Entry:
    kind: str  # "dir" | "file" | "link"
    source: str | None = None  # host file (file)
    target: str | None = None  # link target (link)
    mode: int = 0o755


def _canonical(path: str) -> str:
    """``path`` with its directory's symlinks resolved (the file itself kept)."""
    parent, base = os.path.split(os.path.normpath(path))
    return os.path.join(os.path.realpath(parent or "/"), base)


class _Tree:
    def __init__(self) -> None:
        self.entries: dict[str, _Entry] = {}

    def add_dir(self, path: str) -> None:
        while path not in ("/", "") and path not in self.entries:
            self.entries[path] = _Entry("dir")
            path = os.path.dirname(path)

    def add_host(self, path: str, follow_chain: bool = False) -> None:
        """Add the host path ``path``; with ``follow_chain`` also every link
        of its symlink chain and the final file."""
        for _ in range(40):
            canon = _canonical(path)
            try:
                st = os.lstat(canon)
            except OSError:
                logger.debug("skipping missing %s", path)
                return
            self.add_dir(os.path.dirname(canon))
            if stat.S_ISLNK(st.st_mode):
                target = os.readlink(canon)
                absolute = os.path.normpath(os.path.join(os.path.dirname(canon), target))
                if target.startswith("/"):
                    real_target = _canonical(target)
                    target = os.path.relpath(real_target, os.path.dirname(canon))
                    absolute = real_target
                self.entries.setdefault(canon, _Entry("link", target=target))
                if not follow_chain:
                    return
                path = absolute
                continue
            if stat.S_ISDIR(st.st_mode):
                self.entries.setdefault(canon, _Entry("dir"))
            elif stat.S_ISREG(st.st_mode):
                mode = (st.st_mode & 0o755) | 0o444
                self.entries.setdefault(canon, _Entry("file", source=canon, mode=mode))
            return

    def write(self, out: Path, name: str, manifest: dict) -> None:
        data = json.dumps(manifest, indent=1, sort_keys=True).encode() + b"\n"
        with open(out, "wb") as raw, \
                gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6,
                              mtime=0) as gz, \
                tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            tar.addfile(_info(name, tarfile.DIRTYPE, 0o755))
            for path in sorted(self.entries):
                entry = self.entries[path]
                arcname = name + path
                if entry.kind == "dir":
                    tar.addfile(_info(arcname, tarfile.DIRTYPE, 0o755))
                elif entry.kind == "link":
                    info = _info(arcname, tarfile.SYMTYPE, 0o777)
                    info.linkname = entry.target or ""
                    tar.addfile(info)
                else:
                    assert entry.source is not None
                    info = _info(arcname, tarfile.REGTYPE, entry.mode)
                    with open(entry.source, "rb") as f:
                        info.size = os.fstat(f.fileno()).st_size
                        tar.addfile(info, f)
            info = _info(f"{name}/{MANIFEST}", tarfile.REGTYPE, 0o644)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _info(name: str, kind: bytes, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mtime = 0
    return info


def _plan(name: str) -> tuple[_Tree | None, dict, list[debian.Package]]:
    recipe, version = recipes.resolve(name)
    roots = recipe.packages(version or "")
    excluded = debian.EXCLUDED | recipe.exclude_packages
    packages = list(debian.closure(roots, excluded=excluded).values()) if roots else []
    extra = {}
    for path in recipe.host_paths:
        chain = []
        p = path
        for _ in range(40):
            try:
                st = os.lstat(_canonical(p))
            except OSError:
                break
            chain.append(f"{p}:{st.st_size}:{int(st.st_mtime)}")
            if not stat.S_ISLNK(st.st_mode):
                break
            p = os.path.join(os.path.dirname(_canonical(p)), os.readlink(_canonical(p)))
        extra[path] = chain
    manifest = {
        "name": name,
        "recipe": recipe.family,
        "description": recipe.description,
        "toolchain_version": version,
        "format": FORMAT,
        "packages": {p.name: p.version for p in packages},
        "architecture": sorted({p.arch for p in packages} - {"all"}),
        "host_paths": extra,
        "tools": recipe.tools,
        "excluded_paths": list(recipe.exclude_paths),
    }
    return None, manifest, packages


def manifest_key(manifest: dict) -> str:
    """The cache key of a manifest."""
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()[:16]


def manifest_for(name: str) -> dict:
    """The manifest the image ``name`` would have if built now."""
    return _plan(name)[1]


def _assemble(name: str, packages: list[debian.Package], manifest: dict, out: Path) -> None:
    recipe, _ = recipes.resolve(name)
    tree = _Tree()
    if packages or recipe.host_paths:
        for top in _MERGED_USR:
            if os.path.islink("/" + top):
                tree.add_host("/" + top)
    for pkg in packages:
        for path in pkg.files():
            if debian.wanted(path) and not any(
                fnmatch.fnmatchcase(path, pat) for pat in recipe.exclude_paths
            ):
                tree.add_host(path)
    for path in recipe.host_paths:
        tree.add_host(path, follow_chain=True)
    tree.write(out, name, manifest)


def build_image(name: str, out_dir: str | os.PathLike | None = None,
                force: bool = False) -> Path:
    """Build (or take from the cache) the image ``name``.

    Returns the cached archive, or ``out_dir/<name>.tar.gz`` (with
    ``<name>.tar.gz.sha256`` and ``<name>.manifest.json`` next to it) when
    ``out_dir`` is given. Safe to call from several processes at once.
    """
    _, manifest, packages = _plan(name)
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    cached = cache / f"{name}-{manifest_key(manifest)}.tar.gz"
    with open(cache / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if force or not cached.exists():
            logger.info("building sandbox image %s", name)
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=cache)
            os.close(fd)
            try:
                _assemble(name, packages, manifest, Path(tmp))
                os.chmod(tmp, 0o644)
                _write_sidecars(Path(tmp), manifest, cached)
                os.replace(tmp, cached)
                _prune(cache, name, cached)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
    if out_dir is None:
        return cached
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{name}.tar.gz"
    for suffix in ("", ".sha256"):
        _place(Path(str(cached) + suffix), Path(str(target) + suffix))
    _place(Path(str(cached)[: -len(".tar.gz")] + ".manifest.json"),
           out / f"{name}.manifest.json")
    return target


def _prune(cache: Path, name: str, keep: Path) -> None:
    """Drop archives of ``name`` built for other package versions."""
    stem = keep.name[: -len(".tar.gz")]
    for path in cache.glob(f"{name}-*"):
        key = path.name[len(name) + 1:].split(".", 1)[0]
        if len(key) == 16 and not path.name.startswith(stem):
            with contextlib.suppress(OSError):
                path.unlink()


def _write_sidecars(archive: Path, manifest: dict, cached: Path) -> None:
    digest = hashlib.sha256()
    with open(archive, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    base = str(cached)[: -len(".tar.gz")]
    Path(str(cached) + ".sha256").write_text(
        f"{digest.hexdigest()}  {manifest['name']}.tar.gz\n")
    Path(base + ".manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))


def _place(src: Path, dst: Path) -> None:
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def image_sha256(archive: str | os.PathLike) -> str:
    """The sha256 recorded next to a built archive (computed if missing)."""
    side = Path(str(archive) + ".sha256")
    if side.exists():
        return side.read_text().split()[0]
    digest = hashlib.sha256(Path(archive).read_bytes())
    return digest.hexdigest()


def publish(names: list[str], filetracker_url: str) -> dict[str, str]:
    """Build ``names`` (cached) and upload each to filetracker as
    ``/sandboxes/<name>.tar.gz`` (plus ``.sha256``); return the versioned
    filetracker names."""
    from sio.workers import ft

    client = ft.init_instance(filetracker_url)
    result = {}
    with ft.using_instance(client):
        for name in names:
            archive = build_image(name)
            environ: dict = {}
            ft.upload(environ, "sum", str(archive) + ".sha256",
                      f"/sandboxes/{name}.tar.gz.sha256", to_local_store=False)
            result[name] = ft.upload(environ, "image", str(archive),
                                     f"/sandboxes/{name}.tar.gz", to_local_store=False)
    return result
