"""The fold: one helpline's ``Router`` rebuilt from the Redis log, entry by entry.

Every node folds the same totally ordered stream with the same code and
configuration, so every node's router is the same function of the log prefix
it has read: the owner's, the standbys' (warm state), and a node started from
a snapshot. That is what lets any node answer an event with the commands it
caused, and a standby take over without a rebuild. No I/O here.

Applying an entry mirrors the embedded store (``EmbeddedStore.stage``):

* ``event``: ``router.step.replay_step`` without moving the clock first (the
  input log stores no clock beside events), i.e. ``Router.apply``: a duplicate
  ``event_id`` (within the core's window) is answered "duplicate" and changes
  nothing; a refused event changes nothing in the core but the timers that
  fell due before it fired, and what they caused is that entry's outputs,
  exactly as the embedded store logs them;
* ``tick``: ``Router.advance(at)``; a tick behind the core's clock is a no-op.

The fold keeps what the live service reads: every record (statistics), the
latest ``RECENT_COMMANDS`` commands (command-stream resume), and the outputs
not yet known to be recorded in Redis (an owner records them; a standby keeps
them until the owner has, so that it can record them itself if it takes over).
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from adapters.cluster.codec import decode_input
from adapters.store.embedded import IngestResult
from adapters.store.errors import CorruptLog
from adapters.store.recovery import RECENT_COMMANDS
from router.commands import Command, command_to_dict
from router.core import Router
from router.errors import LinjeError
from router.events import event_from_dict
from router.records import Record
from router.step import DUPLICATE, REFUSED, replay_step

__all__ = ["Applied", "CursorTooOld", "Fold", "PoisonEntry", "id_after"]

log = logging.getLogger("linje.cluster")


class PoisonEntry(LinjeError):
    """The core raised an internal error on this entry: the fold is no longer usable.

    Every node raises it on the same entry (the core is deterministic); each then
    rebuilds its fold skipping that entry (``Fold(skip=...)``), so one event that
    trips a bug in the core cannot stop the helpline for good.
    """

    status = 500
    code = "internal"

    def __init__(self, sid: str, cause: BaseException) -> None:
        super().__init__(f"log entry {sid} tripped an internal error in the core: {cause!r}")
        self.sid = sid
        self.cause = cause


class CursorTooOld(LinjeError):
    """The cursor is older than the commands this node holds in memory."""

    status = 410
    code = "cursor-too-old"


def _id(sid: str) -> tuple[int, int]:
    ms, _, seq = sid.partition("-")
    return int(ms), int(seq or 0)


def id_after(a: str, b: str) -> bool:
    """True if stream id ``a`` comes after ``b``."""
    return _id(a) > _id(b)


@dataclass(slots=True)
class Applied:
    """What one log entry did to the fold."""

    sid: str
    ordinal: int
    kind: str  # "event" or "tick"
    node: str | None  # the node that appended it
    result: IngestResult | None  # events only
    commands: list[Command] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)


class Fold:
    """A router at a log position, plus what the service reads from its history."""

    def __init__(
        self,
        router: Router,
        *,
        position: str = "0-0",
        ordinal: int = 0,
        records: list[Record] | None = None,
        recent: list[dict[str, Any]] | None = None,
        recent_complete: bool = True,
        skip: set[str] | None = None,
    ) -> None:
        self.router = router
        self.skip = skip if skip is not None else set()
        self.broken: str | None = None
        self.position = position
        self.ordinal = ordinal
        self.records: list[Record] = records if records is not None else []
        self.recent: deque[dict[str, Any]] = deque(recent or (), maxlen=RECENT_COMMANDS)
        # True when ``recent`` holds every command ever issued (nothing evicted or skipped).
        self.recent_complete = recent_complete
        # Outputs after the last cursor known to be recorded in Redis.
        self.unrecorded: deque[tuple[str, list[Command], list[Record]]] = deque()
        self.recorded = position
        self.skipped = 0

    # ------------------------------------------------------------- applying
    def apply(self, sid: str, payload: bytes) -> Applied:
        """Apply one entry of the log (ids must come in log order)."""
        if self.broken is not None:
            raise PoisonEntry(self.broken, RuntimeError("the fold is broken"))
        if not id_after(sid, self.position):
            raise CorruptLog(f"log entry {sid} is not after {self.position}: read out of order")
        self.position = sid
        self.ordinal += 1
        if sid in self.skip:
            self.skipped += 1
            return Applied(sid, self.ordinal, "event", None, None)
        try:
            raw = decode_input(sid, payload)
            applied = self._apply(sid, raw)
        except CorruptLog as exc:
            # Every node skips the same entry the same way: the fold stays shared.
            log.error("cluster: skipped an unreadable log entry: %s", exc.detail)
            self.skipped += 1
            return Applied(sid, self.ordinal, "event", None, None)
        except LinjeError:
            raise
        except Exception as exc:  # a bug in the core, half-way through the entry
            self.broken = sid
            raise PoisonEntry(sid, exc) from exc
        if applied.commands or applied.records:
            self.records.extend(applied.records)
            dicts = [command_to_dict(c) for c in applied.commands]
            if len(self.recent) + len(dicts) > RECENT_COMMANDS:
                self.recent_complete = False
            self.recent.extend(dicts)
            self.unrecorded.append((sid, applied.commands, applied.records))
        return applied

    def _apply(self, sid: str, raw: dict[str, Any]) -> Applied:
        node = raw.get("n") if isinstance(raw.get("n"), str) else None
        event = None
        if raw["k"] == "event":
            try:
                event = event_from_dict(raw["event"])
            except (KeyError, TypeError, ValueError, LinjeError) as exc:
                raise CorruptLog(f"log entry {sid} does not decode: {exc!r}") from None
        step = replay_step(self.router, raw["k"], raw.get("at"), event, to_clock=False)
        if event is None:
            return Applied(sid, self.ordinal, "tick", node, None, step.commands, step.records)
        if step.status == DUPLICATE:
            result = IngestResult(event.event_id, "duplicate")
        elif step.status == REFUSED:
            # Timers that fell due before the refused event's time still fired:
            # they are this entry's outputs, as the embedded store logs them.
            result = IngestResult(
                event.event_id, "rejected", commands=step.commands, error=step.error
            )
        else:
            result = IngestResult(
                event.event_id, "accepted", commands=step.commands, seq=self.ordinal
            )
        return Applied(sid, self.ordinal, "event", node, result, step.commands, step.records)

    # ------------------------------------------------------------- outputs
    def mark_recorded(self, cursor: str) -> None:
        """Outputs up to ``cursor`` are in Redis: forget them here."""
        if id_after(cursor, self.recorded):
            self.recorded = cursor
        while self.unrecorded and not id_after(self.unrecorded[0][0], self.recorded):
            self.unrecorded.popleft()

    def pending(self, limit: int) -> list[tuple[str, list[Command], list[Record]]]:
        """Up to ``limit`` unrecorded outputs, oldest first."""
        return [self.unrecorded[i] for i in range(min(limit, len(self.unrecorded)))]

    # ------------------------------------------------------------- reading
    def commands_since(self, cursor: int) -> list[dict[str, Any]]:
        """Commands with ``seq`` > ``cursor``, in order, from memory."""
        recent = self.recent
        held = self.recent_complete or (recent and recent[0]["seq"] <= cursor + 1)
        if not held and (recent or cursor < self.router.last_command_seq):
            oldest = recent[0]["seq"] if recent else self.router.last_command_seq + 1
            raise CursorTooOld(
                f"cursor {cursor} is older than the commands this node holds "
                f"(oldest seq {oldest}); resume from seq {oldest - 1} or later",
                field="cursor",
            )
        out: list[dict[str, Any]] = []
        for c in reversed(recent):
            if c["seq"] <= cursor:
                break
            out.append(c)
        out.reverse()
        return out
