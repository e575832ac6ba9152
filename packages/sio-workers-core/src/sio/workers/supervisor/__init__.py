"""The secure supervisor: launcher, slots, cgroups, verdicts (see docs/supervisor.rst)."""
