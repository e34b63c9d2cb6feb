"""One helpline in the live service: its store, group commit, timers and listeners.

Everything that touches the router or the store runs on the event loop's
thread and never awaits in between, so no lock is needed. Events posted by
concurrent requests are gathered into one batch and written with one fsync
(group commit), pipelined: while one batch is written and fsynced in the
writer thread, the next is routed and staged on the loop, so the disk and the
router work at the same time; a request is answered only once the fsync
covering its events has returned, and batches reach the log (and are
answered) in the order they were staged. Snapshots are written by a
follower process that replays the log (``adapters.store.follower``): this
process never forks nor serialises the state. One task sleeps
until the core's next deadline (no polling) and logs what the timers cause.
Listeners (command streams, the supervisor state hub) are told after each
change; they never slow routing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from adapters.http.clock import Clock
from adapters.http.engine_api import Listeners, live_snapshot
from adapters.http.telemetry import EngineProbe
from adapters.store.embedded import EmbeddedStore, IngestResult, Staged
from adapters.store.entries import read_entries
from router.commands import Command
from router.config import HelplineConfig
from router.core import Router
from router.errors import LinjeError
from router.events import Event
from router.records import Record
from router.stats import fold_for_config, stats_to_json

__all__ = ["MAX_IN_FLIGHT", "Engine", "NotReady"]

log = logging.getLogger("linje.engine")

# Batches staged but not yet durable: one being fsynced, the next waiting for the
# writer thread. More would only split the newcomers into more, smaller fsyncs.
MAX_IN_FLIGHT = 2
# Timers due close together fire in one tick (one log entry, one write and fsync)
# instead of one tick each: the timer task wakes this long (real seconds) after a
# deadline, and a tick fires what is due within TIMER_SPAN_S of its first deadline
# (never past the clock), then lets requests in before the next. Under wrk every
# arrival sets a long-wait timer: one tick per timer meant thousands of ticks a
# second, each its own write, run back to back without yielding once behind.
TIMER_COALESCE_S = 0.005
TIMER_SPAN_S = 0.05


class NotReady(LinjeError):
    status = 503
    code = "not-ready"


class Engine(Listeners):
    def __init__(
        self,
        config: HelplineConfig,
        data_dir: Path,
        clock: Clock,
        *,
        on_fatal: Callable[[BaseException], None] | None = None,
        snapshot_every: int = 10_000,
    ) -> None:
        super().__init__()
        self.config = config
        self.id = config.id
        self.data_dir = data_dir
        self.clock = clock
        self.store: EmbeddedStore | None = None
        self.failed: BaseException | None = None
        self._on_fatal = on_fatal
        self._snapshot_every = snapshot_every
        self._pending: list[tuple[list[Event], asyncio.Future[list[IngestResult]]]] = []
        self._flush_scheduled = False
        self._wake = asyncio.Event()
        self._timer_task: asyncio.Task[None] | None = None
        # One writer thread: fsyncs happen in staging order, off the event loop.
        self._writer_thread = ThreadPoolExecutor(1, thread_name_prefix=f"log-{config.id}")
        self._in_flight = 0
        self._records: list[Record] = []
        self._records_seq = 0
        self.probe = EngineProbe()  # telemetry (adapters.http.telemetry) replaces it

    # ----------------------------------------------------------- lifecycle
    async def open(self) -> None:
        """Recover from the log (in a thread, so /healthz answers meanwhile)."""
        store = await asyncio.to_thread(
            EmbeddedStore.open,
            self.data_dir,
            self.config,
            snapshot_every=self._snapshot_every,
            follower=True,
        )
        log.info("helpline %s recovered: %s", self.id, _public_report(store.recovery_report))
        started: list[Command] = []
        if store.router.now is None:
            # Start the core's clock, durably, before anyone can see the engine
            # ready, so the live state shows who owns each queue from the start.
            started = await asyncio.to_thread(store.tick, self.clock.now())
        self.contact_channels.learn_live(store.router)
        self.store = store
        self._publish(started)
        self._timer_task = asyncio.create_task(self._timers(), name=f"timers-{self.id}")
        self._changed()

    async def close(self) -> None:
        if self._timer_task is not None:
            self._timer_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer_task
        # Let every pending and staged batch reach the disk before the log is closed.
        for _ in range(500):
            if self._pending and self._in_flight < MAX_IN_FLIGHT and self.failed is None:
                self._flush()
            if (not self._pending or self.failed is not None) and self._in_flight == 0:
                break
            await asyncio.sleep(0.01)
        await asyncio.get_running_loop().run_in_executor(self._writer_thread, lambda: None)
        self._writer_thread.shutdown(wait=True)
        if self.store is not None:
            self.store.close()

    @property
    def ready(self) -> bool:
        return self.store is not None and self.failed is None

    def _store(self) -> EmbeddedStore:
        if self.failed is not None:
            raise NotReady("the event log failed; the service is stopping")
        if self.store is None:
            raise NotReady("recovering from the event log; retry shortly")
        return self.store

    # ----------------------------------------------------------- ingestion
    async def submit(self, events: list[Event]) -> list[IngestResult]:
        """Apply events in order; returns once they are durable (group commit)."""
        self._store()
        fut: asyncio.Future[list[IngestResult]] = asyncio.get_running_loop().create_future()
        self._pending.append((events, fut))
        self.probe.submitted(fut)
        # With MAX_IN_FLIGHT batches staged, newcomers wait for the oldest to be
        # durable and go together into the next one: one fsync per batch.
        if not self._flush_scheduled and self._in_flight < MAX_IN_FLIGHT:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        return await fut

    def _flush(self) -> None:
        """Stage everything pending as one batch; its write and fsync run in the writer thread.

        Called on the loop while fewer than ``MAX_IN_FLIGHT`` batches are staged,
        so batch N+1 is routed and staged while batch N is being fsynced; the
        single writer thread writes them in staging order. Each batch's futures
        resolve only after its own fsync returned (``_commit``).
        """
        self._flush_scheduled = False
        if self._in_flight >= MAX_IN_FLIGHT and self.failed is None:
            return  # a timer batch took the slot; the next durable batch flushes these
        pending, self._pending = self._pending, []
        if not pending:
            return
        events = [e for batch, _ in pending for e in batch]
        try:
            staged = self._store().stage(events)
        except BaseException as exc:
            self._fail_all(exc, [fut for _, fut in pending])
            return
        self.contact_channels.note(events, [r.status for r in staged.results])
        futures = [fut for _, fut in pending]
        self.probe.decided(staged, events, futures)
        sizes = [len(batch) for batch, _ in pending]

        def done(results: list[IngestResult]) -> None:
            i = 0
            for fut, n in zip(futures, sizes, strict=True):
                if not fut.done():
                    fut.set_result(results[i : i + n])
                i += n
            self._publish([c for r in results for c in r.commands])
            self._wake.set()

        self._commit(staged, lambda: done(staged.results), futures)

    def _commit(
        self,
        staged: Staged,
        on_durable: Callable[[], None],
        futures: list[asyncio.Future[list[IngestResult]]],
    ) -> None:
        store = self._store()
        loop = asyncio.get_running_loop()
        self._in_flight += 1
        write = loop.run_in_executor(self._writer_thread, self.probe.write, store.write, staged)

        def written(f: asyncio.Future[None]) -> None:
            self._in_flight -= 1
            exc = f.exception()
            if exc is not None:
                self._fail_all(exc, futures)
                return
            store.finish(staged)
            self.probe.committed(staged)
            on_durable()
            if self._pending and self._in_flight < MAX_IN_FLIGHT and not self._flush_scheduled:
                self._flush_scheduled = True
                loop.call_soon(self._flush)

        write.add_done_callback(written)

    def _fail_all(
        self, exc: BaseException, futures: list[asyncio.Future[list[IngestResult]]]
    ) -> None:
        self._fail(exc)
        for fut in futures:
            if not fut.done():
                fut.set_exception(NotReady("the event log failed; nothing was acknowledged"))

    def _fail(self, exc: BaseException) -> None:
        self.failed = exc
        log.critical("helpline %s: event log failure, stopping: %s", self.id, exc)
        if self._on_fatal is not None:
            self._on_fatal(exc)

    # -------------------------------------------------------------- timers
    def poke(self) -> None:
        """Look at the next deadline again (the clock was moved, e.g. in tests)."""
        self._wake.set()

    async def _timers(self) -> None:
        while True:
            store = self._store()
            deadline = store.router.next_deadline()
            self._wake.clear()
            if deadline is None:
                await self._wake.wait()
                continue
            delay = self.clock.real_seconds_until(deadline) + TIMER_COALESCE_S
            if delay > 0:
                try:
                    # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows
                    # a cancel that arrives as the wake-up fires, and close() would
                    # then hang until this deadline.
                    async with asyncio.timeout(delay):
                        await self._wake.wait()
                    continue  # something changed: look at the deadline again
                except TimeoutError:
                    pass
            self.tick(deadline + TIMER_SPAN_S)
            await asyncio.sleep(0)  # requests first, then the next tick if one is due

    def tick(self, until: float) -> None:
        """Fire timers due by ``until`` (never past the wall clock); publish once durable."""
        store = self._store()
        until = min(until, self.clock.now())
        try:
            staged = store.stage_tick(until)
        except LinjeError:
            raise
        except BaseException as exc:
            self._fail(exc)
            raise NotReady("the event log failed") from exc
        self.probe.decided(staged, (), [])
        self._commit(staged, lambda: self._publish(staged.tick_commands), [])

    # ------------------------------------------------------------ listeners
    def commands_since(self, cursor: int) -> list[dict[str, Any]]:
        return self._store().commands_since(cursor)

    @property
    def last_command_seq(self) -> int:
        return self._store().router.last_command_seq

    # --------------------------------------------------------------- views
    def _router(self) -> Router:
        return self._store().router

    def snapshot(self) -> dict[str, Any]:
        return live_snapshot(self._store().router, self.clock, self.config)

    def records(self) -> list[Record]:
        """Every record in the log (read incrementally from the log, kept in memory)."""
        store = self._store()
        if self._records_seq < store.last_seq:
            for entry in read_entries(self.data_dir, from_seq=self._records_seq + 1):
                self._records.extend(entry.records)
                self._records_seq = entry.seq
                if entry.seq >= store.last_seq:
                    break
        return self._records

    def stats(
        self, *, group_by: tuple[str, ...], start: float | None, end: float | None
    ) -> dict[str, Any]:
        stats = fold_for_config(
            self.records(), self.config, group_by=group_by, start=start, end=end
        )
        return stats_to_json(stats)


def _public_report(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if isinstance(v, int | float | str | bool)}
