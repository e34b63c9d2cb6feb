"""One helpline on the Redis store: append, fold, and (while holding the lease) route time.

The live service's ``Engine`` for a deployment of several nodes
(``adapters.http.engine_api.HelplineEngine``). Every node:

* appends adapter events to the helpline's log stream (``APPEND``: deduplicated
  by ``event_id``, atomically), then waits until its own fold has applied them
  and answers with what they caused: the fold is the same on every node, so
  these are the commands the owner records (docs/REDIS.md, "Answers");
* follows the stream (blocking ``XREAD``) and folds every entry, so its state
  is warm: live state, statistics and command streams are served by any node.

The node holding the lease additionally

* moves time: it sleeps until the fold's next deadline and appends a tick
  (fenced); like every entry, the tick takes effect when the fold reads it, so
  all nodes fire the same timers at the same point of the log;
* records outputs (commands and records per entry, fenced, exactly once per
  entry) and, with a snapshot key, snapshots of the fold.

Any Redis failure answers 503 (``NotReady``) and acknowledges nothing; the
follower retries and the node is ready again once Redis answers (and still
holds the log this node folded: the epoch check).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

from adapters.cluster.fold import Applied, Fold, PoisonEntry, id_after
from adapters.cluster.keys import BLOCK_MS, FOLD_WAIT_S, READ_BATCH, HelplineKeys
from adapters.cluster.log import EpochChanged, HelplineLog, NotDurable
from adapters.cluster.owner import Owner
from adapters.cluster.recovery import recover_fold
from adapters.http.clock import Clock
from adapters.http.engine import NotReady
from adapters.http.engine_api import Listeners, live_snapshot
from adapters.http.telemetry import EngineProbe
from adapters.store.embedded import IngestResult, Staged
from adapters.store.errors import CorruptLog
from adapters.store.snapshots import code_fingerprint, config_fingerprint
from router.commands import Command
from router.config import HelplineConfig
from router.core import Router
from router.errors import ConfigError, InternalError, LinjeError
from router.events import Event
from router.records import Record
from router.stats import fold_for_config, stats_to_json

if TYPE_CHECKING:
    from adapters.cluster.lease import Lease
    from adapters.cluster.node import RedisNode

__all__ = ["RedisEngine"]

log = logging.getLogger("linje.cluster")
_REDIS_DOWN = (RedisError, OSError)
_RESULTS_KEPT = 100_000


def fingerprint(config: HelplineConfig) -> str:
    """What every node of a helpline must share: routing code and configuration."""
    return f"{code_fingerprint()[:16]}-{config_fingerprint(config)[:16]}"


class RedisEngine(Listeners):
    """One helpline of one node of a Redis deployment (see the module docstring)."""

    def __init__(
        self,
        config: HelplineConfig,
        clock: Clock,
        node: RedisNode,
        *,
        on_fatal: Callable[[BaseException], None] | None = None,
        snapshot_every: int = 10_000,
    ) -> None:
        super().__init__()
        self.config = config
        self.id = config.id
        self.clock = clock
        self.node = node
        self.failed: BaseException | None = None
        self.probe = EngineProbe()  # telemetry (adapters.http.telemetry) replaces it
        self.log = HelplineLog(
            node.client, HelplineKeys(node.options.prefix, config.id), node.node_id
        )
        self.fold: Fold | None = None
        self.skip: set[str] = set()  # entries that trip a bug in the core (fold.PoisonEntry)
        self.fingerprint = fingerprint(config)
        self.reachable = False
        self.owner: Owner | None = None
        self.fenced_writes = 0
        self.started_from: int | None = None  # the snapshot's entry count, if one was used
        self._on_fatal = on_fatal
        self.snapshot_every = snapshot_every
        self.snapshot_ordinal = 0  # the fold's entry count at the last snapshot
        self._closing = False
        self._pending: list[tuple[list[Event], asyncio.Future[list[IngestResult]]]] = []
        self._flush_scheduled = False
        self._waiters: dict[str, asyncio.Future[Applied]] = {}
        self._results: OrderedDict[str, Applied] = OrderedDict()
        self._progress = asyncio.Event()  # the fold moved (waiters of positions)
        self.wake = asyncio.Event()  # the owner's timer loop should look again
        self.record_wake = asyncio.Event()  # the owner has outputs to record
        self._tasks: set[asyncio.Task[Any]] = set()
        self._follower: asyncio.Task[None] | None = None

    # ----------------------------------------------------------- lifecycle
    async def open(self) -> None:
        """Connect, check the helpline's epoch and fingerprint, fold the log (retrying)."""
        delay = 0.1
        while True:
            try:
                await self._open_once()
                break
            except _REDIS_DOWN as exc:
                self.reachable = False
                log.warning("helpline %s: waiting for Redis: %s", self.id, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
        self.reachable = True
        self._follower = asyncio.create_task(self._follow(), name=f"follow-{self.id}")
        log.info(
            "helpline %s: folded %d log entries (position %s) on node %s",
            self.id,
            self.current_fold().ordinal,
            self.current_fold().position,
            self.node.node_id,
        )
        self._changed()

    async def _open_once(self) -> None:
        await self.node.check_server()
        epoch, stored = await self.log.init_meta(self.fingerprint)
        if stored != self.fingerprint:
            peers = self.node.leases.peers_serving(self.id)
            if not peers:
                peers = [p for p in (await self.node.leases.read_live()) if p != self.node.node_id]
                peers = [p for p in peers if self.id in self.node.leases.live.get(p, [])]
            if peers:
                raise ConfigError(
                    f"helpline {self.id}: nodes {', '.join(peers)} run other routing code or "
                    f"configuration (fingerprint {stored}, this node {self.fingerprint}); all "
                    f"nodes of a helpline must fold the log alike: stop them to upgrade"
                )
            log.warning("helpline %s: adopting a new code/config fingerprint", self.id)
            await self.log.adopt_fingerprint(self.fingerprint)
        self.log.epoch = epoch
        key = self.node.options.snapshot_key
        self.fold, self.started_from = await recover_fold(
            self.log, self.config, key, self.fingerprint, self.skip
        )
        self.snapshot_ordinal = self.started_from or 0

    async def close(self) -> None:
        self._closing = True
        if self.lease is not None:
            await self.node.leases.release(self)
        self.step_down("the node is stopping")
        tasks = {t for t in (self._follower, *self._tasks) if t is not None}
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        for _, fut in self._pending:
            if not fut.done():
                fut.set_exception(NotReady("the node is stopping; nothing was acknowledged"))

    @property
    def ready(self) -> bool:
        return self.fold is not None and self.failed is None and self.reachable

    @property
    def serving(self) -> bool:
        """Neither failed nor closing (it may be waiting for Redis)."""
        return self.failed is None and not self._closing

    @property
    def can_own(self) -> bool:
        """Whether the lease manager may give this helpline's lease to this node."""
        return self.ready and not self._closing

    def current_fold(self) -> Fold:
        if self.failed is not None:
            raise NotReady("this node stopped serving the helpline; see its log")
        if self.fold is None:
            raise NotReady("folding the log from Redis; retry shortly")
        if not self.reachable:
            raise NotReady("Redis is unreachable from this node; nothing can be acknowledged")
        return self.fold

    def _fatal(self, exc: BaseException) -> None:
        if self.failed is None:
            self.failed = exc
            log.critical("helpline %s: stopping: %s", self.id, exc)
            self.step_down("stopping")
            if self._on_fatal is not None:
                self._on_fatal(exc)

    def spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ----------------------------------------------------------- following
    async def _follow(self) -> None:
        client, key = self.node.client, self.log.keys.log
        delay = 0.05
        while not self._closing and self.failed is None:
            fold = self.fold
            if fold is None:
                return  # rebuilding: a new follower starts from the new fold
            try:
                if not self.reachable:
                    await self._check_epoch()
                resp: Any = await client.xread(
                    {key: fold.position}, count=READ_BATCH, block=BLOCK_MS
                )
            except asyncio.CancelledError:
                raise
            except EpochChanged as exc:
                self._fatal(exc)
                return
            except _REDIS_DOWN as exc:
                if self.reachable:
                    log.warning("helpline %s: Redis unreachable: %s", self.id, exc)
                    self.reachable = False
                    self._changed()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            delay = 0.05
            if not self.reachable:
                log.info("helpline %s: Redis reachable again", self.id)
                self.reachable = True
            if resp:
                rows = [(sid.decode(), fields[b"e"]) for sid, fields in resp[0][1]]
                self._apply(fold, rows)
            elif not self.ready:
                self._changed()

    async def _check_epoch(self) -> None:
        """After losing Redis: it must still hold the log this node folded, up to its position.

        Redis restarted without persistence (new epoch), or with an AOF that lost its
        last second, or a failover to a replica that lacked the last writes: the
        fold is then ahead of the log, and continuing would serve a history Redis no
        longer has. The node stops instead; restarted, it folds what Redis holds.
        """
        epoch = await self.log.current_epoch()
        if epoch != self.log.epoch:
            raise EpochChanged(
                f"helpline {self.id}: Redis no longer holds the log this node folded "
                f"(epoch {epoch!r}, expected {self.log.epoch!r}): restarted without "
                "persistence? Restart the nodes to start from what Redis holds now"
            )
        position = self.fold.position if self.fold is not None else "0-0"
        if position != "0-0" and not await self.log.has(position):
            raise EpochChanged(
                f"helpline {self.id}: Redis lost log entries this node folded (entry "
                f"{position} is gone: an AOF that was not fsynced, or a failover to a replica "
                "that lacked them); restart the nodes to fold what Redis holds"
            )

    def _apply(self, fold: Fold, rows: list[tuple[str, bytes]]) -> None:
        commands: list[Command] = []
        for sid, payload in rows:
            try:
                applied = fold.apply(sid, payload)
            except PoisonEntry as exc:
                self._poisoned(exc)
                break
            except LinjeError as exc:
                self._fatal(exc)
                return
            commands += applied.commands
            fut = self._waiters.pop(sid, None)
            if fut is not None:
                if not fut.done():
                    fut.set_result(applied)
            elif applied.node == self.node.node_id and applied.kind == "event":
                self._results[sid] = applied
                if len(self._results) > _RESULTS_KEPT:
                    self._results.popitem(last=False)
        self._progress.set()
        self.wake.set()
        if self.lease is not None:
            self.record_wake.set()
        self._publish(commands)

    def _poisoned(self, exc: PoisonEntry) -> None:
        """Every node meets the same bug on the same entry: each rebuilds without it."""
        log.error("helpline %s: %s", self.id, exc.detail, exc_info=exc.cause)
        self.skip.add(exc.sid)
        self.fold = None  # not ready (503) until rebuilt
        skipped = Applied(exc.sid, 0, "event", None, None)
        fut = self._waiters.pop(exc.sid, None)
        if fut is None:
            self._results[exc.sid] = skipped  # its request may not be waiting yet
        elif not fut.done():
            fut.set_result(skipped)
        self.spawn(self._rebuild(), f"rebuild-{self.id}")

    async def _rebuild(self) -> None:
        if self.lease is not None:
            await self.node.leases.release(self)
        delay = 0.1
        while not self._closing:
            try:
                fold, _ = await recover_fold(
                    self.log, self.config, self.node.options.snapshot_key, self.fingerprint,
                    self.skip,
                )  # fmt: skip
                fold.mark_recorded(await self.log.out_cursor())
                break
            except _REDIS_DOWN:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
        else:
            return
        self.fold = fold
        log.warning("helpline %s: folded again without entries %s", self.id, sorted(self.skip))
        self._follower = asyncio.create_task(self._follow(), name=f"follow-{self.id}")
        self._changed()

    async def until_folded(self, sid: str, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while id_after(sid, self.current_fold().position):
            self._progress.clear()
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), left)

    # ----------------------------------------------------------- ingestion
    async def submit(self, events: list[Event]) -> list[IngestResult]:
        """Append events in order; answers once they are in Redis and folded here."""
        self.current_fold()
        if self._closing:
            raise NotReady("the node is stopping; nothing was acknowledged")
        fut: asyncio.Future[list[IngestResult]] = asyncio.get_running_loop().create_future()
        self._pending.append((events, fut))
        self.probe.submitted(fut)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        return await fut

    def _flush(self) -> None:
        """Every request pending now goes to Redis in one script call (group commit)."""
        self._flush_scheduled = False
        pending, self._pending = self._pending, []
        if pending:
            self.spawn(self._append(pending), f"append-{self.id}")

    async def _append(
        self, pending: list[tuple[list[Event], asyncio.Future[list[IngestResult]]]]
    ) -> None:
        events = [e for batch, _ in pending for e in batch]
        try:
            results = await self._append_events(events)
        except LinjeError as err:
            for _, fut in pending:
                if not fut.done():
                    fut.set_exception(err)
            return
        except Exception as exc:
            # Anything else (an event the codec cannot encode) must still answer every
            # waiting request, or its client waits forever: a 500, nothing acknowledged.
            log.exception("helpline %s: append failed; nothing acknowledged", self.id)
            for _, fut in pending:
                if not fut.done():
                    fut.set_exception(exc)
            return
        # Telemetry: decided and durable are one moment here (in Redis and folded).
        staged = Staged(results=results)
        self.probe.decided(staged, events, [fut for _, fut in pending])
        self.probe.committed(staged)
        i = 0
        for batch, fut in pending:
            if not fut.done():
                fut.set_result(results[i : i + len(batch)])
            i += len(batch)

    async def _append_events(
        self, events: list[Event], *, again: bool = True
    ) -> list[IngestResult]:
        ttl_ms = int(self.config.dedup_window_s * 1000)
        try:
            marks = await self.log.append(events, ttl_ms, self.node.options.durability)
        except EpochChanged as exc:
            self._fatal(exc)
            raise NotReady(exc.detail) from None
        except NotDurable:
            raise
        except _REDIS_DOWN as exc:
            self.reachable = False
            self._changed()
            raise NotReady(
                f"Redis did not confirm the append ({type(exc).__name__}); nothing was "
                "acknowledged: retry (a retry of an event that did land answers duplicate)"
            ) from None
        results: list[IngestResult] = []
        for event, (new, sid) in zip(events, marks, strict=True):
            if not new:
                results.append(await self._duplicate(event, sid, again))
                continue
            applied = await self._result(sid)
            result = applied.result
            if result is None:
                result = self._skipped(event, sid)
            elif result.status == "rejected":
                with contextlib.suppress(*_REDIS_DOWN):
                    await self.log.forget(event.event_id, sid)
            results.append(result)
        return results

    async def _duplicate(self, event: Event, sid: str, again: bool) -> IngestResult:
        """An ``event_id`` already in the log: a duplicate if the fold accepted it there.

        If that entry was refused (its node died before forgetting its dedup key) or
        the core's window has passed, the event is judged afresh, as the embedded
        store judges a retry of a refused event: appended again, after the batch.
        """
        try:
            await self.until_folded(sid, FOLD_WAIT_S)
        except TimeoutError:
            raise NotReady(f"entry {sid} not folded yet; retry") from None
        if sid in self.skip:
            return self._skipped(event, sid)
        prior = self.current_fold().router.check_duplicate(event)
        if prior is not None and prior.error is not None:
            # The same event_id with another body: refused, the first body kept.
            return IngestResult(event.event_id, "rejected", error=prior.error)
        if prior is not None or not again:
            return IngestResult(event.event_id, "duplicate")
        with contextlib.suppress(*_REDIS_DOWN):
            await self.log.forget(event.event_id, sid)
        (result,) = await self._append_events([event], again=False)
        return result

    def _skipped(self, event: Event, sid: str) -> IngestResult:
        """An entry every node skips: refused for good (its dedup key is kept, so a retry
        does not trip the same bug again)."""
        if sid in self.skip:
            err: LinjeError = InternalError(
                f"event {event.event_id} tripped an internal error in the routing core; it "
                "was not applied (our bug, not the event's: see the server log)"
            )
        else:
            err = CorruptLog(f"log entry {sid} could not be read back")
        return IngestResult(event.event_id, "rejected", error=err)

    async def _result(self, sid: str) -> Applied:
        applied = self._results.pop(sid, None)
        if applied is not None:
            return applied
        fut: asyncio.Future[Applied] = asyncio.get_running_loop().create_future()
        self._waiters[sid] = fut
        try:
            return await asyncio.wait_for(fut, FOLD_WAIT_S)
        except TimeoutError:
            raise NotReady(
                f"the event is in Redis (entry {sid}) but this node has not folded it within "
                f"{FOLD_WAIT_S:.0f} s; a retry answers duplicate and its commands are on the "
                "command stream"
            ) from None
        finally:
            self._waiters.pop(sid, None)

    # ----------------------------------------------------------- ownership
    @property
    def lease(self) -> Lease | None:
        """The lease this node holds for the helpline, if any."""
        return self.owner.lease if self.owner is not None else None

    @property
    def owner_ready(self) -> bool:
        """Holding the lease and caught up: routing time and recording."""
        return self.owner is not None and self.owner.ready

    def take_over(self, lease: Lease) -> None:
        """Called by the lease manager: this node now holds the helpline's lease."""
        self.step_down("a new lease replaces the old one")
        self.owner = Owner(self, lease)
        self.owner.start()
        self._changed()

    def step_down(self, why: str) -> None:
        """Stop routing time and recording at once (the lease is lost or given back)."""
        owner, self.owner = self.owner, None
        if owner is None:
            return
        log.warning(
            "helpline %s: node %s steps down (token %d): %s",
            self.id,
            self.node.node_id,
            owner.lease.token,
            why,
        )
        owner.stop()
        self._changed()

    async def relinquish(self) -> None:
        """Record what is still unrecorded, then step down (before the lease is released)."""
        if self.owner is not None and self.owner.ready and self.reachable:
            await self.owner.record_rest()
        self.step_down("handing the lease over")

    async def refresh_recorded(self) -> None:
        """On a standby: forget outputs the owner has recorded (called by the lease loop)."""
        if self.fold is not None and self.lease is None:
            self.fold.mark_recorded(await self.log.out_cursor())

    # ------------------------------------------------------------ listeners
    def poke(self) -> None:
        """Look at the next deadline again (the clock was moved, e.g. in tests)."""
        self.wake.set()

    def commands_since(self, cursor: int) -> list[dict[str, Any]]:
        return self.current_fold().commands_since(cursor)

    @property
    def last_command_seq(self) -> int:
        return self.current_fold().router.last_command_seq

    # --------------------------------------------------------------- views
    def _router(self) -> Router:
        return self.current_fold().router

    def snapshot(self) -> dict[str, Any]:
        snap = live_snapshot(self.current_fold().router, self.clock, self.config)
        snap["cluster"] = self.cluster_status()
        return snap

    def cluster_status(self) -> dict[str, Any]:
        """This node's view: who it is, whether it routes, how far it has folded."""
        fold = self.fold
        return {
            "node": self.node.node_id,
            "owner": self.lease is not None and self.owner_ready,
            "token": self.lease.token if self.lease is not None else None,
            "entries": fold.ordinal if fold else 0,
            "position": fold.position if fold else None,
            "unrecorded": len(fold.unrecorded) if fold else 0,
            "fenced_writes": self.fenced_writes,
            "live_nodes": sorted(self.node.leases.live),
        }

    def records(self) -> list[Record]:
        return self.current_fold().records

    def stats(
        self, *, group_by: tuple[str, ...], start: float | None, end: float | None
    ) -> dict[str, Any]:
        stats = fold_for_config(
            self.records(), self.config, group_by=group_by, start=start, end=end
        )
        return stats_to_json(stats)
