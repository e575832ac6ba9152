"""What the sandbox modules share: the error, the settings, the progress bar.

:class:`SandboxError`, :func:`sandboxes_basedir` (``$SIO_SANDBOXES_BASEDIR``)
and ``$SIO_SANDBOXES_CHECK_INTERVAL``. Part of :mod:`sio.workers.sandbox`
(``docs/contracts.rst`` §5).
"""

from __future__ import annotations

import os
import sys
from typing import Any

DEFAULT_CHECK_INTERVAL = 3600.0


class SandboxError(RuntimeError):
    """A sandbox could not be found, downloaded or extracted."""


def sandboxes_basedir() -> str:
    """``$SIO_SANDBOXES_BASEDIR`` or ``~/.sio-sandboxes`` (absolute)."""
    base = os.environ.get("SIO_SANDBOXES_BASEDIR") or os.path.join("~", ".sio-sandboxes")
    return os.path.abspath(os.path.expanduser(base))


def _check_interval() -> float:
    try:
        return float(os.environ.get("SIO_SANDBOXES_CHECK_INTERVAL", DEFAULT_CHECK_INTERVAL))
    except ValueError:
        return DEFAULT_CHECK_INTERVAL


def _interactive() -> bool:
    return sys.stderr is not None and hasattr(sys.stderr, "isatty") and sys.stderr.isatty()


def _progress(total: int | None, desc: str, unit: str = "B") -> Any:
    """A tqdm bar on a terminal, a no-op object otherwise."""
    if _interactive():
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, unit=unit, unit_scale=unit == "B",
                    leave=False, file=sys.stderr)

    class _Quiet:
        def update(self, n: int = 1) -> None:
            pass

        def close(self) -> None:
            pass

    return _Quiet()
