"""The one step API: what applying an event, or moving the clock, did.

Every driver (the embedded and Redis engines, recovery, what-if replay, the
importers, the simulator, ``router.testing``) feeds the core through
``Router.apply(event)`` and ``Router.advance(now)`` and reads a ``Step`` back;
a logged entry is replayed through ``replay_step`` (decoded: the what-if
replay) or ``replay_entry`` (a raw dict: recovery). There is no second copy
of "apply an event" anywhere.

A step is one of:

* ``accepted``: the event was applied; ``commands`` and ``records`` are what it
  (and the timers that fell due before its time) caused;
* ``duplicate``: an ``event_id`` already accepted within the dedup window;
  nothing changed, nothing is returned;
* ``refused``: the event was refused with ``error`` and changed nothing, but
  timers that fell due before its time still fired (they were due whatever
  the event said): ``commands`` and ``records`` are what they caused, and a
  durable driver logs them as a tick at ``clock_after``;
* ``tick``: ``advance(now)`` fired the timers due by ``now``.

``clock`` is the core's clock just before the step (``None`` before the first
step); the embedded log stores it with each event so that replay applies an
event that arrived behind the clock at the same instant as it was live.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol

from router.commands import Command
from router.errors import BadInput
from router.events import event_from_dict
from router.records import Record

if TYPE_CHECKING:  # pragma: no cover - typing only
    from router.events import Event

__all__ = [
    "ACCEPTED",
    "DUPLICATE",
    "REFUSED",
    "TICK",
    "Step",
    "Stepper",
    "collector_paused",
    "replay_entry",
    "replay_step",
]

ACCEPTED: Final = "accepted"
DUPLICATE: Final = "duplicate"
REFUSED: Final = "refused"
TICK: Final = "tick"


# init=False: the constructor below is compiled by the native build (docs/PERFORMANCE.md),
# where dataclass's generated one would stay interpreted; eq and repr come from dataclass.
@dataclass(slots=True, init=False)
class Step:
    """The result of one ``apply`` or ``advance``."""

    status: str
    commands: list[Command] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    error: BadInput | None = None
    clock: float | None = None  # the core's clock before the step
    clock_after: float | None = None  # the core's clock after it

    def __init__(  # noqa: PLR0917 - the dataclass's positional signature, kept
        self,
        status: str,
        commands: list[Command] | None = None,
        records: list[Record] | None = None,
        error: BadInput | None = None,
        clock: float | None = None,
        clock_after: float | None = None,
    ) -> None:
        self.status = status
        self.commands = [] if commands is None else commands
        self.records = [] if records is None else records
        self.error = error
        self.clock = clock
        self.clock_after = clock_after

    @property
    def accepted(self) -> bool:
        return self.status == ACCEPTED

    @property
    def produced(self) -> bool:
        """True if the step issued commands or records (worth logging for a tick)."""
        return bool(self.commands or self.records)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run a long batch of steps (recovery's replay, a simulation) with Python's cycle
    collector paused, restoring it after.

    The core's objects form no reference cycles (``tests/test_core_no_cycles.py``):
    everything it drops is freed by reference counting at once, so the collector's
    passes over a heap that grows with the batch (the records kept, the contacts
    within their retention) find nothing and cost a quarter of a long simulation.
    A driver that creates cycles of its own must not use this.

    On the way out, what the batch made goes straight to the oldest generation
    (``gc.freeze()`` then ``gc.unfreeze()``: two list moves). Otherwise the first
    collection after the pause walks every object the batch kept, once, because
    they all count as young: 0.2 s after a simulation of 200k callers. Cyclic
    garbage among them is still found by the next full collection. Skipped when
    something else has frozen objects (``linje serve`` freezes its start-up heap),
    whose frozen objects must stay frozen.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            if gc.get_freeze_count() == 0:
                gc.freeze()
                gc.unfreeze()
            gc.enable()


class Stepper(Protocol):
    """What ``replay_entry`` needs of a router (``router.core.Router`` is one)."""

    @property
    def now(self) -> float | None: ...

    def apply(self, event: Event) -> Step: ...

    def advance(self, now: float) -> Step: ...

    def next_deadline(self) -> float | None: ...


def replay_step(
    router: Stepper, kind: str, at: float | None, event: Event | None, *, to_clock: bool = True
) -> Step:
    """Apply one logged entry, already decoded: ``kind`` "event" or "tick".

    A tick advances to its ``at``. An event is applied with ``Router.apply``;
    with ``to_clock`` (the embedded log, which stores the clock just before
    each event as ``at``) the clock is first advanced to ``at`` so an event
    behind the clock is applied exactly as it was live. The Redis input log
    stores no clock beside its events (``to_clock=False``). The commands and
    records of that advance are part of the returned step. An advance that has
    nothing to do (the clock is already at ``at`` and no timer is due by then)
    is skipped: it would fire nothing and move nothing.
    """
    if kind == TICK:
        assert at is not None, "a tick entry has a time"
        return router.advance(float(at))
    assert event is not None, "an event entry has an event"
    pre: Step | None = None
    now = router.now
    if to_clock and now is not None and at is not None:
        at = float(at)
        if at > now or ((due := router.next_deadline()) is not None and due <= at):
            pre = router.advance(at)
    step = router.apply(event)
    if pre is not None:
        step.commands[:0] = pre.commands
        step.records[:0] = pre.records
        step.clock = pre.clock
    return step


def replay_entry(
    router: Stepper, raw: dict[str, Any], *, to_clock: bool = True, trusted: bool = False
) -> Step:
    """Apply one raw logged entry (``{"k": "event" | "tick", "at": ..., "event": {...}}``).

    Decodes the event (``InvalidEvent`` if it does not decode) and replays it
    with ``replay_step``. ``trusted`` (the embedded store's recovery: every
    entry was validated before it was logged and its CRC proves it unchanged)
    decodes the event without re-running its value checks; its shape (type,
    field names) is still checked.
    """
    event = event_from_dict(raw["event"], trusted=trusted) if raw["k"] != TICK else None
    return replay_step(router, raw["k"], raw.get("at"), event, to_clock=to_clock)
