"""Finding plugins (jobs, filters, compilers) by name in entry-point groups."""

from __future__ import annotations

import logging
from importlib.metadata import entry_points
from typing import Any

logger = logging.getLogger(__name__)

JOBS_GROUP = "sio.jobs"
FILTERS_GROUP = "sio.workers.filters"
COMPILERS_GROUP = "sio.compilers"

_KIND = {JOBS_GROUP: "job", FILTERS_GROUP: "filter", COMPILERS_GROUP: "compiler"}


_loaded: dict[tuple[str, str], Any] = {}
"""What :func:`load` found, by (group, name): scanning the installed
distributions' metadata costs milliseconds, a job should not."""


class EntryPointNotFound(LookupError):
    """No entry point of that name in that group could be loaded."""


def clear_cache() -> None:
    """Forget what :func:`load` found (after uninstalling or replacing a plugin)."""
    _loaded.clear()


def available(group: str) -> list[str]:
    """Names registered in ``group``, sorted and without duplicates."""
    return sorted({ep.name for ep in entry_points(group=group)})


def load(group: str, name: str) -> Any:
    """Load the object registered as ``name`` in entry-point ``group``.

    When several distributions register the same name, the first one that
    imports wins; import errors of the others are logged. Raises
    :class:`EntryPointNotFound` naming the group, the name and what is
    installed when none can be loaded.

    What loads is remembered for the life of the process; a name not found
    is looked up afresh on every call, so a plugin installed while a worker
    runs is found by its next job.
    """
    try:
        return _loaded[group, name]
    except KeyError:
        pass
    errors: list[str] = []
    for ep in entry_points(group=group):
        if ep.name != name:
            continue
        try:
            obj = ep.load()
        except Exception as exc:  # a broken plugin must not hide a working one
            dist = ep.dist.name if ep.dist is not None else "?"
            logger.warning("cannot load %s from %s: %s", ep.value, dist, exc)
            errors.append(f"{ep.value} ({dist}): {type(exc).__name__}: {exc}")
            continue
        _loaded[group, name] = obj
        return obj
    kind = _KIND.get(group, "entry point")
    if errors:
        raise EntryPointNotFound(
            f"{kind} {name!r} in entry-point group {group!r} failed to import: "
            + "; ".join(errors)
        )
    installed = ", ".join(available(group)) or "none"
    raise EntryPointNotFound(
        f"no {kind} {name!r} in entry-point group {group!r} (not installed?); "
        f"installed: {installed}"
    )
