"""One helpline's keys in Redis: appends, fenced owner writes, reads. Thin I/O, no policy.

Every method is one round trip (a script, a read, or a pipeline with ``WAIT`` /
``WAITAOF``). Script errors are translated at this edge: ``Fenced`` when the
lease is no longer held with the writer's token, ``EpochChanged`` when Redis no
longer holds the log this node folded. Connection errors are left to the
caller, which answers 503 and retries.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from adapters.cluster import scripts
from adapters.cluster.codec import encode_event, encode_output, encode_tick
from adapters.cluster.keys import HelplineKeys
from router.commands import Command
from router.errors import LinjeError
from router.events import Event
from router.records import Record

__all__ = ["Durability", "EpochChanged", "Fenced", "HelplineLog", "NotDurable"]


class Fenced(LinjeError):
    """An owner write was refused: the lease moved on (a newer token holds it)."""

    status = 503
    code = "fenced"


class EpochChanged(LinjeError):
    """Redis no longer holds the log this node folded (data lost, or keys deleted)."""

    status = 503
    code = "store-lost"


class NotDurable(LinjeError):
    """``WAIT`` / ``WAITAOF`` did not confirm the append within its timeout."""

    status = 503
    code = "not-durable"


@dataclass(frozen=True, slots=True)
class Durability:
    """What an append waits for before it is acknowledged (see docs/REDIS.md).

    ``waitaof_local``/``waitaof_replicas``: ``WAITAOF numlocal numreplicas``
    (Redis 7.2+): the append is fsynced to the primary's AOF and/or to that many
    replicas' AOFs. ``wait_replicas``: ``WAIT n``: that many replicas received it
    (in memory). Zero everywhere: acknowledged once the primary applied it.
    """

    waitaof_local: int = 0
    waitaof_replicas: int = 0
    wait_replicas: int = 0
    timeout_ms: int = 1000

    @property
    def waits(self) -> bool:
        return bool(self.waitaof_local or self.waitaof_replicas or self.wait_replicas)


def _translate(exc: ResponseError) -> LinjeError | ResponseError:
    text = str(exc)
    if scripts.FENCED_ERROR in text:
        return Fenced(text.split(" ", 1)[-1])
    if scripts.EPOCH_ERROR in text:
        return EpochChanged(text.split(" ", 1)[-1])
    return exc


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class HelplineLog:
    """The Redis side of one helpline, for one node."""

    def __init__(self, client: Redis, keys: HelplineKeys, node: str) -> None:
        self.client = client
        self.keys = keys
        self.node = node
        self.epoch = ""
        self._init = client.register_script(scripts.INIT_META)
        self._append = client.register_script(scripts.APPEND)
        self._tick = client.register_script(scripts.TICK)
        self._record = client.register_script(scripts.RECORD)
        self._snapshot = client.register_script(scripts.SNAPSHOT)
        self._forget = client.register_script(scripts.FORGET)

    async def _run(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        try:
            return await script(keys=keys, args=args)
        except ResponseError as exc:
            raise _translate(exc) from None

    # ------------------------------------------------------------- meta
    async def init_meta(self, fingerprint: str) -> tuple[str, str]:
        """Create the helpline's epoch on first use; (epoch, fingerprint) as stored."""
        epoch, stored = await self._run(
            self._init, [self.keys.meta, self.keys.log], [secrets.token_hex(8), fingerprint]
        )
        return _s(epoch), _s(stored)

    async def current_epoch(self) -> str | None:
        value = await self.client.hget(self.keys.meta, "epoch")
        return None if value is None else _s(value)

    async def adopt_fingerprint(self, fingerprint: str) -> None:
        """Record a new code/config fingerprint; the old snapshot no longer applies."""
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(self.keys.meta, "fingerprint", fingerprint)
        pipe.delete(self.keys.snap)
        await pipe.execute()

    # ------------------------------------------------------------- any node
    async def append(
        self, events: Sequence[Event], dedup_ttl_ms: int, durability: Durability
    ) -> list[tuple[bool, str]]:
        """Append events in order, deduplicated; (new, log id) per event."""
        keys = [self.keys.log, self.keys.meta, *(self.keys.dedup(e.event_id) for e in events)]
        args: list[Any] = [self.epoch, dedup_ttl_ms, *(encode_event(e, self.node) for e in events)]
        if not durability.waits:
            out = await self._run(self._append, keys, args)
        else:
            pipe = self.client.pipeline(transaction=False)
            await self._append(keys=keys, args=args, client=pipe)
            if durability.waitaof_local or durability.waitaof_replicas:
                pipe.execute_command(
                    "WAITAOF",
                    durability.waitaof_local,
                    durability.waitaof_replicas,
                    durability.timeout_ms,
                )
            if durability.wait_replicas:
                pipe.execute_command("WAIT", durability.wait_replicas, durability.timeout_ms)
            try:
                out, *acks = await pipe.execute(raise_on_error=True)
            except ResponseError as exc:
                raise _translate(exc) from None
            _check_acks(durability, acks)
        return [(int(flag) == 1, _s(sid)) for flag, sid in out]

    async def forget(self, event_id: str, sid: str) -> None:
        await self._forget(keys=[self.keys.dedup(event_id)], args=[sid])

    async def read(self, after: str, count: int) -> list[tuple[str, bytes]]:
        """Up to ``count`` log entries after ``after``."""
        rows: Any = await self.client.xrange(self.keys.log, f"({after}", "+", count=count)
        return [(_s(sid), fields[b"e"]) for sid, fields in rows]

    async def has(self, sid: str) -> bool:
        """Whether the log still holds entry ``sid``."""
        return bool(await self.client.xrange(self.keys.log, sid, sid, count=1))

    async def tail(self) -> str:
        """Id of the last log entry ("0-0" for an empty log)."""
        rows = await self.client.xrevrange(self.keys.log, "+", "-", count=1)
        return _s(rows[0][0]) if rows else "0-0"

    async def out_cursor(self) -> str:
        value = await self.client.get(self.keys.out_cursor)
        return "0-0" if value is None else _s(value)

    async def outputs(self, after: str, until: str, count: int) -> list[tuple[str, bytes]]:
        rows: Any = await self.client.xrange(self.keys.out, f"({after}", until, count=count)
        return [(_s(sid), fields[b"o"]) for sid, fields in rows]

    async def read_snapshot(self) -> bytes | None:
        value: Any = await self.client.get(self.keys.snap)
        return None if value is None else bytes(value)

    # ------------------------------------------------------------- owner only
    async def append_tick(self, at: float, lease: str, token: int) -> str:
        sid = await self._run(
            self._tick,
            [self.keys.log, self.keys.lease, self.keys.meta],
            [lease, self.epoch, encode_tick(at, self.node, token)],
        )
        return _s(sid)

    async def record(
        self,
        lease: str,
        token: int,
        upto: str,
        outputs: Sequence[tuple[str, list[Command], list[Record]]],
    ) -> str:
        """Record outputs of entries up to ``upto``; the new cursor."""
        args: list[Any] = [lease, self.epoch, upto]
        for sid, commands, records in outputs:
            args += [sid, encode_output(commands, records, token)]
        keys = [self.keys.out, self.keys.out_cursor, self.keys.lease, self.keys.meta]
        return _s(await self._run(self._record, keys, args))

    async def write_snapshot(self, lease: str, position: str, blob: bytes) -> bool:
        keys = [self.keys.snap, self.keys.out_cursor, self.keys.lease, self.keys.meta]
        return bool(await self._run(self._snapshot, keys, [lease, self.epoch, position, blob]))


def _check_acks(durability: Durability, acks: list[Any]) -> None:
    i = 0
    if durability.waitaof_local or durability.waitaof_replicas:
        local, replicas = (int(x) for x in acks[i])
        i += 1
        if local < durability.waitaof_local or replicas < durability.waitaof_replicas:
            raise NotDurable(
                f"WAITAOF confirmed {local} local and {replicas} replica fsyncs within "
                f"{durability.timeout_ms} ms; nothing is acknowledged (a retry is deduplicated)"
            )
    if durability.wait_replicas:
        got = int(acks[i])
        if got < durability.wait_replicas:
            raise NotDurable(
                f"WAIT confirmed {got} of {durability.wait_replicas} replicas within "
                f"{durability.timeout_ms} ms; nothing is acknowledged (a retry is deduplicated)"
            )
