"""Unpacking a sandbox image safely, and removing an unpacked tree.

:func:`extract_archive` uses :func:`tarfile.data_filter` and checks that
every member lies in the image's top-level folder ``<name>/``: nothing may
land outside the sandbox, no device files, no links pointing outside; a
corrupt or truncated archive raises :class:`SandboxError`. Part of
:mod:`sio.workers.sandbox` (``docs/contracts.rst`` §5).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tarfile
from typing import Any

from sio.workers.sandbox.common import SandboxError, _progress


def extract_archive(archive: str, name: str, into: str) -> str:
    """Safely extract ``archive`` (a ``<name>.tar.gz``) under the directory
    ``into`` and return the path of its top-level folder ``<name>``.

    Raises :class:`SandboxError` for a corrupt archive, a member outside
    ``<name>/``, or anything :func:`tarfile.data_filter` refuses (absolute
    or ``..`` paths, links pointing outside, device files).
    """
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()  # reads it all: detects truncation early
            bar = _progress(len(members), f"extract {name}", unit="file")
            try:
                for member in members:
                    parts = [p for p in member.name.split("/") if p not in ("", ".")]
                    if not parts or parts[0] != name:
                        raise SandboxError(
                            f"sandbox {name}: member {member.name!r} is outside the "
                            f"top-level folder {name}/"
                        )
                    tar.extract(member, into, filter="data")
                    bar.update()
            finally:
                bar.close()
    except tarfile.FilterError as exc:
        raise SandboxError(f"sandbox {name}: unsafe archive: {exc}") from None
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise SandboxError(f"sandbox {name}: corrupt archive: {exc}") from None
    root = os.path.join(into, name)
    if not os.path.isdir(root):
        raise SandboxError(f"sandbox {name}: the archive has no folder {name}/")
    return root


def _rmtree(path: str) -> None:
    def onerror(func: Any, p: str, exc: Any) -> None:  # read-only dirs from the image
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(p), 0o755)
            os.chmod(p, 0o755)
            func(p)

    shutil.rmtree(path, onerror=onerror)
