"""Leases: which node routes which helpline, renewed, spread over nodes, handed over.

One task per node. Every ``period`` (a quarter of the lease TTL) it

1. writes its heartbeat (``<prefix>:node:<id>``, TTL = lease TTL) listing the
   helplines it serves, and reads which nodes are alive;
2. renews the leases it holds (``RENEW`` compares the value, so a lease that
   expired and was taken by another node is never extended); a lease that could
   not be renewed before its local validity ran out is given up at once, even
   while Redis is unreachable (the owner stops writing before anyone else may
   take over: validity = TTL minus a drift margin, counted from *before* the
   renewal was sent, as Redlock does);
3. takes free leases: the preferred node of a helpline (live nodes serving it,
   sorted, assigned round-robin over the sorted helplines) at once, any other
   node after the lease has been seen free for one more period, so a helpline is
   never left unrouted because its preferred node died;
4. hands one lease back when it holds more than its share (ceil(helplines /
   live nodes)) and the helpline's preferred node is alive: leases spread when
   nodes join.

Taking over a lease runs ``ACQUIRE``: ``INCR`` of the fencing token and
``SET NX PX`` of ``<node>/<token>`` in one script.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgpack
from redis.exceptions import RedisError

from adapters.cluster import scripts
from adapters.cluster.keys import HelplineKeys, NodeKeys
from router.errors import LinjeError

if TYPE_CHECKING:
    from adapters.cluster.engine import RedisEngine
    from adapters.cluster.node import RedisNode

__all__ = ["Lease", "LeaseManager"]

log = logging.getLogger("linje.cluster")


@dataclass(slots=True)
class Lease:
    """A lease this node holds: its value in Redis, its token, how long it is ours for sure."""

    helpline: str
    value: str
    token: int
    valid_until: float  # time.monotonic()
    since: float = field(default_factory=time.monotonic)

    def valid(self) -> bool:
        return time.monotonic() < self.valid_until


class LeaseManager:
    """Heartbeats, lease renewal, takeover and rebalancing for one node."""

    def __init__(self, node: RedisNode) -> None:
        self.node = node
        self.ttl_s = node.options.lease_ttl_s
        self.ttl_ms = max(1, int(self.ttl_s * 1000))
        self.period = max(0.05, min(self.ttl_s / 4, 1.0))
        self.margin = max(0.05, self.ttl_s * 0.1)
        self.held: dict[str, Lease] = {}
        self.live: dict[str, list[str]] = {}  # node id -> helplines it serves
        self._free_since: dict[str, float] = {}
        self._keys = NodeKeys(node.options.prefix)
        client = node.client
        self._acquire = client.register_script(scripts.ACQUIRE)
        self._renew = client.register_script(scripts.RENEW)
        self._release = client.register_script(scripts.RELEASE)
        self.rounds = 0
        self.failures = 0  # consecutive failed rounds
        self._stop = asyncio.Event()

    # ------------------------------------------------------------- the loop
    async def run(self) -> None:
        """Rounds every ``period`` until ``stop()``."""
        # A stop flag as well as cancellation: a cancel that lands inside a Redis
        # call can come back as a connection error, which this loop survives.
        self._stop = asyncio.Event()
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                await self.round()
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, LinjeError) as exc:
                # Once per outage at warning level; every round at debug level.
                level = logging.WARNING if self.failures == 0 else logging.DEBUG
                detail = exc.detail if isinstance(exc, LinjeError) else str(exc)
                log.log(level, "cluster: lease round failed (Redis unreachable?): %s", detail)
                self.failures += 1
                self._expire_local()
            else:
                if self.failures:
                    log.info("cluster: lease rounds work again after %d failures", self.failures)
                self.failures = 0
            self.rounds += 1
            left = max(0.0, self.period - (time.monotonic() - started))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), left)

    def stop(self) -> None:
        self._stop.set()

    async def round(self) -> None:
        """One heartbeat, renewal, takeover and rebalancing pass."""
        self._expire_local()
        await self._heartbeat()
        engines = self.node.engines
        for hl in list(self.held):
            if not engines[hl].serving:
                await self.release(engines[hl])  # failed or closing: let a standby route
            else:
                await self._renew_one(hl)
        mine = sorted(engines)
        share = math.ceil(len(mine) / max(1, len(self.live)))
        for hl in mine:
            engine = engines[hl]
            if hl in self.held or not engine.can_own:
                continue
            await self._maybe_acquire(engine, mine)
        if len(self.held) > share:
            for hl in sorted(self.held):
                pref = self.preferred(hl, mine)
                lease = self.held[hl]
                if (
                    pref != self.node.node_id
                    and pref in self.live
                    and time.monotonic() - lease.since > 2 * self.ttl_s
                ):
                    log.info("cluster: handing %s to %s (spreading leases)", hl, pref)
                    await self.release(engines[hl])
                    break
        for hl in mine:
            if hl not in self.held:
                await engines[hl].refresh_recorded()

    def preferred(self, helpline: str, helplines: list[str]) -> str | None:
        """The live node that should own ``helpline`` (round-robin over sorted ids)."""
        serving = sorted(n for n, hls in self.live.items() if helpline in hls)
        if not serving:
            return None
        return serving[helplines.index(helpline) % len(serving)]

    def peers_serving(self, helpline: str) -> list[str]:
        return sorted(
            n for n, hls in self.live.items() if helpline in hls and n != self.node.node_id
        )

    # ------------------------------------------------------------- pieces
    async def _heartbeat(self) -> None:
        client, me = self.node.client, self.node.node_id
        beat = msgpack.packb({"helplines": sorted(self.node.engines)})
        pipe = client.pipeline(transaction=False)
        pipe.set(self._keys.node(me), beat, px=self.ttl_ms)
        pipe.sadd(self._keys.nodes, me)
        pipe.smembers(self._keys.nodes)
        _, _, members = await pipe.execute()
        ids = sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)
        values: Any = await client.mget([self._keys.node(n) for n in ids]) if ids else []
        live: dict[str, list[str]] = {}
        dead: list[str] = []
        for node_id, value in zip(ids, values, strict=True):
            if value is None:
                dead.append(node_id)
            else:
                live[node_id] = list(msgpack.unpackb(value).get("helplines", []))
        if dead:
            await client.srem(self._keys.nodes, *dead)
        self.live = live

    async def read_live(self) -> dict[str, list[str]]:
        """Refresh the live-node view now (used before the first lease round)."""
        await self._heartbeat()
        return self.live

    async def _renew_one(self, hl: str) -> None:
        lease = self.held[hl]
        sent = time.monotonic()
        ok = await self._renew(keys=[HelplineKeys(self.node.options.prefix, hl).lease],
                               args=[lease.value, self.ttl_ms])  # fmt: skip
        if hl not in self.held:
            return  # given up meanwhile
        if ok:
            lease.valid_until = sent + self.ttl_s - self.margin
        else:
            self.lose(hl, "the lease was taken over or expired")

    async def _maybe_acquire(self, engine: RedisEngine, mine: list[str]) -> None:
        hl, me = engine.id, self.node.node_id
        now = time.monotonic()
        if self.preferred(hl, mine) != me:
            first = self._free_since.get(hl)
            holder = await self.node.client.get(HelplineKeys(self.node.options.prefix, hl).lease)
            if holder is not None:
                self._free_since.pop(hl, None)
                return
            if first is None:
                self._free_since[hl] = now
                return
            if now - first < self.period * 0.9:
                return
        sent = time.monotonic()
        keys = HelplineKeys(self.node.options.prefix, hl)
        taken, value = await self._acquire(
            keys=[keys.lease, keys.token, keys.meta], args=[me, self.ttl_ms, engine.log.epoch]
        )
        value = value.decode() if isinstance(value, bytes) else str(value)
        if int(taken) != 1:
            self._free_since.pop(hl, None)
            return
        self._free_since.pop(hl, None)
        token = int(value.rsplit("/", 1)[1])
        lease = Lease(hl, value, token, valid_until=sent + self.ttl_s - self.margin)
        self.held[hl] = lease
        log.info("cluster: node %s took %s with fencing token %d", me, hl, token)
        engine.take_over(lease)

    def _expire_local(self) -> None:
        for hl, lease in list(self.held.items()):
            if not lease.valid():
                self.lose(hl, "the lease could not be renewed in time")

    def lose(self, hl: str, why: str) -> None:
        """Forget a lease and make its engine step down."""
        self.held.pop(hl, None)
        engine = self.node.engines.get(hl)
        if engine is not None:
            engine.step_down(why)

    async def release(self, engine: RedisEngine) -> None:
        """Give a lease back gracefully: outputs recorded first, then the key deleted."""
        lease = self.held.get(engine.id)
        if lease is None:
            return
        await engine.relinquish()
        self.held.pop(engine.id, None)
        # Leave it to the node it was handed to (or to a standby) for a while.
        self._free_since[engine.id] = time.monotonic() + self.period
        try:
            await self._release(keys=[HelplineKeys(self.node.options.prefix, engine.id).lease],
                                args=[lease.value])  # fmt: skip
        except (RedisError, OSError) as exc:
            log.warning("cluster: could not release %s (it expires by itself): %s", engine.id, exc)

    async def leave(self) -> None:
        """Remove this node's heartbeat so that others stop counting it at once."""
        client, me = self.node.client, self.node.node_id
        try:
            await client.delete(self._keys.node(me))
            await client.srem(self._keys.nodes, me)
        except (RedisError, OSError):
            pass
