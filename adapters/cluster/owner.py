"""What the node holding a helpline's lease does, for as long as it holds it.

One ``Owner`` per tenure (a lease with one fencing token):

1. catch up: fold up to the log's tail, learn which outputs the last owner
   recorded;
2. move time: sleep until the fold's next deadline, append a tick (fenced);
3. record outputs and, with a snapshot key, snapshots of the fold (fenced).

Before every write the lease's local validity is checked; Redis checks the
token again in the same script as the write (``adapters.cluster.scripts``), so
a pause between the check and the write is caught too. A write refused by
Redis (``Fenced``) or a lease that may have expired makes the node step down
at once; it goes on folding as a standby.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from adapters.cluster.codec import SnapshotState, sign_snapshot
from adapters.cluster.fold import id_after
from adapters.cluster.keys import FOLD_WAIT_S, OUTPUT_BATCH
from adapters.cluster.log import Fenced
from adapters.http.engine import NotReady
from router.errors import LinjeError

if TYPE_CHECKING:
    from adapters.cluster.engine import RedisEngine
    from adapters.cluster.lease import Lease

__all__ = ["Owner"]

log = logging.getLogger("linje.cluster")
_REDIS_DOWN = (RedisError, OSError)


class Owner:
    """One tenure of a helpline's lease on this node."""

    def __init__(self, engine: RedisEngine, lease: Lease) -> None:
        self.engine = engine
        self.lease = lease
        self.ready = False  # caught up: routing time and recording
        self._tasks: list[asyncio.Task[None]] = []
        self._stopped = False

    def start(self) -> None:
        self._tasks.append(self.engine.spawn(self._run(), f"own-{self.engine.id}"))

    def stop(self) -> None:
        self._stopped = True
        self.ready = False
        for task in self._tasks:
            task.cancel()

    @property
    def active(self) -> bool:
        return not self._stopped and self.engine.owner is self

    async def record_rest(self) -> None:
        """Before a graceful hand-over: record what is still unrecorded (best effort)."""
        with contextlib.suppress(*_REDIS_DOWN, LinjeError):
            await self._record()

    # ------------------------------------------------------------- the tenure
    async def _run(self) -> None:
        """Catch up with the log's tail, record what the last owner did not, then route time."""
        engine = self.engine
        try:
            while self.active:
                try:
                    tail = await engine.log.tail()
                    await engine.until_folded(tail, FOLD_WAIT_S)
                    engine.current_fold().mark_recorded(await engine.log.out_cursor())
                    break
                except (*_REDIS_DOWN, TimeoutError, NotReady):
                    await asyncio.sleep(0.1)
            if not self.active:
                return
            self.ready = True
            log.info(
                "helpline %s: node %s routes from entry %d (token %d)",
                engine.id,
                engine.node.node_id,
                engine.current_fold().ordinal,
                self.lease.token,
            )
            self._tasks.append(engine.spawn(self._recorder(), f"record-{engine.id}"))
            engine.record_wake.set()
            await self._timers()
        except Fenced as exc:
            self._fenced(exc)

    def _fenced(self, exc: Fenced) -> None:
        self.engine.fenced_writes += 1
        self.engine.node.leases.lose(self.engine.id, f"a write was fenced off: {exc.detail}")

    def _may_write(self) -> bool:
        """Checked before every owner write; Redis checks the token again (a pause can
        fall between this check and the write: that is what fencing is for)."""
        if not self.active:
            return False
        if not self.lease.valid():
            self.engine.node.leases.lose(
                self.engine.id, "the lease may have expired (not renewed in time)"
            )
            return False
        return True

    # ------------------------------------------------------------- time
    async def _timers(self) -> None:
        engine = self.engine
        fold = engine.current_fold()
        if fold.router.now is None:
            # Start the core's clock, so that live state shows who owns each queue.
            await self._tick(engine.clock.now())
        while self.active:
            deadline = fold.router.next_deadline()
            engine.wake.clear()
            if deadline is None:
                await engine.wake.wait()
                continue
            delay = engine.clock.real_seconds_until(deadline)
            if delay > 0:
                try:
                    await asyncio.wait_for(engine.wake.wait(), delay)
                    continue  # something changed: look at the deadline again
                except TimeoutError:
                    pass
            await self._tick(min(deadline, engine.clock.now()))

    async def _tick(self, at: float) -> None:
        """Append a tick; it takes effect (here too) when the fold reads it."""
        engine = self.engine
        if not self._may_write():
            return
        try:
            sid = await engine.log.append_tick(at, self.lease.value, self.lease.token)
            await engine.until_folded(sid, FOLD_WAIT_S)
        except _REDIS_DOWN as exc:
            if engine.reachable:
                log.warning("helpline %s: tick not written (retrying): %s", engine.id, exc)
            await asyncio.sleep(0.2)
        except (TimeoutError, NotReady):
            await asyncio.sleep(0.2)

    # ------------------------------------------------------------- outputs
    async def _recorder(self) -> None:
        engine = self.engine
        while self.active:
            await engine.record_wake.wait()
            engine.record_wake.clear()
            try:
                await self._record()
                await self._maybe_snapshot()
            except Fenced as exc:
                self._fenced(exc)
                return
            except (*_REDIS_DOWN, NotReady) as exc:
                if engine.reachable:
                    log.warning("helpline %s: outputs not recorded yet: %s", engine.id, exc)
                await asyncio.sleep(0.2)
                engine.record_wake.set()

    async def _record(self) -> None:
        fold, lease = self.engine.current_fold(), self.lease
        while fold.unrecorded:
            if not self._may_write():
                return
            batch = fold.pending(OUTPUT_BATCH)
            upto = fold.position if len(batch) == len(fold.unrecorded) else batch[-1][0]
            fold.mark_recorded(await self.engine.log.record(lease.value, lease.token, upto, batch))

    async def _maybe_snapshot(self) -> None:
        engine, lease = self.engine, self.lease
        key = engine.node.options.snapshot_key
        fold = engine.current_fold()
        if key is None or fold.ordinal - engine.snapshot_ordinal < engine.snapshot_every:
            return
        if fold.unrecorded or not self._may_write():
            return
        if id_after(fold.position, fold.recorded):
            # Nothing productive since the cursor: move it to the snapshot's position.
            cursor = await engine.log.record(lease.value, lease.token, fold.position, [])
            fold.mark_recorded(cursor)
        state = SnapshotState(fold.router, fold.position, fold.ordinal, engine.fingerprint)
        if await engine.log.write_snapshot(lease.value, state.position, sign_snapshot(state, key)):
            engine.snapshot_ordinal = state.ordinal
            log.info("helpline %s: snapshot at entry %d", engine.id, state.ordinal)
