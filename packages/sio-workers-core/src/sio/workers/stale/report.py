"""What a stale-state sweep found and did."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Report:
    """The leftovers a sweep removed (or, in a dry run, would remove).

    ``processes``: pids killed; ``cgroups``: cgroups emptied or removed;
    ``directories``: ``"<kind> <path>"`` removed; ``mounts``: mountpoints
    unmounted; ``locks``: lock files repaired; ``problems``: what could not be
    cleared (the worker starts anyway; ``sio-doctor`` shows them).
    """

    dry_run: bool = False
    processes: list[int] = field(default_factory=list)
    cgroups: list[str] = field(default_factory=list)
    directories: list[str] = field(default_factory=list)
    mounts: list[str] = field(default_factory=list)
    locks: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def found(self) -> int:
        """How many leftovers were found (problems not counted)."""
        return (len(set(self.processes)) + len(self.cgroups) + len(self.directories)
                + len(self.mounts) + len(self.locks))

    def summary(self) -> str:
        """One line: counts of each kind."""
        verb = "would clear" if self.dry_run else "cleared"
        parts = [f"{len(set(self.processes))} processes", f"{len(self.cgroups)} cgroups",
                 f"{len(self.directories)} directories", f"{len(self.mounts)} mounts",
                 f"{len(self.locks)} lock files"]
        line = f"{verb} {', '.join(parts)}"
        if self.problems:
            line += f"; {len(self.problems)} problems"
        return line

    def lines(self) -> list[str]:
        """Every finding, one per line."""
        out = [f"process {pid}" for pid in sorted(set(self.processes))]
        out += [f"cgroup {c}" for c in self.cgroups]
        out += self.directories
        out += [f"mount {m}" for m in self.mounts]
        out += [f"lock file {lock}" for lock in self.locks]
        out += [f"problem: {p}" for p in self.problems]
        return out
