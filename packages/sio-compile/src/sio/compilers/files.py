"""Inputs of the compile job: option forms, downloads, the zip archive.

Option forms (``extra_compilation_args``, ``additional_includes``,
``additional_sources``): a string (one item), a list of strings, or a dict
mapping a language code (``c``, ``cpp``, ``pas``, ``java``, ``py``) to one of
the former. A string is *one* argument or path, never split.
"""

from __future__ import annotations

import logging
import os
import stat
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from sio.workers import Failure

logger = logging.getLogger(__name__)

#: Refuse archives that would unpack to more than this (bytes) or members.
ARCHIVE_MAX_SIZE = 1 << 30
ARCHIVE_MAX_MEMBERS = 10000


def lang_option(environ: Mapping[str, Any], key: str, languages: Iterable[str]) -> list[str]:
    """The value of option ``key`` for the first of ``languages`` that a
    per-language dict names, as a list of strings (empty when absent)."""
    value = environ.get(key)
    if isinstance(value, Mapping):
        for lang in languages:
            if lang in value:
                value = value[lang]
                break
        else:
            value = None
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise Failure(f"{key} must be a string, a list of strings or a dict of those; "
                  f"got {value!r}")


def safe_basename(name: str, what: str) -> str:
    """The last component of ``name``, refused when it cannot be a file name
    inside the build directory."""
    base = PurePosixPath(str(name)).name
    if base in ("", ".", "..") or "\x00" in base:
        raise Failure(f"{what}: unusable file name {name!r}")
    return base


def as_argument(name: str) -> str:
    """A file name in the current directory as a command-line argument that
    no tool can take for an option (``-x.c`` becomes ``./-x.c``)."""
    return name if not name.startswith("-") else "./" + name


def download(environ: dict, path: str, dest: Path) -> Path:
    """Fetch ``path`` (a filetracker path or, with ``use_filetracker: False``,
    a local path) to ``dest`` through :func:`sio.workers.ft.download`."""
    from sio.workers import ft

    tmp = dict(environ)
    tmp["_sio_compile_file"] = path
    ft.download(tmp, "_sio_compile_file", str(dest))
    return dest


def _member_target(build_dir: Path, info: zipfile.ZipInfo) -> Path | None:
    name = info.filename
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        return None
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return None
    target = (build_dir / Path(*pure.parts)).resolve()
    root = build_dir.resolve()
    if target != root and root not in target.parents:
        return None
    return target


def extract_archive(archive: Path, build_dir: Path) -> tuple[list[str], list[str]]:
    """Unpack a zip into ``build_dir``. Members with absolute paths, ``..``,
    symbolic links or anything else that would land outside the directory are
    skipped. Returns ``(extracted names, skipped names)``. A file that is not
    a zip, or one that would unpack to more than :data:`ARCHIVE_MAX_SIZE`
    bytes or :data:`ARCHIVE_MAX_MEMBERS` members, is a :class:`Failure`."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise Failure(f"additional_archive is not a usable zip file: {exc}") from None
    extracted: list[str] = []
    skipped: list[str] = []
    with zf:
        infos = zf.infolist()
        if len(infos) > ARCHIVE_MAX_MEMBERS:
            raise Failure(f"additional_archive has {len(infos)} members "
                          f"(at most {ARCHIVE_MAX_MEMBERS})")
        if sum(i.file_size for i in infos) > ARCHIVE_MAX_SIZE:
            raise Failure("additional_archive unpacks to more than "
                          f"{ARCHIVE_MAX_SIZE} bytes")
        for info in infos:
            target = _member_target(build_dir, info)
            if target is None:
                skipped.append(info.filename)
                logger.warning("skipping archive member %r: outside the build "
                               "directory", info.filename)
                continue
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_symlink() or target.is_dir():
                skipped.append(info.filename)
                continue
            with zf.open(info) as src, open(target, "wb") as dst:
                remaining = ARCHIVE_MAX_SIZE
                while chunk := src.read(1 << 16):
                    remaining -= len(chunk)
                    if remaining < 0:
                        raise Failure("additional_archive member "
                                      f"{info.filename!r} is larger than declared")
                    dst.write(chunk)
            os.chmod(target, 0o644)
            extracted.append(info.filename)
    return extracted, skipped
