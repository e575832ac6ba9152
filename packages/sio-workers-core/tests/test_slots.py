"""Slot leases (``sio.workers.supervisor.slots``): one holder a slot, the
kept slot reused, every lock given back, a clear error when all are busy."""

from __future__ import annotations

import os

import pytest

from sio.workers.supervisor import cgroups, slots
from sio.workers.supervisor.slots import SlotsExhausted, acquire_slot

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or cgroups.detect() is None, reason="needs root and cgroups"
)


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def two_slots(tmp_path, monkeypatch):
    """Two slots with lock files of their own; the slot kept at the end is
    given back."""
    monkeypatch.setenv("SIO_SUPERVISOR_RUNDIR", str(tmp_path))
    monkeypatch.setenv("SIO_SUPERVISOR_SLOTS", "2")
    yield
    kept = slots._take_idle(slots._settings(None))
    if kept is not None:
        slots._unlock(*kept)


def test_each_slot_has_one_holder_and_a_full_house_is_a_clear_error(two_slots):
    with acquire_slot() as first, acquire_slot() as second:
        assert {first.index, second.index} == {0, 1}
        before = _open_fds()
        with pytest.raises(SlotsExhausted, match="all 2 supervisor slots are busy"):
            with acquire_slot():
                pass
        assert _open_fds() == before  # the failed tries closed their lock files
    # one slot is kept for the next run, the other unlocked: both are free
    with acquire_slot() as again, acquire_slot() as other:
        assert {again.index, other.index} == {0, 1}
        assert again is first or again is second  # the kept one, taken first


def test_a_lease_gives_its_slot_back_when_the_block_raises(two_slots):
    with pytest.raises(ValueError):
        with acquire_slot():
            raise ValueError("the run failed")
    with acquire_slot() as first, acquire_slot() as second:
        assert {first.index, second.index} == {0, 1}


def test_a_lease_is_entered_once_at_a_time(two_slots):
    lease = acquire_slot()
    with lease:
        with pytest.raises(RuntimeError, match="entered once"):
            lease.__enter__()
    with lease as slot:  # a lease left may be entered again
        assert slot.index in (0, 1)
