"""The fold every Redis node runs: the same log gives the same router as one embedded node.

No Redis here: log entries are built with the codec and applied in order, as
a node does when it reads them from the stream.
"""

from __future__ import annotations

import msgpack
import pytest

from adapters.cluster.codec import encode_event, encode_tick
from adapters.cluster.fold import CursorTooOld, Fold, PoisonEntry, id_after
from adapters.store.embedded import EmbeddedStore
from adapters.store.errors import CorruptLog
from benchmarks.workload import realistic_events
from router import HelplineConfig, Router
from router.events import AgentLoggedIn, ContactAnswered, ContactArrived, Event
from router.records import record_to_dict
from router.step import Step
from tests.http_helpers import local_ts

T0 = local_ts("2021-11-15 10:00")


class Log:
    """Stream ids as Redis makes them (ms-seq), entries encoded as nodes write them."""

    def __init__(self) -> None:
        self.n = 0

    def sid(self) -> str:
        self.n += 1
        return f"{1_700_000_000_000 + self.n}-0"

    def event(self, fold: Fold, event: Event, node: str = "n1") -> object:
        return fold.apply(self.sid(), encode_event(event, node))

    def tick(self, fold: Fold, at: float) -> object:
        return fold.apply(self.sid(), encode_tick(at, "n1", 1))


def login(agent: str, team: str, at: float = T0) -> AgentLoggedIn:
    return AgentLoggedIn(event_id=f"in-{agent}", at=at, source="carrier", agent_id=agent,
                         team=team, channels=("phone",))  # fmt: skip


def arrive(contact: str, at: float) -> ContactArrived:
    return ContactArrived(event_id=f"a-{contact}", at=at, source="carrier", contact_id=contact,
                          channel="phone", queue="phone")  # fmt: skip


def test_an_arrival_offers_as_the_core_does_and_a_tick_times_the_ring_out(
    vo_config: HelplineConfig,
) -> None:
    fold, log, plain = Fold(Router(vo_config)), Log(), Router(vo_config)
    for e in (login("kss-1", "kss"), arrive("c1", T0 + 1)):
        applied = log.event(fold, e)
        assert applied.result.status == "accepted"  # type: ignore[attr-defined]
        assert applied.commands == plain.apply(e).commands  # type: ignore[attr-defined]
    timeout = log.tick(fold, T0 + 21)
    assert [c.type for c in timeout.commands] == ["cancel_offer"]  # type: ignore[attr-defined]
    assert timeout.commands == plain.advance(T0 + 21).commands  # type: ignore[attr-defined]
    assert fold.ordinal == 3 and fold.router.snapshot() == plain.snapshot()


def test_a_refused_event_changes_nothing_but_keeps_the_timers_it_flushed(
    vo_config: HelplineConfig,
) -> None:
    fold, log = Fold(Router(vo_config)), Log()
    log.event(fold, login("kss-1", "kss"))
    log.event(fold, arrive("c1", T0 + 1))
    before = fold.router.snapshot()
    # The ring times out at T0 + 21, before the answer's time: the timer fires
    # (the offer is withdrawn), then the answer is refused: nobody rings any more.
    late = ContactAnswered(event_id="ans", at=T0 + 25, source="carrier", contact_id="c1",
                           agent_id="kss-1")  # fmt: skip
    applied = log.event(fold, late)
    result = applied.result  # type: ignore[attr-defined]
    assert result.status == "rejected" and result.error.code == "not-offered"
    assert [c.type for c in applied.commands] == ["cancel_offer"]  # type: ignore[attr-defined]
    assert result.commands == applied.commands  # type: ignore[attr-defined]
    assert not fold.router.is_duplicate("ans")
    assert fold.router.snapshot() != before  # the timers' effect, not the answer's
    assert log.event(fold, login("kss-1", "kss")).result.status == "duplicate"  # type: ignore[attr-defined]


def test_an_unreadable_entry_is_skipped_alike_on_every_node(vo_config: HelplineConfig) -> None:
    fold, log = Fold(Router(vo_config)), Log()
    applied = fold.apply(log.sid(), b"\xc1 not msgpack")
    assert applied.result is None and fold.skipped == 1 and fold.ordinal == 1
    fold.apply(log.sid(), msgpack.packb({"k": "event", "event": {"type": "bogus"}}))
    assert fold.skipped == 2
    assert log.event(fold, login("kss-1", "kss")).result.status == "accepted"  # type: ignore[attr-defined]


def test_entries_out_of_log_order_are_refused(vo_config: HelplineConfig) -> None:
    fold = Fold(Router(vo_config))
    fold.apply("1700000000005-0", encode_tick(T0, "n1", 1))
    with pytest.raises(CorruptLog):
        fold.apply("1700000000004-3", encode_tick(T0, "n1", 1))
    assert id_after("10-1", "9-7") and id_after("10-2", "10-1") and not id_after("10-1", "10-1")


def test_outputs_wait_until_recorded_and_commands_resume_from_memory(
    vo_config: HelplineConfig,
) -> None:
    fold, log = Fold(Router(vo_config)), Log()
    productive = []
    for e in (login("kss-1", "kss"), *(arrive(f"c{i}", T0 + i) for i in range(3))):
        applied = log.event(fold, e)
        if applied.commands or applied.records:  # type: ignore[attr-defined]
            productive.append(applied.sid)  # type: ignore[attr-defined]
    tick = log.tick(fold, T0 + 21)  # the first offer's ring times out
    if tick.commands or tick.records:  # type: ignore[attr-defined]
        productive.append(tick.sid)  # type: ignore[attr-defined]
    # The first offer and the time-out (a fresh start gives KSS its grace on chat).
    assert len(productive) >= 2
    assert [sid for sid, _, _ in fold.pending(10)] == productive
    fold.mark_recorded(productive[0])
    assert [sid for sid, _, _ in fold.pending(10)] == productive[1:]
    fold.mark_recorded(fold.position)
    assert fold.pending(10) == []
    all_cmds = fold.commands_since(0)
    assert [c["seq"] for c in all_cmds] == list(range(1, len(all_cmds) + 1))
    assert fold.commands_since(all_cmds[-1]["seq"]) == []
    # A node that started from a snapshot holds only later commands.
    late = Fold(fold.router, position=fold.position, ordinal=fold.ordinal, recent=all_cmds[-1:],
                recent_complete=False)  # fmt: skip
    assert late.commands_since(all_cmds[-2]["seq"]) == all_cmds[-1:]
    with pytest.raises(CursorTooOld) as info:
        late.commands_since(0)
    assert info.value.status == 410 and info.value.field == "cursor"


def test_a_busy_day_folds_to_what_one_embedded_node_logs(
    vo_config: HelplineConfig, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    events = realistic_events(vo_config, 1500, seed=7)
    fold, log = Fold(Router(vo_config)), Log()
    with EmbeddedStore.open(tmp_path, vo_config, fsync=False) as store:
        for i, event in enumerate(events):
            log.event(fold, event)
            store.ingest([event])
            if i % 25 == 0:  # the owner's ticks, at the event's time plus a little
                log.tick(fold, event.at + 3)
                store.tick(event.at + 3)
        folded_cmds = fold.commands_since(0)
        assert folded_cmds == store.commands_since(0)
        assert len(folded_cmds) > 200
        from adapters.store.entries import read_entries

        logged = [record_to_dict(r) for e in read_entries(tmp_path) for r in e.records]
    assert [record_to_dict(r) for r in fold.records] == logged
    assert {c["type"] for c in folded_cmds} >= {"offer", "cancel_offer", "alert"}


def test_an_entry_that_trips_a_bug_breaks_the_fold_and_is_skipped_on_the_rebuild(
    vo_config: HelplineConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Buggy(Router):
        def apply(self, event: Event) -> Step:
            if event.event_id == "in-kss-2":
                raise RuntimeError("a bug in the core")
            return super().apply(event)

    entries = [("1-0", encode_event(login("kss-1", "kss"), "n1")),
               ("2-0", encode_event(login("kss-2", "kss"), "n1")),
               ("3-0", encode_event(arrive("c1", T0 + 1), "n1"))]  # fmt: skip
    fold = Fold(Buggy(vo_config))
    fold.apply(*entries[0])
    with pytest.raises(PoisonEntry) as info:
        fold.apply(*entries[1])
    assert info.value.sid == "2-0" and info.value.status == 500
    with pytest.raises(PoisonEntry):
        fold.apply(*entries[2])  # a broken fold takes nothing more
    again = Fold(Router(vo_config), skip={"2-0"})
    applied = [again.apply(*e) for e in entries]
    assert applied[1].result is None and again.skipped == 1 and again.ordinal == 3
    assert [c.agent_ids for c in applied[2].commands] == [("kss-1",)]  # type: ignore[attr-defined]
