"""Pipelined group commit and snapshots taken off the loop (a forked child) while ingest goes on.

- The engine stages the next batch while one is being fsynced, yet answers a
  request only once the fsync covering its events returned, in staging order.
- A snapshot forked from the router as staged (ahead of the log) and put in
  place once the log caught up recovers to the same state as a full replay; a
  snapshot whose records never reached the log is dropped on close.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
from pathlib import Path
from typing import Any

from adapters.http.engine import Engine
from adapters.store import EmbeddedStore, read_entries
from adapters.store.embedded import Staged
from adapters.store.snapshots import snapshot_dir
from router import HelplineConfig, checkpoint
from router.events import ContactArrived, Event
from tests.helpers.store_workload import workload
from tests.http_helpers import ManualClock

MONDAY = "2021-11-15 10:00"


def arrival(clock: ManualClock, n: int) -> ContactArrived:
    return ContactArrived(event_id=f"e{n}", at=clock.now(), source="carrier", contact_id=f"c{n}",
                          channel="phone", queue="phone")  # fmt: skip


async def until(condition: Any, what: str) -> None:
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"never happened: {what}")


async def test_the_next_batch_is_routed_while_one_fsyncs_and_each_ack_follows_its_fsync(
    vo_config: HelplineConfig, tmp_path: Path
) -> None:
    clock = ManualClock(MONDAY)
    engine = Engine(vo_config, tmp_path, clock)
    await engine.open()
    store = engine.store
    assert store is not None
    start = store.last_seq
    gate, blocked = threading.Event(), threading.Event()
    real_write = store.write
    written: list[tuple[int, int]] = []  # (first seq of the batch, durable seq after it)

    def write(staged: Staged) -> None:
        if staged.payloads and not written:
            blocked.set()
            assert gate.wait(30), "the test never opened the gate"
        real_write(staged)
        written.append((staged.first_seq, store.last_seq))

    store.write = write  # type: ignore[method-assign]
    acked: list[tuple[str, int]] = []  # (request, durable seq when it was answered)

    def answered(name: str) -> Any:
        return lambda _: acked.append((name, store.last_seq))

    first = asyncio.create_task(engine.submit([arrival(clock, 1)]))
    first.add_done_callback(answered("first"))
    await until(blocked.is_set, "the first batch reached the writer")
    second = asyncio.create_task(engine.submit([arrival(clock, 2), arrival(clock, 3)]))
    second.add_done_callback(answered("second"))
    # The second batch is routed while the first is still being "fsynced".
    await until(lambda: store.router.is_duplicate("e3"), "the second batch was routed")
    await asyncio.sleep(0.05)
    assert (first.done(), second.done()) == (False, False)
    assert start == store.last_seq  # nothing durable yet, nothing answered
    gate.set()
    (r1,), (r2, r3) = await first, await second
    assert [start + 1, start + 2, start + 3] == [r1.seq, r2.seq, r3.seq]
    assert [(start + 1, start + 1), (start + 2, start + 3)] == written
    # Answered in staging order, each only once its own records were durable.
    assert [name for name, _ in acked] == ["first", "second"]
    assert acked[0][1] >= start + 1 and acked[1][1] >= start + 3
    await engine.close()
    logged = [e.event.event_id for e in read_entries(tmp_path) if e.event is not None]
    assert logged == ["e1", "e2", "e3"]


def _pipelined(store: EmbeddedStore, events: list[Event], size: int) -> list[int]:
    """Ingest in batches of ``size``, each staged before the previous one is written;
    the seqs the store's background snapshots were forked at."""
    forked: list[int] = []
    previous: Staged | None = None
    for i in range(0, len(events), size):
        child = store._child
        staged = store.stage(events[i : i + size])
        if store._child is not None and store._child is not child:
            assert store._child.seq > store.last_seq  # forked ahead of the durable log
            forked.append(store._child.seq)
        if previous is not None:
            store.write(previous)
            store.finish(previous)
            store.wait_snapshot()  # (the service reaps without waiting; here: every fork counts)
        previous = staged
    assert previous is not None
    store.write(previous)
    store.finish(previous)
    return forked


def test_a_snapshot_forked_while_ingest_goes_on_recovers_as_a_full_replay(
    vo_config: HelplineConfig, tmp_path: Path
) -> None:
    events = [op.event for op in workload(vo_config, seed=5, n_events=400) if op.event is not None]
    data = tmp_path / "a"
    with EmbeddedStore.open(data, vo_config, snapshot_every=60, fsync=False,
                            background_snapshots=True) as store:  # fmt: skip
        forked = _pipelined(store, events, size=7)
        store.wait_snapshot()
        last = store.last_seq
    assert len(forked) >= 3
    names = sorted(p.name for p in snapshot_dir(data).glob("*.snap"))
    assert names and int(names[-1].split(".")[0]) in forked
    copy = tmp_path / "b"
    shutil.copytree(data / "log", copy / "log")
    with (
        EmbeddedStore.open(data, vo_config, fsync=False) as a,
        EmbeddedStore.open(copy, vo_config, fsync=False) as b,
    ):
        assert a.recovery_report["from_snapshot"] == int(names[-1].split(".")[0])
        assert b.recovery_report["from_snapshot"] is None
        assert (last, last) == (a.last_seq, b.last_seq)
        assert b.router.snapshot() == a.router.snapshot()
        assert checkpoint.dump(b.router) == checkpoint.dump(a.router)


def test_a_snapshot_of_records_that_never_reached_the_log_is_dropped_on_close(
    vo_config: HelplineConfig, tmp_path: Path
) -> None:
    events = [op.event for op in workload(vo_config, seed=6, n_events=80) if op.event is not None]
    with EmbeddedStore.open(tmp_path, vo_config, snapshot_every=20, fsync=False,
                            background_snapshots=True) as store:  # fmt: skip
        staged = store.stage(events[:30])  # forks a snapshot; never written
        assert store._child is not None
        assert staged.first_seq + len(staged.payloads) - 1 == store._child.seq
    assert list(snapshot_dir(tmp_path).glob("*")) == []
    with EmbeddedStore.open(tmp_path, vo_config, fsync=False) as store:
        assert (store.last_seq, store.recovery_report["from_snapshot"]) == (0, None)


def test_a_long_recovered_tail_is_snapshotted_by_a_child_that_puts_its_file_in_place_itself(
    vo_config: HelplineConfig, tmp_path: Path
) -> None:
    events = [op.event for op in workload(vo_config, seed=7, n_events=300) if op.event is not None]
    with EmbeddedStore.open(tmp_path, vo_config, snapshot_every=10**6, fsync=False) as store:
        for i in range(0, len(events), 9):
            store.ingest(events[i : i + 9])
        last = store.last_seq
        expected = checkpoint.dump(store.router)
    assert list(snapshot_dir(tmp_path).glob("*.snap")) == []
    # A tail of fewer than snapshot_every // 10 records is left to the next fork.
    with EmbeddedStore.open(tmp_path, vo_config, snapshot_every=10 * last + 10, fsync=False,
                            background_snapshots=True) as store:  # fmt: skip
        assert (store.snapshot_if_behind(), store._child) == (False, None)
    with EmbeddedStore.open(tmp_path, vo_config, snapshot_every=10 * last, fsync=False,
                            background_snapshots=True) as store:  # fmt: skip
        assert store.recovery_report["entries_replayed"] == last
        assert store.snapshot_if_behind() is True
        child = store._child
        assert child is not None and child.durable and child.seq == last
        assert child.poll(block=True) and child.failed is None
        # In place before the parent reaps it: a parent killed now loses nothing.
        assert [p.name for p in snapshot_dir(tmp_path).glob("*.snap")] == [f"{last:020d}.snap"]
        assert store.snapshot_if_behind() is False  # (one child at a time)
        store._child = None  # (reaped above)
        assert store.snapshot_if_behind() is False  # nothing behind any more
    with EmbeddedStore.open(tmp_path, vo_config, fsync=False) as store:
        assert (store.recovery_report["from_snapshot"], store.last_seq) == (last, last)
        assert store.recovery_report["entries_replayed"] == 0
        assert checkpoint.dump(store.router) == expected
