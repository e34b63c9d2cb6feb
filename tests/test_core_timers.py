"""The core's timer heap: deterministic order, and no pile of dead entries."""

from __future__ import annotations

from router._timers import Timers
from router.tables import TimerKind


def test_rescheduled_and_cancelled_timers_never_fill_the_heap() -> None:
    t = Timers()
    for i in range(20_000):  # a contact's timers set, moved and cancelled, as in a long run
        key = f"c{i}"
        t.set(i + 3600.0, TimerKind.RECONCILE, key)
        t.set(i + 120.0, TimerKind.LONG_WAIT, key)
        t.set(i + 20.0, TimerKind.RING, key)
        t.cancel(TimerKind.RING, key)
        t.cancel(TimerKind.LONG_WAIT, key)
        if i % 100:
            t.cancel(TimerKind.RECONCILE, key)
    assert len(t) == 200
    assert t.heap_size <= 2 * len(t) + 256 + 4 * 256  # compacted: bounded by the live ones
    assert t.next_deadline() == 3600.0  # c0's reconcile: the earliest live one


def test_equal_deadlines_fire_in_the_order_they_were_set() -> None:
    t = Timers()
    for key in ("b", "a", "c"):
        t.set(10.0, TimerKind.HANDOVER, key)
    t.set(10.0, TimerKind.HANDOVER, "b")  # moved: now the last set
    fired = []
    while (due := t.pop_due(10.0)) is not None:
        fired.append(due[2])
    assert fired == ["a", "c", "b"]
