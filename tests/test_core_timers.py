"""The core's timer heap: deterministic order, and no pile of dead entries."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.config_file import load_config
from router import Router
from router._timers import Timers
from router.events import ContactAbandoned, ContactArrived
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


# A reference model: every live timer in one dict, the earliest (deadline, seq) first.
OPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("set"),
            st.integers(0, 40),  # deadline offset from the model's clock
            st.sampled_from(list(TimerKind)),
            st.integers(0, 6),  # key
            st.sampled_from([None, "a", "b"]),  # lane
        ),
        st.tuples(st.just("cancel"), st.sampled_from(list(TimerKind)), st.integers(0, 6)),
        st.tuples(st.just("pop"), st.integers(0, 30)),
    ),
    max_size=400,
)


@settings(max_examples=300, deadline=None)
@given(OPS)
def test_lanes_fire_exactly_in_the_order_of_one_heap_of_every_timer(ops: list[Any]) -> None:
    t = Timers()
    model: dict[tuple[TimerKind, int], tuple[float, int]] = {}
    seq, now = 0, 0.0
    fired, expected = [], []
    for op in ops:
        if op[0] == "set":
            _, offset, kind, key, lane = op
            seq += 1
            model[(kind, key)] = (now + offset, seq)
            t.set(now + offset, kind, key, None if lane is None else (kind, lane))
        elif op[0] == "cancel":
            _, kind, key = op
            model.pop((kind, key), None)
            t.cancel(kind, key)
        else:
            now += op[1]
            while (due := t.pop_due(now)) is not None:
                fired.append(due)
            while model:
                (kind, key), (d, _) = min(model.items(), key=lambda kv: kv[1])
                if d > now:
                    break
                del model[(kind, key)]
                expected.append((d, kind, key))
        assert len(model) == len(t)
        assert (min(model.values())[0] if model else None) == t.next_deadline()
    assert expected == fired


def test_a_lane_of_mostly_cancelled_timers_is_swept() -> None:
    t = Timers()
    for i in range(20_000):  # each contact's long-wait timer, cancelled when it is answered
        t.set(i + 300.0, TimerKind.LONG_WAIT, f"c{i}", (TimerKind.LONG_WAIT, "phone"))
        if i % 100:
            t.cancel(TimerKind.LONG_WAIT, f"c{i}")
    assert len(t) == 200
    assert t.heap_size <= 2 * len(t) + 2 * 64 + 1
    assert t.next_deadline() == 300.0
    assert t.pop_due(300.0) == (300.0, TimerKind.LONG_WAIT, "c0")
    assert t.next_deadline() == 400.0


def test_contacts_that_leave_behind_a_long_waiting_one_do_not_pile_up_in_its_lane() -> None:
    # One caller waits on while 20,000 others arrive and hang up within a minute: every
    # one of their long-wait timers is cancelled behind the first one's, which pins
    # the lane's head. The cancelled entries are counted and swept as they come,
    # instead of waiting to be dropped all at once when the first caller's timer fires.
    config = load_config(Path(__file__).resolve().parent.parent / "config" / "vo-linjen.toml")
    router = Router(config)
    t0 = dt.datetime(2021, 11, 15, 9, 0, tzinfo=dt.UTC).timestamp()  # 10:00 in Oslo
    router.advance(t0)

    def arrive(i: int, at: float) -> None:
        step = router.apply(ContactArrived(event_id=f"a{i}", at=at, source="carrier",
                                           contact_id=f"c{i}", channel="phone", queue="phone"))  # fmt: skip
        assert step.accepted

    arrive(0, t0)
    for i in range(1, 20_001):
        at = t0 + i * 0.002
        arrive(i, at)
        step = router.apply(
            ContactAbandoned(event_id=f"b{i}", at=at, source="carrier", contact_id=f"c{i}")
        )
        assert step.accepted
    timers = router._timers
    live = sorted(
        (kind.name, str(key)) for kind, d in zip(TimerKind, timers._live, strict=True) for key in d
    )
    # Each queue's handover and grace timers, and c0's long wait and reconcile wait.
    assert live == [("GRACE", "chat"), ("GRACE", "phone"), ("HANDOVER", "chat"),
                    ("HANDOVER", "phone"), ("LONG_WAIT", "c0"), ("RECONCILE", "c0")]  # fmt: skip
    assert timers.heap_size <= 2 * len(timers) + 4 * 64 + 256
