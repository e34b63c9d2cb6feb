"""The embedded store: events in, durable log, the same router after a restart."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import msgpack
import pytest

from adapters.store import (
    CorruptLog,
    EmbeddedStore,
    FsyncFailed,
    ReplayDiverged,
    StoreClosed,
    StoreLocked,
    read_entries,
    recovery,
)
from adapters.store.segments import encode_record, list_segments, segment_name
from router import (
    AgentLoggedIn,
    Command,
    ContactAlreadyEnded,
    ContactAnswered,
    ContactArrived,
    Event,
    HelplineConfig,
    InvalidEvent,
    LinjeError,
    Router,
    UnknownContact,
    command_to_dict,
    event_from_dict,
)
from router.step import Step, replay_step
from router.testing import Script, brief, rosters


class StoreScript(Script):
    """``router.testing.Script`` talking to an ``EmbeddedStore`` instead of a bare router."""

    def __init__(self, store: EmbeddedStore) -> None:
        super().__init__(store.router)
        self.store = store
        self.events: list[Event] = []
        self.commands: list[Command] = []

    def send(self, event: Event) -> list[Command]:
        (result,) = self.store.ingest([event])
        if result.error is not None:
            raise result.error
        self.events.append(event)
        self.commands += result.commands
        return result.commands

    def advance(self, seconds: float | None = None, *, to: str | None = None) -> list[Command]:
        if to is not None:
            self.t = self.ts(to)
        elif seconds is not None:
            self.t += seconds
        out = self.store.tick(self.t)
        self.commands += out
        return out


def conversation(s: Script) -> None:
    """A Monday afternoon: a ring times out, KSS answers, OK takes over at 15:30."""
    s.at("2021-11-15 15:20")
    s.login("kss-1", "kss", ("phone", "chat"))
    s.login("ok-1", "ok", ("phone",))
    s.after(5)
    s.arrive("c1")
    s.advance(25)  # the ring timed out at 20 s; re-offered after the 5 s retry
    s.after(2)
    s.answer("c1", "kss-1")
    s.after(30)
    s.arrive("c2")  # the only KSS agent is busy
    s.after(26)
    s.abandon("c2")
    s.after(60)
    s.end("c1")
    s.arrive("chat-1", "chat")  # chat belongs to OK now; nobody of OK on chat: KSS
    s.after(10)
    s.answer("chat-1", "kss-1")
    s.after(200)
    s.end("chat-1")
    s.feedback("chat-1", 9)
    s.flag("c1", "duty_to_avert")
    # Nobody acknowledges the escalation: its level 2 is alerted two minutes on, a
    # tick in the log, with the 15:30 handover's roster (set_members).
    s.advance(to="2021-11-15 15:31")
    s.logout("kss-1")
    s.after(3)
    s.arrive("c3")
    s.after(2)
    s.answer("c3", "ok-1")  # still in service at the restart


def test_a_conversation_survives_a_restart_with_the_same_state_and_commands(
    tmp_path: Path, vo_config: HelplineConfig
) -> None:
    live = StoreScript(EmbeddedStore.open(tmp_path, vo_config))
    conversation(live)
    before = live.store.router.snapshot()
    last = live.store.last_seq
    live.store.close()

    # The same conversation on a bare router gives the same commands: the store adds none.
    bare = Script(Router(vo_config))
    conversation(bare)
    store = EmbeddedStore.open(tmp_path, vo_config)
    assert store.router.snapshot() == before == bare.router.snapshot()
    assert store.last_seq == last
    assert store.recovery_report["entries_replayed"] == last
    assert store.recovery_report["torn_bytes_truncated"] == 0
    assert store.commands_since(0) == [command_to_dict(c) for c in live.commands]
    logged = [c for e in read_entries(tmp_path) for c in e.commands]
    assert logged == live.commands
    records = [r for e in read_entries(tmp_path) for r in e.records]
    assert [(r.kind, getattr(r, "contact_id", None)) for r in records] == [
        ("no_answer", "c1"),
        ("contact", "c2"),
        ("contact", "c1"),
        ("contact", "chat-1"),
        ("feedback", "chat-1"),
        ("flag", "c1"),
        ("escalation", "c1"),  # raised
        ("escalation", "c1"),  # level 1 alerted
        ("escalation", "c1"),  # legal hold asked for
        ("escalation", "c1"),  # level 2 alerted
    ]

    # Re-sent events are duplicates and are not logged again.
    results = store.ingest(live.events)
    assert {r.status for r in results} == {"duplicate"}
    assert all(r.seq is None and r.commands == [] for r in results)
    assert store.last_seq == last
    store.close()


def test_every_accepted_event_is_logged_once_with_its_commands_and_records(
    tmp_path: Path, vo_config: HelplineConfig
) -> None:
    s = StoreScript(EmbeddedStore.open(tmp_path, vo_config))
    conversation(s)
    entries = list(read_entries(tmp_path))
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    events = [e.event for e in entries if e.kind == "event"]
    assert events == s.events
    ticks = [e for e in entries if e.kind == "tick"]
    assert [brief(list(t.commands)) for t in ticks] == [
        [("cancel_offer", "c1", ("kss-1",)), ("offer", "c1", ("kss-1",))],
        [("alert", "escalation")],
    ]
    # The same advance crossed the 15:30 handover: the phone queue's ring group is OK's now.
    assert [rosters(list(t.commands)) for t in ticks][1] == [("phone", ("ok-1",), 2)]
    assert [r.kind for r in ticks[0].records] == ["no_answer"]
    s.store.close()


def test_a_batch_is_answered_per_event_and_a_refused_event_writes_nothing(
    tmp_path: Path, vo_config: HelplineConfig
) -> None:
    store = EmbeddedStore.open(tmp_path, vo_config)
    s = Script(Router(vo_config))  # only to build times
    t = s.ts("2021-11-15 10:00")
    raw: list[dict[str, Any]] = [
        {"event_id": "a1", "type": "agent.logged_in", "at": t, "source": "ui",
         "agent_id": "kss-1", "team": "kss", "channels": ["phone"]},
        {"event_id": "a2", "type": "contact.ended", "at": t + 1, "source": "carrier",
         "contact_id": "nobody"},
        {"event_id": "a3", "type": "contact.arrived", "at": t + 2, "source": "carrier",
         "contact_id": "c1", "channel": "phone", "queue": "phone"},
        {"event_id": "a1", "type": "agent.logged_in", "at": t, "source": "ui",
         "agent_id": "kss-1", "team": "kss", "channels": ["phone"]},
    ]  # fmt: skip
    results = store.ingest([event_from_dict(r) for r in raw])
    assert [(r.event_id, r.status, r.seq) for r in results] == [
        ("a1", "accepted", 1),
        ("a2", "rejected", None),
        ("a3", "accepted", 2),
        ("a1", "duplicate", None),
    ]
    assert isinstance(results[1].error, UnknownContact)
    assert results[1].commands == []
    assert brief(results[2].commands) == [("offer", "c1", ("kss-1",))]
    assert [e.event.event_id for e in read_entries(tmp_path) if e.event] == ["a1", "a3"]
    store.close()


def test_ingest_refuses_what_is_not_an_event_and_stays_usable(
    tmp_path: Path, vo_config: HelplineConfig
) -> None:
    store = EmbeddedStore.open(tmp_path, vo_config)
    with pytest.raises(InvalidEvent, match="not dict"):
        store.ingest([{"event_id": "x"}])  # type: ignore[list-item]
    assert store.last_seq == 0
    t = Script(store.router).ts("2021-11-15 10:00")
    (r,) = store.ingest(
        [ContactArrived(event_id="e1", at=t, source="c", contact_id="c1", channel="phone",
                        queue="phone")]
    )  # fmt: skip
    assert (r.status, r.seq) == ("accepted", 1)
    store.close()


def test_a_tick_is_logged_only_when_it_caused_something_or_started_the_clock(
    tmp_path: Path, vo_config: HelplineConfig
) -> None:
    store = EmbeddedStore.open(tmp_path, vo_config)
    t = Script(store.router).ts("2021-11-15 10:00")
    first = store.tick(t)  # starts the clock: chat and phone gaps are alerted at once
    assert store.last_seq == 1
    assert store.tick(t + 1) == []
    assert store.last_seq == 1
    entries = list(read_entries(tmp_path))
    assert [(e.kind, e.at, len(e.commands)) for e in entries] == [("tick", t, len(first))]
    store.close()
    assert EmbeddedStore.open(tmp_path, vo_config).router.now == t


def test_an_event_behind_an_unlogged_tick_replays_at_the_same_instant(
    tmp_path: Path, vo_config: HelplineConfig
) -> None:
    # Live, the clock moved to t+10 by a tick that caused nothing (not logged);
    # an arrival stamped t+9 is within the clock tolerance: the clock stays at
    # t+10 and the contact is recorded as arriving at its own time, t+9.
    # Replay must do exactly the same, or its wait and records would differ.
    s = StoreScript(EmbeddedStore.open(tmp_path, vo_config))
    s.at("2021-11-15 10:00")
    s.login("kss-1", "kss")
    s.advance(10)
    seq_before = s.store.last_seq
    s.after(-1)
    s.arrive("c1")
    s.after(3)
    s.abandon("c1")
    assert s.store.last_seq == seq_before + 2
    live = s.store.router.snapshot()
    s.store.close()
    again = EmbeddedStore.open(tmp_path, vo_config)
    assert again.router.snapshot() == live
    (record,) = [r for e in read_entries(tmp_path) for r in e.records if r.kind == "contact"]
    assert record.arrived_at == s.ts("2021-11-15 10:00") + 9  # type: ignore[attr-defined]


def test_a_log_that_replays_to_other_commands_is_refused_unless_accepted(
    tmp_path: Path, vo_config: HelplineConfig
) -> None:
    s = StoreScript(EmbeddedStore.open(tmp_path, vo_config))
    conversation(s)
    s.store.close()
    # Rewrite record 4 with a different logged command (valid checksums).
    (seg,) = [p for _, p in list_segments(tmp_path / "log")]
    entries = list(read_entries(tmp_path))
    data = seg.read_bytes()
    records, off = [], 0
    while off < len(data):
        n = int.from_bytes(data[off : off + 4], "little")
        records.append(msgpack.unpackb(data[off + 20 : off + 20 + n]))
        off += 20 + n
    target = next(i for i, r in enumerate(records) if r["commands"])
    records[target]["commands"][0]["seq"] += 100
    out = b"".join(encode_record(i + 1, msgpack.packb(r)) for i, r in enumerate(records))
    seg.write_bytes(out)
    with pytest.raises(ReplayDiverged, match=f"record {target + 1}: commands"):
        EmbeddedStore.open(tmp_path, vo_config)
    store = EmbeddedStore.open(tmp_path, vo_config, on_divergence="accept")
    assert store.recovery_report["diverged"] == 1
    assert store.router.snapshot() == s.store.router.snapshot()
    store.close()
    assert len(entries) == len(records)


def test_commands_since_resumes_a_stream_from_memory_or_from_the_log(
    tmp_path: Path, vo_config: HelplineConfig
) -> None:
    s = StoreScript(EmbeddedStore.open(tmp_path, vo_config, segment_bytes=600))
    conversation(s)
    everything = [command_to_dict(c) for c in s.commands]
    seqs = [c["seq"] for c in everything]
    assert seqs == list(range(1, len(seqs) + 1))
    for cursor in (0, 3, seqs[-1] - 1, seqs[-1], seqs[-1] + 5):
        assert s.store.commands_since(cursor) == [c for c in everything if c["seq"] > cursor]
    s.store.close()
    assert len(list_segments(tmp_path / "log")) > 2
    # Recovered from a snapshot, the store has only the tail in memory: the log serves the rest.
    store = EmbeddedStore.open(tmp_path, vo_config, snapshot_every=1)
    assert store.recovery_report["from_snapshot"] is None
    store.close()
    store = EmbeddedStore.open(tmp_path, vo_config)
    assert store.recovery_report["from_snapshot"] == store.last_seq
    for cursor in (0, 3, seqs[-1] - 1, seqs[-1]):
        assert store.commands_since(cursor) == [c for c in everything if c["seq"] > cursor]
    store.close()


def test_a_second_process_cannot_open_the_same_directory(
    tmp_path: Path, vo_config: HelplineConfig
) -> None:
    store = EmbeddedStore.open(tmp_path, vo_config)
    with pytest.raises(StoreLocked, match="in use"):
        EmbeddedStore.open(tmp_path, vo_config)
    store.close()
    EmbeddedStore.open(tmp_path, vo_config).close()


def test_a_failed_fsync_acknowledges_nothing_and_refuses_everything_after(
    tmp_path: Path, vo_config: HelplineConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = EmbeddedStore.open(tmp_path, vo_config)
    s = Script(Router(vo_config))
    s.at("2021-11-15 10:00")
    arrive = ContactArrived(
        event_id="e1", at=s.t, source="c", contact_id="c1", channel="phone", queue="phone"
    )

    def failing_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    answered: list[Any] = []
    with pytest.raises(FsyncFailed) as err:
        answered = store.ingest([arrive])
    assert answered == []
    assert err.value.status == 500
    assert store.last_seq == 0
    monkeypatch.undo()
    later = ContactArrived(
        event_id="e2", at=s.t + 1, source="c", contact_id="c2", channel="phone", queue="phone"
    )
    with pytest.raises(FsyncFailed, match="never retried"):
        store.ingest([later])
    with pytest.raises(FsyncFailed):
        store.tick(s.t + 60)
    assert store.last_seq == 0
    store.close()
    with pytest.raises(StoreClosed):
        store.ingest([later])


def test_no_caller_number_or_address_reaches_the_data_directory(
    tmp_path: Path, vo_config: HelplineConfig
) -> None:
    # A vendor payload carries the caller's number and IP address; the wire
    # format has no field for them, so an adapter must drop them first.
    leaky = {"event_id": "v1", "type": "contact.arrived", "at": 1636966800.0,
             "source": "carrier", "contact_id": "tn-88231", "channel": "phone",
             "queue": "phone", "caller": "+4791234567", "ip": "192.168.10.23"}  # fmt: skip
    with pytest.raises(InvalidEvent, match="unknown field 'caller'"):
        event_from_dict(leaky)
    clean = {k: v for k, v in leaky.items() if k not in ("caller", "ip")}
    store = EmbeddedStore.open(tmp_path, vo_config, snapshot_every=3)
    s = StoreScript(store)
    store.ingest([event_from_dict(clean)])
    conversation(s)
    store.close()
    blob = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert any(tmp_path.rglob("*.snap")) and any(tmp_path.rglob("*.seg"))
    assert b"tn-88231" in blob  # the scan does see the data
    # Digits standing alone (hex digests of the snapshot fingerprints are not numbers).
    phone = re.compile(rb"(?:\+|00)47\s?\d{8}|(?<![0-9A-Za-z])\d{8,15}(?![0-9A-Za-z])")
    ipv4 = re.compile(rb"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
    ipv6 = re.compile(rb"(?i)(?<![0-9a-f:])(?:[0-9a-f]{1,4}:){3,7}[0-9a-f]{1,4}")
    assert phone.findall(blob) == []
    assert ipv4.findall(blob) == []
    assert ipv6.findall(blob) == []


def test_a_torn_tail_is_cut_at_every_byte_of_the_last_three_records(
    tmp_path: Path, vo_config: HelplineConfig
) -> None:
    src = tmp_path / "src"
    s = StoreScript(EmbeddedStore.open(src, vo_config))
    conversation(s)
    s.store.close()
    (seg,) = [p for _, p in list_segments(src / "log")]
    full = seg.read_bytes()
    entries = list(read_entries(src))
    ends, off = [], 0
    while off < len(full):
        off += 20 + int.from_bytes(full[off : off + 4], "little")
        ends.append(off)
    # The router as it was after each complete record, replayed on a bare router.
    expected: dict[int, dict[str, Any]] = {}
    bare = Router(vo_config)
    expected[0] = bare.snapshot()
    for e in entries:
        step = replay_step(bare, e.kind, e.at, e.event)
        assert e.kind == "tick" or step.accepted, step
        expected[e.seq] = bare.snapshot()
    work = tmp_path / "work"
    for size in range(ends[-4], len(full)):
        (work / "log").mkdir(parents=True, exist_ok=True)
        (work / "log" / seg.name).write_bytes(full[:size])
        complete = sum(1 for e in ends if e <= size)
        store = EmbeddedStore.open(work, vo_config, fsync=False)
        report = store.recovery_report
        assert store.last_seq == complete, size
        assert report["torn_bytes_truncated"] == size - ends[complete - 1], size
        assert (report["torn"] is None) == (size == ends[complete - 1])
        assert store.router.snapshot() == expected[complete]
        store.close()
        assert (work / "log" / seg.name).stat().st_size == ends[complete - 1]


def test_a_flipped_bit_in_a_middle_record_stops_the_store_from_opening(
    tmp_path: Path, vo_config: HelplineConfig
) -> None:
    s = StoreScript(EmbeddedStore.open(tmp_path, vo_config))
    conversation(s)
    s.store.close()
    seg = tmp_path / "log" / segment_name(1)
    raw = bytearray(seg.read_bytes())
    off = 0
    for _ in range(5):
        off += 20 + int.from_bytes(raw[off : off + 4], "little")
    raw[off + 30] ^= 0x10
    seg.write_bytes(bytes(raw))
    with pytest.raises(LinjeError) as err:
        EmbeddedStore.open(tmp_path, vo_config)
    assert err.value.code == "corrupt-log"
    assert err.value.detail.startswith(f"{seg} at byte {off}: checksum mismatch in record 6")
    # Nothing was cut and the directory is not left locked.
    assert seg.read_bytes() == bytes(raw)
    with pytest.raises(CorruptLog):
        EmbeddedStore.open(tmp_path, vo_config)


def test_timers_fired_by_a_refused_event_are_logged_as_a_tick(
    tmp_path: Path, vo_config: HelplineConfig
) -> None:
    # The answer is checked before the clock moves (c1 rings kss-1: fine), then
    # an hour of timers fires (re-rings, auto-away, reconcile) and the second
    # check refuses it: c1 has ended. What those timers caused must be durable.
    s = StoreScript(EmbeddedStore.open(tmp_path, vo_config))
    s.at("2021-11-15 10:00")
    s.login("kss-1", "kss")
    s.arrive("c1")
    seq = s.store.last_seq
    late = s.t + vo_config.reconcile_wait_s + 1
    (result,) = s.store.ingest(
        [ContactAnswered(event_id="late", at=late, source="c", contact_id="c1", agent_id="kss-1")]
    )
    assert result.status == "rejected"
    assert isinstance(result.error, ContactAlreadyEnded)
    assert ("alert", "agent_auto_away") in brief(result.commands)
    (tick,) = list(read_entries(tmp_path, from_seq=seq + 1))
    assert (tick.kind, tick.at, tick.commands) == ("tick", late, tuple(result.commands))
    assert [(r.kind, getattr(r, "unanswered", None)) for r in tick.records][-1] == (
        "contact",
        "missing_data",
    )
    live = s.store.router.snapshot()
    s.store.close()
    with EmbeddedStore.open(tmp_path, vo_config) as again:
        assert again.router.snapshot() == live


def test_a_bug_in_the_core_stops_the_store_and_a_restart_recovers(
    tmp_path: Path, vo_config: HelplineConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Buggy(Router):
        def apply(self, event: Event) -> Step:
            if event.event_id == "e3":
                raise KeyError("a bug")
            return super().apply(event)

    monkeypatch.setattr(recovery, "Router", Buggy)  # what the store builds its router with
    store = EmbeddedStore.open(tmp_path, vo_config)
    monkeypatch.undo()
    t = Script(store.router).ts("2021-11-15 10:00")

    def arrival(n: int) -> ContactArrived:
        return ContactArrived(
            event_id=f"e{n}", at=t + n, source="c", contact_id=f"c{n}", channel="phone",
            queue="phone",
        )  # fmt: skip

    store.ingest([arrival(1)])
    with pytest.raises(KeyError):
        store.ingest([arrival(2), arrival(3)])
    with pytest.raises(StoreClosed, match="internal error"):
        store.ingest([arrival(4)])
    store.close()
    with EmbeddedStore.open(tmp_path, vo_config) as again:
        # Nothing of the failed batch was acknowledged, so nothing of it is kept.
        assert again.last_seq == 1
        assert [r.status for r in again.ingest([arrival(2), arrival(3)])] == [
            "accepted",
            "accepted",
        ]


def test_group_commit_stages_while_the_previous_batch_is_written(
    tmp_path: Path, vo_config: HelplineConfig
) -> None:
    store = EmbeddedStore.open(tmp_path, vo_config, snapshot_every=1)
    s = Script(store.router)
    s.at("2021-11-15 10:00")

    def login(n: int) -> AgentLoggedIn:
        return AgentLoggedIn(
            event_id=f"l{n}", at=s.t + n, source="ui", agent_id=f"kss-{n}", team="kss",
            channels=("phone",),
        )  # fmt: skip

    a = store.stage([login(1)])
    store.write(a)
    b = store.stage([login(2), login(3)])  # staged while a is (say) being fsynced
    assert [r.seq for r in a.results + b.results] == [1, 2, 3]
    store.finish(a)
    # The router is ahead of the log (b is staged): no snapshot may cover a alone.
    assert not any((tmp_path / "snapshots").glob("*.snap"))
    assert store.commands_since(0) == [command_to_dict(c) for c in a.results[0].commands]
    store.write(b)
    store.finish(b)
    assert sorted(p.name for p in (tmp_path / "snapshots").glob("*.snap")) == [f"{3:020d}.snap"]
    c, d = store.stage([login(4)]), store.stage([login(5)])
    with pytest.raises(StoreClosed, match="out of order"):
        store.write(d)
    with pytest.raises(StoreClosed):
        store.write(c)
    store.close()
    assert [e.seq for e in read_entries(tmp_path)] == [1, 2, 3]


def test_an_acknowledged_event_whose_record_is_damaged_is_kept_aside_and_reported(
    tmp_path: Path, vo_config: HelplineConfig
) -> None:
    s = StoreScript(EmbeddedStore.open(tmp_path, vo_config))
    conversation(s)
    last = s.store.last_seq
    s.store.close()
    (seg,) = [p for _, p in list_segments(tmp_path / "log")]
    raw = bytearray(seg.read_bytes())
    raw[-3] ^= 0x40  # one flipped byte in the last, fsynced and acknowledged, record
    seg.write_bytes(bytes(raw))
    with EmbeddedStore.open(tmp_path, vo_config, fsync=False) as store:
        report = store.recovery_report
        assert last - 1 == store.last_seq
    kept = list((tmp_path / "log" / "quarantine").iterdir())
    assert len(kept) == 1
    assert bytes(raw).endswith(kept[0].read_bytes())
    assert report["torn"] == report["notes"][-1]
    assert report["torn"].startswith(f"damaged last record in {seg}")
    assert f"were kept in {kept[0]}" in report["torn"]
