"""The routing core: a sans-I/O state machine, events in, commands out.

``Router.apply(event)`` applies one adapter event and returns one ``Step``:
accepted, duplicate or refused (with its typed error), with the commands and
records it caused. ``Router.advance(now)`` fires the timers due by ``now``
(ring time-outs, wrap-up ends, handover boundaries, grace checks, reconcile
deadlines) and returns a ``Step`` too; ``next_deadline()`` says when the next
one is due. The core never reads a clock: time only arrives in events and in
``advance``. The same object runs in the live service, in recovery and replay,
in the importers and in the simulator; a logged entry is replayed with
``router.step.replay_entry``.

This module is the envelope: deduplication, clock tolerance, one check per
event, timers, forgetting what is past its retention. What each event does
lives in the parts ``Router`` is built from (see ``router._base``).

A refused event changes nothing, except that timers due by its time have
fired (they are due whatever the event says); the refused step carries what
they caused. Timers due before an accepted event's time fire first, in
deadline order, so the outcome does not depend on how often the driver calls
``advance``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from mypy_extensions import mypyc_attr

from router._base import expired
from router._contacts import ContactsMixin
from router._state import Agent, AlertState, Contact, QueueState
from router.coverage import Absence
from router.errors import (
    AlreadyAnswered,
    BadInput,
    IdempotencyConflict,
    InternalError,
    InvalidEvent,
    TimeWentBackwards,
)
from router.events import (
    AgentAway,
    AgentJoinedQueue,
    AgentLeftQueue,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentReady,
    AlertAcknowledged,
    ChatFeedback,
    ContactAbandoned,
    ContactAnswered,
    ContactArrived,
    ContactEnded,
    ContactFlagged,
    ContactMoved,
    ContactRang,
    ContactRegistered,
    ContactRingEnded,
    ContactTurnedAway,
    Event,
    OfferDeclined,
    TeamAbsent,
    event_digest,
)
from router.events_escalation import (
    EscalationClosed,
    EscalationStepTicked,
    LegalHoldAcknowledged,
)
from router.snapshot import build_snapshot
from router.step import ACCEPTED, DUPLICATE, REFUSED, TICK, Step
from router.tables import ContactState, TimerKind

__all__ = ["ROUTING_STATE_MODULES", "AlreadyAnswered", "Router"]

# The modules whose classes make up a router's state (what a snapshot holds):
# a snapshot is valid only for the code of exactly these (see
# ``adapters.store.snapshots.code_fingerprint``).
ROUTING_STATE_MODULES = (
    "router._agents",
    "router._base",
    "router._contacts",
    "router._dispatch",
    "router._escalations",
    "router._handover",
    "router._members",
    "router._observe",
    "router._offers",
    "router._registrations",
    "router._state",
    "router._timers",
    "router.checkpoint",
    "router.config",
    "router.core",
    "router.coverage",
    "router.forms",
    "router.tables",
    "router.today",
)

# Retention windows are hours long; sweeping for expired state once a minute
# (of event time, so replays sweep at the same instants) is plenty.
PURGE_EVERY_S = 60.0

_Check = Callable[[Any, Any], None]


@mypyc_attr(allow_interpreted_subclasses=True)
class Router(ContactsMixin):
    """One helpline's routing state. Not thread-safe; one driver feeds it.

    ``Router(config)`` starts empty; its clock starts at the first step.
    """

    # ------------------------------------------------------------------ API
    def apply(self, event: Event) -> Step:
        """Apply one event; one ``Step`` says what happened (see the module docstring)."""
        clock = self.now
        eid = event.event_id
        if eid in self._seen:
            return self._again(event)
        pair = _HANDLERS.get(event.__class__)
        at = event.at
        try:
            if pair is None:
                raise InvalidEvent(f"unsupported event type {type(event).__name__}")
            check, on = pair
            if clock is None:
                check(self, event)
                self._start(at)
            else:
                tolerance = self._tolerance
                if at < clock - tolerance:
                    raise TimeWentBackwards(
                        f"event {eid} at {at:.3f} is {clock - at:.3f} s before the latest "
                        f"time seen; at most {tolerance} s is tolerated",
                        field="at",
                    )
                heap = self._timers._heap
                if heap and heap[0][0] <= at and self._timers.peek() <= at:
                    # Timers due by the event's time fire first, whatever the event
                    # is: they would have fired had the driver called advance().
                    self._fire_until(at)
                    self._set_now(at)
                    check(self, event)
                else:
                    check(self, event)  # nothing is due first: refuse before anything moves
                    if at > clock:  # _set_now, inlined on the hot path
                        self.now = self._clock = at
                        if at >= self.today.end:
                            self.today.roll(at)
                        if at >= self._next_purge:
                            self._purge()
                            check(self, event)  # the sweep may have forgotten what it saw
        except BadInput as err:
            return Step(REFUSED, self._take_out(), self._take_records(), err, clock, self.now)
        now = self.now
        self._ev_at = at
        try:
            on(self, event)
        finally:
            self._ev_at = None
        # The event itself (immutable): its digest is only needed if its id comes
        # again, or for a checkpoint (``seen_digest``), so it is not computed here.
        self._seen[eid] = event
        self._seen_order.append((now, eid))  # type: ignore[arg-type]
        self._settle()
        out, records = self._out, self._records
        self._out, self._records = [], []
        return Step(ACCEPTED, out, records, None, clock, now)

    def advance(self, now: float) -> Step:
        """Fire every timer due at or before ``now``; what they caused."""
        clock = self.now
        if clock is None:
            self._start(now)
            self._settle()
        else:
            self._fire_until(now)
            self._set_now(now)
        return Step(TICK, self._take_out(), self._take_records(), None, clock, self.now)

    def is_duplicate(self, event_id: str) -> bool:
        """True if an event with this id was already accepted (within the dedup window)."""
        return event_id in self._seen

    def check_duplicate(self, event: Event) -> Step | None:
        """What ``apply`` answers for an ``event_id`` already accepted, or None if it was not.

        The same body again is a ``duplicate`` (an accepted no-op); the same id
        with another body is refused with ``IdempotencyConflict`` and the first
        body is kept, as payment APIs treat a reused idempotency key.
        """
        return self._again(event) if event.event_id in self._seen else None

    def _again(self, event: Event) -> Step:
        clock = self.now
        if self.seen_digest(event.event_id) == event_digest(event):
            return Step(DUPLICATE, [], [], None, clock, clock)
        err = IdempotencyConflict(
            f"event_id {event.event_id} was already accepted with another body; "
            "an event_id names one event: the first body is kept",
            field="event_id",
        )
        return Step(REFUSED, [], [], err, clock, clock)

    def seen_digest(self, event_id: str) -> int:
        """``event_digest`` of the body accepted under ``event_id`` (within the dedup window).

        A router restored from a checkpoint holds the digests themselves.
        """
        seen = self._seen[event_id]
        return seen if seen.__class__ is int else event_digest(seen)

    @property
    def last_command_seq(self) -> int:
        """The ``seq`` of the last command issued (0 before the first)."""
        return self._cmd_seq

    def next_deadline(self) -> float | None:
        """When ``advance`` next has something to do, or None."""
        due = self._timers.peek()
        return None if due == math.inf else due

    def snapshot(self) -> dict[str, Any]:
        """Everything a supervisor sees, as plain JSON-ready data."""
        return build_snapshot(self)

    # ------------------------------------------------------- read accessors
    def queue_states(self) -> list[QueueState]:
        return list(self._queues.values())

    def waiting_in(self, queue: QueueState) -> list[Contact]:
        """Contacts waiting or ringing in ``queue``, in arrival order."""
        return [c for c in self._waiting[queue.channel].values() if c.queue == queue.name]

    def waiting_contacts(self) -> list[Contact]:
        return [c for w in self._waiting.values() for c in w.values()]

    def agent_states(self) -> list[Agent]:
        return sorted(self._agents.values(), key=lambda a: a.id)

    def alert_states(self) -> list[AlertState]:
        return list(self._alerts.values())

    def eligible_teams(self, queue: QueueState) -> tuple[frozenset[str], str, bool]:
        """(teams that may be offered the queue's contacts, serving team, fallback active)."""
        return self._eligible(queue)

    def capacity(self, channel: str) -> int:
        return self._cap[channel]

    def absences(self) -> list[Absence]:
        return list(self._absences)

    # ----------------------------------------------------------------- time
    def _take_out(self) -> list[Any]:
        out, self._out = self._out, []
        return out

    def _take_records(self) -> list[Any]:
        out, self._records = self._records, []
        return out

    def _set_now(self, t: float) -> bool:
        """Move the clock forward to ``t``; True if that swept expired state."""
        if t > self._clock:
            self.now = self._clock = t
            if t >= self.today.end:
                self.today.roll(t)
            if t >= self._next_purge:
                self._purge()
                return True
        return False

    def _fire_until(self, t: float) -> None:
        timers = self._timers
        while True:
            due = timers.pop_due(t)
            if due is None:
                return
            deadline, kind, key = due
            self._set_now(deadline)
            self._fire(kind, key)
            self._settle()

    def _fire(self, kind: TimerKind, key: Any) -> None:
        if kind is TimerKind.RING:
            self._ring_timeout(self._contacts[key])
        elif kind is TimerKind.RETRY:
            c = self._contacts[key]
            self._want.add(c.channel)  # a cool-down ended
            self._set_retry(c)
        elif kind is TimerKind.WRAP:
            agent_id, ch = key
            a = self._agents[agent_id]
            chs = a.channels.get(ch)
            if chs is not None and chs.wrap_until is not None:
                chs.wrap_until = None
                chs.idle_since = self._clock
                self._refresh(a, ch)
        elif kind is TimerKind.HANDOVER:
            self._refresh_segment(self._queues[key])
        elif kind is TimerKind.GRACE:
            pass  # _settle() opens the gap once its time has come
        elif kind is TimerKind.RECONCILE:
            self._reconcile(self._contacts[key])
        elif kind is TimerKind.LONG_WAIT:
            self._long_wait(self._contacts[key])
        elif kind is TimerKind.ESCALATE:
            self._escalate(key)
        else:  # pragma: no cover - a timer kind we never set
            raise InternalError(f"unknown timer kind {kind!r}")

    def _purge(self) -> None:
        """Forget what is past every retention window; at most once a minute of event time."""
        now = self._clock
        self._next_purge = now + PURGE_EVERY_S
        horizon = now - self._dedup_s
        forget = self._seen.pop
        for eid in expired(self._seen_order, horizon):
            forget(eid, None)
        horizon = now - self._retention_s
        contacts, gone = self._contacts, ContactState.ENDED
        for cid in expired(self._ended, horizon):
            c = contacts.get(cid)
            if c is not None and c.state is gone:
                del contacts[cid]
        for alert_id in expired(self._closed_alerts, horizon):
            self._alerts.pop(alert_id, None)
        if self._absences:
            self._absences = [a for a in self._absences if a.end > now - 86400.0]
        self._purge_escalations(horizon)
        self._purge_answered(now)


# Per event class: (check, apply). The check raises before anything changes.
_HANDLERS: dict[type[Event], tuple[_Check, _Check]] = {
    ContactArrived: (Router._check_arrived, Router._on_arrived),
    ContactAnswered: (Router._check_answered, Router._on_answered_noted),
    ContactAbandoned: (Router._check_abandoned, Router._on_abandoned),
    ContactEnded: (Router._check_ended, Router._on_ended),
    OfferDeclined: (Router._check_declined, Router._on_declined),
    AgentLoggedIn: (Router._check_logged_in, Router._on_logged_in),
    AgentLoggedOut: (Router._check_logged_out, Router._on_logged_out),
    AgentReady: (Router._check_ready, Router._on_ready),
    AgentAway: (Router._check_away, Router._on_away),
    ChatFeedback: (Router._check_feedback, Router._on_feedback),
    ContactFlagged: (Router._check_flagged, Router._on_flag),
    TeamAbsent: (Router._check_absent, Router._on_absent),
    AlertAcknowledged: (Router._check_ack, Router._on_alert_ack),
    EscalationStepTicked: (Router._check_tick, Router._on_tick),
    EscalationClosed: (Router._check_close, Router._on_close),
    LegalHoldAcknowledged: (Router._check_hold_ack, Router._on_hold_ack),
    ContactRang: (Router._check_rang, Router._on_rang),
    ContactRingEnded: (Router._check_ring_ended, Router._on_ring_ended),
    ContactMoved: (Router._check_moved, Router._on_moved),
    ContactTurnedAway: (Router._check_turned_away, Router._on_turned_away),
    AgentJoinedQueue: (Router._check_member_event, Router._on_joined_queue),
    AgentLeftQueue: (Router._check_member_event, Router._on_left_queue),
    ContactRegistered: (Router._check_registered, Router._on_registered),
}
