"""The embedded store: a ``Router`` in memory, made durable by an event log on disk.

No server needed (docs/ARCHITECTURE.md "Storage", embedded default)::

    store = EmbeddedStore.open("var/vo_linjen", config)
    results = store.ingest([event, ...])   # acknowledged only once fsynced
    commands = store.tick(now)             # time-caused commands, logged too
    store.close()

Every accepted event is logged with the commands and records it caused, one
``fsync`` per ``ingest`` call (group commit: callers batch under load). A
duplicate ``event_id`` is answered "duplicate" and writes nothing; a refused
event is not logged, only what the timers that fell due before it caused (a
tick). Each event goes through ``Router.apply``, each tick ``Router.advance``.
Recovery is the latest snapshot plus a verified replay of the log's tail
(``adapters.store.recovery``).

The data directory holds ``log/`` (segments), ``snapshots/`` and ``LOCK`` (an
``flock`` so that two processes never append to one log).
"""

from __future__ import annotations

import fcntl
import gc
import logging
import os
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from adapters.store.entries import decode_payload, encode_entry, log_dir
from adapters.store.errors import StoreClosed, StoreLocked
from adapters.store.recovery import recover
from adapters.store.segments import (
    DEFAULT_SEGMENT_BYTES,
    LogScan,
    SegmentWriter,
    list_segments,
    make_dir,
)
from adapters.store.snapshots import BackgroundSnapshot, write_snapshot
from router.commands import Command
from router.config import HelplineConfig
from router.core import Router
from router.errors import InvalidEvent, LinjeError
from router.events import Event
from router.records import Record
from router.step import DUPLICATE, REFUSED, Step

if TYPE_CHECKING:
    from adapters.store.follower import SnapshotFollower

__all__ = ["EmbeddedStore", "IngestResult", "Staged"]

log = logging.getLogger("linje.store")


@dataclass(slots=True)
class IngestResult:
    """The answer for one event of an ``ingest`` batch.

    ``status`` is "accepted" (``seq`` is its log record), "duplicate" or
    "rejected" (``error`` says why). For a rejected event ``commands`` holds
    only commands of timers that fell due before the refused event's time;
    they are logged as a tick entry.
    """

    event_id: str
    status: str
    commands: list[Command] = field(default_factory=list)
    error: LinjeError | None = None
    seq: int | None = None


@dataclass(slots=True)
class Staged:
    """Records applied to the router but not yet durable (see ``EmbeddedStore.stage``)."""

    payloads: list[bytes] = field(default_factory=list)
    owners: list[IngestResult | None] = field(default_factory=list)
    results: list[IngestResult] = field(default_factory=list)
    tick_commands: list[Command] = field(default_factory=list)
    # Every command of the staged entries as its dict, in order (the resume history).
    command_dicts: list[dict[str, Any]] = field(default_factory=list)
    # Every record of the staged entries, in order (telemetry counts them).
    records: list[Record] = field(default_factory=list)
    first_seq: int = 0


class EmbeddedStore:
    """One helpline's router with its durable log. Not thread-safe: one driver feeds it."""

    def __init__(
        self,
        *,
        data_dir: Path,
        router: Router,
        writer: SegmentWriter,
        lock_fd: int,
        snapshot_every: int,
        fsync: bool,
        recovery_report: dict[str, Any],
        snapshot_seq: int,
        recent: deque[dict[str, Any]],
        recent_complete: bool,
        background_snapshots: bool = False,
    ) -> None:
        self.data_dir = data_dir
        self.router = router
        self.recovery_report = recovery_report
        self.snapshot_every = snapshot_every
        self._writer = writer
        self._lock_fd: int | None = lock_fd
        self._fsync = fsync
        self._snapshot_seq = snapshot_seq
        self._recent = recent
        self._recent_complete = recent_complete
        self._stopped: str | None = None
        self._staged_seq = writer.last_seq
        self._background = background_snapshots
        # The snapshot a forked child is writing (background mode), until reaped.
        self._child: BackgroundSnapshot | None = None
        # Follower mode: a process of its own writes the snapshots (``start_follower``).
        self._follow = False
        self._follower: SnapshotFollower | None = None
        self._frozen_seq = writer.last_seq  # (follower mode: the last ``freeze_heap``)

    # ------------------------------------------------------------- opening
    @classmethod
    def open(
        cls,
        data_dir: str | Path,
        config: HelplineConfig,
        *,
        snapshot_every: int = 10_000,
        fsync: bool = True,
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
        on_divergence: str = "raise",
        background_snapshots: bool = False,
        follower: bool = False,
    ) -> EmbeddedStore:
        """Open (creating if needed) ``data_dir`` and recover the router from it.

        ``background_snapshots``: snapshots are serialised by a forked child
        (``BackgroundSnapshot``) of the router as staged, and put in place once
        the log is durable that far; the caller's thread pays only the fork.
        Otherwise ``finish`` writes them inline, when nothing is staged beyond
        the log.

        ``follower``: this process writes no snapshots at all: a follower process
        (``adapters.store.follower``, started by ``start_follower``) replays the
        log as it grows and writes them, so the caller never forks (a fork's
        copy-on-write faults slow every batch for as long as the child lives).

        Raises ``CorruptLog`` for a damaged log, ``ReplayDiverged`` if the log
        does not replay to what it recorded (see ``adapters.store.recovery``),
        ``StoreLocked`` if another process has the directory open.
        """
        if snapshot_every < 1:
            raise InvalidEvent("snapshot_every must be at least 1", field="snapshot_every")
        if on_divergence not in ("raise", "accept"):
            raise InvalidEvent("on_divergence must be 'raise' or 'accept'", field="on_divergence")
        path = Path(data_dir)
        make_dir(path)
        lock_fd = _lock(path)
        try:
            rec = recover(path, config, fsync=fsync, on_divergence=on_divergence)
            writer = SegmentWriter(
                log_dir(path),
                next_seq=rec.last_seq + 1,
                tail=rec.last_segment,
                segment_bytes=segment_bytes,
                fsync=fsync,
            )
        except BaseException:
            os.close(lock_fd)
            raise
        store = cls(
            data_dir=path,
            router=rec.router,
            writer=writer,
            lock_fd=lock_fd,
            snapshot_every=snapshot_every,
            fsync=fsync,
            recovery_report=rec.report,
            snapshot_seq=rec.snapshot_seq,
            recent=rec.recent,
            recent_complete=rec.recent_complete,
            background_snapshots=background_snapshots or follower,
        )
        store._follow = follower
        if rec.report["entries_replayed"] >= snapshot_every and not store._background:
            store._snapshot()  # (in the background: ``snapshot_if_behind``, the follower)
        if store._background:
            freeze_heap(collect_young=False)
        store._follow_if_due()
        return store

    def _follow_if_due(self) -> None:
        # The follower is started once the log is ``snapshot_every // 10`` records past
        # the newest snapshot (at once after a recovery that replayed as many): a store
        # that never gets that far (most tests) never needs one.
        behind = self._staged_seq - self._snapshot_seq
        if self._follow and self._follower is None and behind >= _tail_worth(self):
            self.start_follower()

    def start_follower(self) -> None:
        """Start the follower process that writes this store's snapshots (``follower``
        mode; ``stage`` starts it when due); it also snapshots a long tail, once caught up."""
        if self._follow and self._follower is None:
            # (imported here: ``python -m adapters.store.follower`` must find it unloaded)
            from adapters.store.follower import SnapshotFollower

            self._follower = SnapshotFollower(
                self.data_dir,
                self.router.config,
                snapshot_every=self.snapshot_every,
                fsync=self._fsync,
            )

    def snapshot_if_behind(self) -> bool:
        """In background mode, fork a snapshot of the state just recovered if the log's
        tail past the newest snapshot is ``snapshot_every // 10`` records or more.

        Without it the next restart replays that tail again (and the one after, until
        ingest reaches the next fork): a kill -9 soon after a restart pays twice. The
        state is durable up to ``last_seq``, so the child renames its file into place
        itself. Call it from the thread that drives the store (the event loop's), not
        while other threads may hold locks the child would need; True if it forked.
        """
        behind = self.last_seq - self._snapshot_seq
        if (
            not self._background
            or self._follow
            or self._child is not None
            or self._staged_seq != self.last_seq  # only a state the log already holds
            or behind < _tail_worth(self)
        ):
            return False
        self._fork(durable=True)
        return True

    def _fork(self, *, durable: bool = False) -> None:
        """Fork a child that writes a snapshot of the router as staged (``_staged_seq``)."""
        try:
            started = time.perf_counter()
            self._child = BackgroundSnapshot(
                self.data_dir, self._staged_seq, self.router, fsync=self._fsync, durable=durable
            )
            freeze_heap()
            log.info(
                "store: snapshot at record %d forked in %.1f ms",
                self._staged_seq,
                (time.perf_counter() - started) * 1000,
            )
        except OSError as exc:
            log.warning("store: cannot fork a snapshot at record %d: %s", self._staged_seq, exc)
        # Counted from this fork, whatever becomes of it: snapshots stay
        # snapshot_every apart (the tail to replay is bounded by it), and a
        # failing disk is not retried at every batch.
        self._snapshot_seq = self._staged_seq

    @property
    def last_seq(self) -> int:
        """Seq of the last durable log record (0 for an empty log)."""
        return self._writer.last_seq

    # ------------------------------------------------------------- writing
    def ingest(self, events: Sequence[Event]) -> list[IngestResult]:
        """Apply ``events`` in order; durable (one fsync) before returning.

        Raises ``FsyncFailed`` / ``LogWriteFailed`` if the batch could not be
        made durable: then nothing in it is acknowledged and the store refuses
        everything after (the service exits and recovers from the log).
        """
        staged = self.stage(events)
        self.write(staged)
        self.finish(staged)
        return staged.results

    def stage(self, events: Sequence[Event]) -> Staged:
        """Apply ``events`` to the router and encode their log records, writing nothing.

        The three steps of a group commit: ``stage`` (event-loop thread),
        ``write`` (may run in a writer thread while the next batch is staged;
        writes must be called in staging order), then ``finish`` (event-loop
        thread) before any result is acknowledged. The router runs ahead of the
        log only between ``stage`` and ``finish``; a failed ``write`` stops the
        store for good, so nothing staged after it is ever acknowledged.
        """
        self._check()
        for event in events:
            if not isinstance(event, Event):
                raise InvalidEvent(f"ingest takes router events, not {type(event).__name__}")
        router = self.router
        staged = Staged()
        results = staged.results
        try:
            for event in events:
                step = router.apply(event)
                if step.status == DUPLICATE:
                    results.append(IngestResult(event.event_id, "duplicate"))
                    continue
                if step.status == REFUSED:
                    # Timers that fell due before the refused event's time still
                    # fired: log what they caused as a tick.
                    if step.produced:
                        self._stage_entry(staged, "tick", step.clock_after, None, step)
                    results.append(
                        IngestResult(
                            event.event_id, "rejected", commands=step.commands, error=step.error
                        )
                    )
                    continue
                clock = step.clock if step.clock is not None else event.at
                result = IngestResult(event.event_id, "accepted", commands=step.commands)
                self._stage_entry(staged, "event", clock, event, step, owner=result)
                results.append(result)
        except BaseException:
            # A bug in the core left the router in an unknown state, ahead of
            # the log: stop, acknowledging nothing of this batch (writing it
            # here could race a batch still in the writer thread); a restart
            # recovers from the log.
            self._stopped = "an internal error stopped the store; restart to recover from the log"
            raise
        self._reserve(staged)
        return staged

    def stage_tick(self, now: float) -> Staged:
        """Fire the timers due by ``now`` and encode what they caused (see ``stage``)."""
        self._check()
        step = self.router.advance(now)
        staged = Staged(tick_commands=step.commands)
        # The first tick also starts the router's clock: log it, or replay
        # would start the clock at the first event instead.
        if step.produced or step.clock is None:
            self._stage_entry(staged, "tick", now, None, step)
        self._reserve(staged)
        return staged

    @staticmethod
    def _stage_entry(
        staged: Staged,
        kind: str,
        at: float | None,
        event: Event | None,
        step: Step,
        *,
        owner: IngestResult | None = None,
    ) -> None:
        assert at is not None, "a logged entry has a time"
        staged.payloads.append(
            encode_entry(kind, at, event, step.commands, step.records, collect=staged.command_dicts)
        )
        staged.owners.append(owner)
        if step.records:
            staged.records.extend(step.records)

    def _reserve(self, staged: Staged) -> None:
        staged.first_seq = self._staged_seq + 1
        self._staged_seq += len(staged.payloads)
        for i, owner in enumerate(staged.owners):
            if owner is not None:
                owner.seq = staged.first_seq + i
        if self._follow:
            if self._follower is None:
                self._follow_if_due()
            if self._staged_seq - self._frozen_seq >= self.snapshot_every:
                # No fork: the follower snapshots. Only move what was created since the
                # last time out of the collector's view, as after a fork (``freeze_heap``).
                freeze_heap()
                self._frozen_seq = self._staged_seq
            return
        if self._staged_seq - self._snapshot_seq < self.snapshot_every or not self._background:
            return
        if self._child is None:
            # The router now is exactly the log up to ``_staged_seq``: fork its image.
            self._fork()

    def _reap(self, *, block: bool = False) -> None:
        """Put the child's snapshot in place once it is written and the log covers it.

        Runs in the writer's thread while the loop may stage; ``_child`` is cleared
        last, so the loop never forks a second child while one still runs.
        """
        child = self._child
        if child is None or child.seq > self.last_seq or not child.poll(block=block):
            return
        try:
            if child.failed is not None:
                log.warning("store: snapshot at record %d failed: %s", child.seq, child.failed)
            else:
                try:
                    child.commit()
                except OSError as exc:
                    log.warning("store: snapshot at record %d failed: %s", child.seq, exc)
        finally:
            self._child = None

    def write(self, staged: Staged) -> None:
        """Append and fsync the staged records (blocking; the only step that does I/O)."""
        if not staged.payloads:
            return
        if self._stopped is not None:
            raise StoreClosed(self._stopped)  # nothing is appended once stopped
        if self._writer.next_seq != staged.first_seq:
            self._stopped = "log records were written out of order"
            raise StoreClosed(self._stopped)
        self._writer.append_many(staged.payloads)
        if self._child is not None:
            self._reap()  # here, in the writer's thread: the rename's fsync is I/O too

    def finish(self, staged: Staged, *, snapshot: bool = True) -> None:
        """Book-keeping once ``write`` succeeded: the command history, snapshots."""
        if not staged.payloads:
            return
        self._recent.extend(staged.command_dicts)
        if len(self._recent) == self._recent.maxlen:
            self._recent_complete = False
        # A snapshot must equal the log it covers: only when nothing is staged beyond it.
        if (
            snapshot
            and not self._background
            and self._staged_seq == self.last_seq
            and self.last_seq - self._snapshot_seq >= self.snapshot_every
        ):
            self._snapshot()

    def tick(self, now: float) -> list[Command]:
        """Fire the timers due by ``now``; log (durably) what they caused."""
        staged = self.stage_tick(now)
        self.write(staged)
        self.finish(staged)
        return staged.tick_commands

    def wait_snapshot(self) -> None:
        """Block until a background snapshot covered by the log is in place (tests, close)."""
        if self._child is not None and self._child.seq <= self.last_seq:
            self._reap(block=True)

    def _snapshot(self) -> None:
        try:
            write_snapshot(self.data_dir, self.last_seq, self.router, fsync=self._fsync)
        except (OSError, ValueError, TypeError) as exc:
            # The log is intact; only the next recovery gets slower.
            log.warning("store: snapshot at record %d failed: %s", self.last_seq, exc)
            return
        self._snapshot_seq = self.last_seq

    def _check(self) -> None:
        if self._stopped is not None:
            raise StoreClosed(self._stopped)
        self._writer.check()

    # ------------------------------------------------------------- reading
    def commands_since(self, cursor: int) -> list[dict[str, Any]]:
        """Logged command dicts with ``seq`` > ``cursor``, in order (stream resume)."""
        recent = self._recent
        if self._recent_complete or (recent and recent[0]["seq"] <= cursor + 1):
            out: list[dict[str, Any]] = []
            for c in reversed(recent):
                if c["seq"] <= cursor:
                    break
                out.append(c)
            out.reverse()
            return out
        return self._commands_from_log(cursor)

    def _commands_from_log(self, cursor: int) -> list[dict[str, Any]]:
        # Walk segments backwards until one reaches back to the cursor.
        ldir = log_dir(self.data_dir)
        segments = list_segments(ldir)
        chunks: list[list[dict[str, Any]]] = []
        for i in range(len(segments) - 1, -1, -1):
            first = segments[i][0]
            stop = segments[i + 1][0] - 1 if i + 1 < len(segments) else self.last_seq
            scan = LogScan(ldir, first, stop_seq=stop)
            cmds = [c for seq, p in scan for c in decode_payload(seq, p)["commands"]]
            chunks.append([c for c in cmds if c["seq"] > cursor])
            if cmds and cmds[0]["seq"] <= cursor + 1:
                break
        return [c for chunk in reversed(chunks) for c in chunk]

    # ------------------------------------------------------------- closing
    def close(self) -> None:
        """Close the log and release the directory (every append is already durable)."""
        if self._lock_fd is None:
            return
        if self._follower is not None:
            self._follower.stop()
            self._follower = None
        if self._child is not None:
            if self._child.seq <= self.last_seq:
                self._reap(block=True)
            else:  # it covers records that were never written
                self._child.abandon()
                self._child = None
        self._writer.close()
        os.close(self._lock_fd)
        self._lock_fd = None
        self._stopped = self._stopped or "the store is closed"

    def __enter__(self) -> EmbeddedStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _tail_worth(store: EmbeddedStore) -> int:
    """A recovered tail at least this long is worth a snapshot right away."""
    return max(1, store.snapshot_every // 10)


# Full collections only after this many young (generation 1) ones (CPython's default
# is 10): with the state frozen every ``snapshot_every`` records, none falls between.
FULL_COLLECTION_AFTER = 1_000


def freeze_heap(*, collect_young: bool = True) -> None:
    """Move every object alive now out of the garbage collector's view (``gc.freeze``).

    The router's state only grows between purges, and the collector's full
    passes walk all of it: at 300k events one took 0.6 s of the loop's thread.
    Frozen objects are still freed by reference counting when the router drops
    them (a purge); only reference cycles among them would outlive it, and the
    routing state forms none. Done after recovery and every ``snapshot_every``
    records (after each snapshot fork, which also keeps the child's
    copy-on-write pages shared: the collector no longer writes to them).

    What was created since the last freeze is still walked by each full pass:
    with CPython's default thresholds one came every few seconds under load and
    took 16-78 ms at 150k events. Full passes are therefore put off to every
    ``FULL_COLLECTION_AFTER`` young collections (millions of allocations, far
    more than ``snapshot_every`` records make), and the young generations are
    collected just before each freeze, so that the cycles that already died
    young (request objects) are not frozen with the state.

    ``collect_young=False`` at start-up: everything imported and recovered with
    the collector paused is young then, and collecting it took 42-60 ms of the
    loop's thread to free about 2,000 objects; they are frozen instead.
    """
    young, middle, full = gc.get_threshold()
    if full < FULL_COLLECTION_AFTER:
        gc.set_threshold(young, middle, FULL_COLLECTION_AFTER)
    if collect_young:
        gc.collect(1)
    gc.freeze()


def _lock(path: Path) -> int:
    fd = os.open(path / "LOCK", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StoreLocked(f"{path} is in use by another process") from None
    return fd
