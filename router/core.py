"""The routing core: a sans-I/O state machine, events in, commands out.

``Router.handle(event)`` applies one adapter event and returns the commands it
causes; ``Router.advance(now)`` fires the timers due by ``now`` (ring
timeouts, wrap-up ends, handover boundaries, grace checks, reconcile
deadlines); ``next_deadline()`` says when the next one is due. The core never
reads a clock: time only arrives in events and in ``advance``. The same object
runs in the live service, in replay and in the simulator.

An event that is refused raises a ``RoutingError`` (or ``InvalidEvent``) before
anything changes. Timers due before an accepted event's time fire first, in
deadline order, so the outcome does not depend on how often the driver calls
``advance``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Any

from router._state import Agent, AgentChannel, AlertState, Contact, GapState, QueueState
from router._transitions import (
    AGENT_REFUSALS,
    AGENT_TRANSITIONS,
    CONTACT_REFUSALS,
    CONTACT_TRANSITIONS,
    ContactState,
    Presence,
)
from router.commands import Alert, CancelOffer, Command, Offer, Reject
from router.config import CLOSED, HelplineConfig
from router.coverage import Absence, CoveragePlan
from router.errors import (
    AgentBusy,
    AlreadyLoggedIn,
    BadInput,
    InternalError,
    InvalidEvent,
    InvalidTransition,
    NotOffered,
    RoutingError,
    TimeWentBackwards,
    UnknownAgent,
    UnknownAlert,
    UnknownContact,
    UnknownName,
)
from router.events import (
    AgentAway,
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
    Event,
    OfferDeclined,
    TeamAbsent,
)
from router.records import (
    ContactRecord,
    FeedbackRecord,
    FlagRecord,
    GapRecord,
    NoAnswerRecord,
    Record,
)
from router.step import ACCEPTED, DUPLICATE, REFUSED, TICK, Step
from router.today import Today

__all__ = ["AlreadyAnswered", "Router"]

W, OF, S, E = (
    ContactState.WAITING,
    ContactState.OFFERED,
    ContactState.IN_SERVICE,
    ContactState.ENDED,
)


# Retention windows are hours long; sweeping for expired state once a minute
# (of event time, so replays sweep at the same instants) is plenty.
PURGE_EVERY_S = 60.0
# Closed alerts nobody acknowledged stay on the supervisor's screen this long.
RECENT_ALERT_S = 3600.0


class AlreadyAnswered(RoutingError):
    code = "already-answered"


class Router:
    """One helpline's routing state. Not thread-safe; one driver feeds it."""

    def __init__(self, config: HelplineConfig) -> None:
        self.config = config
        self.plan = CoveragePlan(config)
        self.now: float | None = None
        self._policy = config.agents
        self._cap: dict[str, int] = {ch: c.capacity for ch, c in config.channels.items()}
        self._ring: dict[str, float] = {ch: c.ring_timeout_s for ch, c in config.channels.items()}
        self._wrap: dict[str, float] = {ch: c.wrap_up_s for ch, c in config.channels.items()}
        self._queues: dict[str, QueueState] = {}
        self._contacts: dict[str, Contact] = {}
        self._agents: dict[str, Agent] = {}
        # channel -> agents logged in on it, in login order
        self._on: dict[str, dict[str, Agent]] = {ch: {} for ch in config.channels}
        # channel -> contacts waiting or ringing, FIFO by arrival
        self._waiting: dict[str, dict[str, Contact]] = {ch: {} for ch in config.channels}
        self._qwaiting: dict[str, int] = dict.fromkeys(config.queues, 0)
        # (team, channel) -> agents logged in
        self._logged: dict[tuple[str, str], int] = {}
        self._absences: list[Absence] = []
        self._alerts: dict[str, AlertState] = {}
        self._seen: dict[str, float] = {}
        self._seen_order: deque[tuple[float, str]] = deque()
        self._ended: deque[tuple[float, str]] = deque()
        self._next_purge = -math.inf
        self._ev_at: float | None = None  # the applied event's own time (see _fact)
        self._closed_alerts: deque[tuple[float, str]] = deque()
        # Bumped on every change to an agent or a queue's owner; views computed
        # from agents (census, "nobody free") are cached against it.
        self._gen = 0
        self._census_cache: dict[str, tuple[int, tuple[int, int, int]]] = {}
        self._no_free: dict[str, int] = {}
        from router._timers import Timers

        self._timers = Timers()
        self._out: list[Command] = []
        self._records: list[Record] = []
        self._cmd_seq = 0
        self._contact_seq = 0
        self._agent_seq = 0
        self._alert_seq = 0
        self.arrived_total = 0
        self.ended_total = 0
        self.today = Today(self.plan, config)
        self._handlers: dict[type[Event], tuple[Callable[[Any], None], Callable[[Any], None]]] = {
            ContactArrived: (self._check_arrived, self._on_arrived),
            ContactAnswered: (self._check_answered, self._on_answered),
            ContactAbandoned: (self._check_abandoned, self._on_abandoned),
            ContactEnded: (self._check_ended, self._on_ended),
            OfferDeclined: (self._check_declined, self._on_declined),
            AgentLoggedIn: (self._check_logged_in, self._on_logged_in),
            AgentLoggedOut: (self._check_logged_out, self._on_logged_out),
            AgentReady: (self._check_ready, self._on_ready),
            AgentAway: (self._check_away, self._on_away),
            ChatFeedback: (self._check_contact_note, self._on_feedback),
            ContactFlagged: (self._check_contact_note, self._on_flagged),
            TeamAbsent: (self._check_absent, self._on_absent),
            AlertAcknowledged: (self._check_ack, self._on_ack),
        }

    # ------------------------------------------------------------------ API
    def is_duplicate(self, event_id: str) -> bool:
        """True if an event with this id was already accepted (within the dedup window)."""
        return event_id in self._seen

    def handle(self, event: Event) -> list[Command]:
        """Apply one event; return the commands it (and timers due before it) caused.

        A duplicate ``event_id`` is an accepted no-op and returns ``[]``. A
        refused event raises and changes nothing, except that timers due by its
        time have fired (they are due whatever the event says); what they caused
        is returned by the next ``handle`` or ``advance`` call.
        """
        if event.event_id in self._seen:
            return []
        pair = self._handlers.get(type(event))
        if pair is None:
            raise InvalidEvent(f"unsupported event type {type(event).__name__}")
        check, apply = pair
        tolerance = self.config.clock_tolerance_s
        if self.now is not None and event.at < self.now - tolerance:
            raise TimeWentBackwards(
                f"event {event.event_id} at {event.at:.3f} is {self.now - event.at:.3f} s "
                f"before the latest time seen; at most {tolerance} s is tolerated",
                field="at",
            )
        if self.now is None:
            check(event)
            self._start(event.at)
        else:
            due = self._timers.next_deadline()
            if due is None or due > event.at:
                check(event)  # nothing is due first: refuse before anything moves
            # Timers due by the event's time fire first, whatever the event is:
            # they would have fired had the driver called advance() just before.
            self._fire_until(event.at)
            self._set_now(event.at)
            check(event)
        self._ev_at = event.at
        try:
            apply(event)
        finally:
            self._ev_at = None
        self._seen[event.event_id] = self.now  # type: ignore[assignment]
        self._seen_order.append((self.now, event.event_id))  # type: ignore[arg-type]
        self._settle()
        out, self._out = self._out, []
        return out

    def apply(self, event: Event) -> Step:
        """Apply one event: accepted, duplicate or refused, with what it caused (``Step``)."""
        clock = self.now
        if event.event_id in self._seen:
            return Step(DUPLICATE, clock=clock, clock_after=clock)
        try:
            commands = self.handle(event)
        except BadInput as err:
            out, self._out = self._out, []
            return Step(REFUSED, out, self.take_records(), err, clock, self.now)
        return Step(ACCEPTED, commands, self.take_records(), None, clock, self.now)

    def advance(self, now: float) -> Step:
        """Fire every timer due at or before ``now``; what they caused."""
        clock = self.now
        if self.now is None:
            self._start(now)
            self._settle()
        else:
            self._fire_until(now)
            self._set_now(now)
        out, self._out = self._out, []
        return Step(TICK, out, self.take_records(), None, clock, self.now)

    @property
    def last_command_seq(self) -> int:
        """The ``seq`` of the last command issued (0 before the first)."""
        return self._cmd_seq

    def next_deadline(self) -> float | None:
        """When ``advance`` next has something to do, or None."""
        return self._timers.next_deadline()

    def take_records(self) -> list[Record]:
        """Records produced since the last call (contacts ended, gaps, feedback...)."""
        out, self._records = self._records, []
        return out

    # ----------------------------------------------------------------- time
    def _start(self, t: float) -> None:
        self.now = t
        self.today.roll(t)
        for name, q in self.config.queues.items():
            seg = self.plan.segment(name, t, self._absences)
            self._queues[name] = QueueState(
                name=name,
                channel=q.channel,
                strategy=q.effective_strategy,
                segment=seg,
                last_team=seg.owner,
            )
            self._timers.set(seg.end, "handover", name)
            if seg.owner != CLOSED:
                self._timers.set(max(t, seg.start + q.grace_min * 60), "grace", name)

    def _set_now(self, t: float) -> None:
        assert self.now is not None
        if t > self.now:
            self.now = t
            self.today.roll(t)
            if t >= self._next_purge:
                self._purge()

    def _fire_until(self, t: float) -> None:
        while True:
            due = self._timers.pop_due(t)
            if due is None:
                return
            deadline, kind, key = due
            self._set_now(deadline)
            self._fire(kind, key)
            self._settle()

    def _fire(self, kind: str, key: Any) -> None:
        if kind == "ring":
            self._ring_timeout(self._contacts[key])
        elif kind == "retry":
            self._set_retry(self._contacts[key])
        elif kind == "wrap":
            agent_id, ch = key
            chs = self._agents[agent_id].channels.get(ch)
            if chs is not None and chs.wrap_until is not None:
                chs.wrap_until = None
                chs.idle_since = self._t
                self._touch(chs)
        elif kind == "handover":
            self._refresh_segment(self._queues[key])
        elif kind == "grace":
            pass  # _settle() checks gaps
        elif kind == "reconcile":
            self._reconcile(self._contacts[key])
        elif kind == "long_wait":
            self._long_wait(self._contacts[key])
        else:  # pragma: no cover - a timer kind we never set
            raise InternalError(f"unknown timer kind {kind!r}")

    @property
    def _t(self) -> float:
        assert self.now is not None
        return self.now

    @property
    def _fact(self) -> float:
        """The time to record as when something happened: the event's own time.

        The clock only moves forward, but an event up to ``clock_tolerance_s``
        late (another adapter's clock, a redelivery) still happened at its own
        time; waits and handle times use it, so figures do not depend on which
        adapter's event reached the core first.
        """
        return self._ev_at if self._ev_at is not None else self._t

    def _purge(self) -> None:
        """Forget what is past every retention window; at most once a minute of event time."""
        now = self._t
        if now < self._next_purge:
            return
        self._next_purge = now + PURGE_EVERY_S
        horizon = now - self.config.dedup_window_s
        while self._seen_order and self._seen_order[0][0] < horizon:
            _, eid = self._seen_order.popleft()
            self._seen.pop(eid, None)
        horizon = now - self.config.ended_retention_s
        while self._ended and self._ended[0][0] < horizon:
            _, cid = self._ended.popleft()
            c = self._contacts.get(cid)
            if c is not None and c.state is E:
                del self._contacts[cid]
        while self._closed_alerts and self._closed_alerts[0][0] < horizon:
            _, alert_id = self._closed_alerts.popleft()
            self._alerts.pop(alert_id, None)
        self._absences = [a for a in self._absences if a.end > now - 86400.0]

    # ------------------------------------------------------------- commands
    def _emit(self, cmd_type: type[Command], **fields: Any) -> None:
        self._cmd_seq += 1
        self._out.append(cmd_type(seq=self._cmd_seq, at=self._t, **fields))

    def _alert(self, kind: str, details: dict[str, Any]) -> str:
        self._alert_seq += 1
        alert_id = f"{kind}-{self._alert_seq}"
        self._alerts[alert_id] = AlertState(
            id=alert_id, kind=kind, raised_at=self._t, details=details
        )
        self._emit(Alert, alert_id=alert_id, kind=kind, details=details)
        return alert_id

    def _close_alert(self, alert_id: str | None) -> None:
        if alert_id is not None and alert_id in self._alerts:
            alert = self._alerts[alert_id]
            if alert.open:
                alert.open = False
                alert.closed_at = self._t
                self._closed_alerts.append((self._t, alert_id))

    def _record(self, record: Record) -> None:
        self._records.append(record)
        self.today.add(record)

    # ---------------------------------------------------------- transitions
    @staticmethod
    def _contact_next(c: Contact, trigger: str) -> ContactState | None:
        key = (c.state, trigger)
        if key in CONTACT_TRANSITIONS:
            return CONTACT_TRANSITIONS[key]
        err = CONTACT_REFUSALS.get(key, InvalidTransition)
        raise err(f"{trigger} is not allowed for contact {c.id} in state {c.state.value}")

    @staticmethod
    def _agent_next(a: Agent, trigger: str) -> Presence | None:
        key = (a.presence, trigger)
        if key in AGENT_TRANSITIONS:
            return AGENT_TRANSITIONS[key]
        err = AGENT_REFUSALS.get(key, InvalidTransition)
        raise err(f"{trigger} is not allowed for agent {a.id} ({a.presence.value})")

    # ----------------------------------------------------------- look-ups
    def _contact(self, contact_id: str) -> Contact:
        c = self._contacts.get(contact_id)
        if c is None:
            raise UnknownContact(f"unknown contact {contact_id!r}", field="contact_id")
        return c

    def _agent(self, agent_id: str) -> Agent:
        a = self._agents.get(agent_id)
        if a is None:
            raise UnknownAgent(f"unknown agent {agent_id!r}", field="agent_id")
        return a

    # ---------------------------------------------------------- contacts
    def _check_arrived(self, ev: ContactArrived) -> None:
        q = self.config.queues.get(ev.queue)
        if q is None:
            raise UnknownName(f"unknown queue {ev.queue!r}", field="queue")
        if q.channel != ev.channel:
            raise InvalidEvent(
                f"queue {ev.queue!r} takes {q.channel} contacts, not {ev.channel}",
                field="channel",
            )
        if ev.contact_id in self._contacts:
            raise RoutingError(
                f"contact {ev.contact_id!r} already exists; contact ids must be unique",
                field="contact_id",
            )

    def _on_arrived(self, ev: ContactArrived) -> None:
        now = self._fact
        q = self._queues[ev.queue]
        self._contact_seq += 1
        self.arrived_total += 1
        self.today.arrived(ev.channel)
        owner = q.segment.owner
        c = Contact(
            id=ev.contact_id,
            channel=ev.channel,
            queue=ev.queue,
            arrived_at=now,
            seq=self._contact_seq,
            team=owner,
        )
        self._contacts[c.id] = c
        if owner == CLOSED:
            c.state = E
            c.ended_at = now
            self.ended_total += 1
            self._ended.append((now, c.id))
            self._emit(Reject, contact_id=c.id, reason="closed")
            self._record(
                ContactRecord(
                    contact_id=c.id,
                    channel=c.channel,
                    queue=c.queue,
                    team=CLOSED,
                    arrived_at=now,
                    ended_at=now,
                    outcome="rejected_closed",
                )
            )
            return
        self._waiting[c.channel][c.id] = c
        self._qwaiting[c.queue] += 1
        logged, busy, _ = self._census(q)
        c.logged_in_at_arrival, c.busy_at_arrival = logged, busy
        cfg = self.config.queues[c.queue]
        self._timers.set(now + self.config.reconcile_wait_s, "reconcile", c.id)
        self._timers.set(now + cfg.long_wait_s, "long_wait", c.id)

    def _check_answered(self, ev: ContactAnswered) -> None:
        c = self._contact(ev.contact_id)
        a = self._agent(ev.agent_id)
        if c.state is E:
            self._contact_next(c, "contact.answered")  # raises ContactAlreadyEnded
        if c.state is S:
            if c.agent_id != a.id:
                raise AlreadyAnswered(
                    f"contact {c.id} was already answered by {c.agent_id}", field="agent_id"
                )
            return  # the same pick-up reported twice: no-op
        chs = a.channels.get(c.channel)
        if chs is None:
            raise InvalidTransition(
                f"agent {a.id} is not logged in on {c.channel}", field="agent_id"
            )
        if a.id in c.ringing:
            return
        lapsed = c.lapsed.get(a.id)
        if (
            lapsed is not None
            and self._t_or(ev.at) - lapsed <= self._policy.late_answer_s
            and len(chs.active) < self._cap[c.channel]
        ):
            return  # picked up just as the router timed the ring out
        raise NotOffered(
            f"contact {c.id} is not ringing agent {a.id}; only an offered agent can answer",
            field="agent_id",
        )

    def _t_or(self, at: float) -> float:
        return at if self.now is None else max(self.now, at)

    def _on_answered(self, ev: ContactAnswered) -> None:
        c = self._contacts[ev.contact_id]
        if c.state is S:
            return
        a = self._agents[ev.agent_id]
        chs = a.channels[c.channel]
        now = max(self._fact, c.arrived_at)
        others = sorted(x for x in c.ringing if x != a.id)
        for x in list(c.ringing):
            self._unring(c, x)
        if others:
            self._emit(CancelOffer, contact_id=c.id, agent_ids=tuple(others))
        c.state = S
        c.agent_id = a.id
        c.answered_at = now
        self._leave_queue(c)
        chs.active[c.id] = None
        a.no_answer_streak = 0
        # A late pick-up may have come while this phone rang for someone else.
        while len(chs.active) + len(chs.offered) > self._cap[c.channel]:
            extra = next(reversed(chs.offered))
            other = self._contacts[extra]
            self._unring(other, a.id)
            self._emit(CancelOffer, contact_id=extra, agent_ids=(a.id,))
            self._after_unring(other)
        self._touch(chs)
        self._timers.set(now + self.config.reconcile_service_s, "reconcile", c.id)
        self._close_alert(c.long_wait_alert)
        self.today.answered(c.channel, now - c.arrived_at)

    def _check_abandoned(self, ev: ContactAbandoned) -> None:
        self._contact_next(self._contact(ev.contact_id), "contact.abandoned")

    def _on_abandoned(self, ev: ContactAbandoned) -> None:
        c = self._contacts[ev.contact_id]
        if c.state is S:
            self._complete(c)
        else:
            self._end_unanswered(c)

    def _check_ended(self, ev: ContactEnded) -> None:
        self._contact_next(self._contact(ev.contact_id), "contact.ended")

    def _on_ended(self, ev: ContactEnded) -> None:
        c = self._contacts[ev.contact_id]
        if c.state is E:
            return
        if c.state is S:
            self._complete(c)
        else:
            self._end_unanswered(c)

    def _check_declined(self, ev: OfferDeclined) -> None:
        c = self._contact(ev.contact_id)
        a = self._agent(ev.agent_id)
        if c.state is E:
            self._contact_next(c, "offer.declined")
        if a.id not in c.ringing:
            raise NotOffered(f"contact {c.id} is not ringing agent {a.id}", field="agent_id")

    def _on_declined(self, ev: OfferDeclined) -> None:
        c = self._contacts[ev.contact_id]
        a = self._agents[ev.agent_id]
        self._unring(c, a.id)
        self._emit(CancelOffer, contact_id=c.id, agent_ids=(a.id,))
        self._record(
            NoAnswerRecord(
                agent_id=a.id,
                team=a.team,
                channel=c.channel,
                contact_id=c.id,
                at=self._t,
                declined=True,
            )
        )
        c.cooldown[a.id] = self._t + self._policy.retry_s
        self._after_unring(c)
        self._set_retry(c)

    def _check_contact_note(self, ev: ChatFeedback | ContactFlagged) -> None:
        c = self._contact(ev.contact_id)
        self._contact_next(c, ev.type)

    def _on_feedback(self, ev: ChatFeedback) -> None:
        c = self._contacts[ev.contact_id]
        team = self._agents[c.agent_id].team if c.agent_id else c.team
        self._record(
            FeedbackRecord(
                contact_id=c.id, channel=c.channel, team=team, at=self._fact, rating=ev.rating
            )
        )

    def _on_flagged(self, ev: ContactFlagged) -> None:
        c = self._contacts[ev.contact_id]
        if ev.flag not in c.flags:
            c.flags.append(ev.flag)
        self._record(FlagRecord(contact_id=c.id, at=self._fact, flag=ev.flag))

    # ------------------------------------------------------ contact ends
    def _leave_queue(self, c: Contact) -> None:
        if self._waiting[c.channel].pop(c.id, None) is not None:
            self._qwaiting[c.queue] -= 1
        for kind in ("ring", "retry", "long_wait"):
            self._timers.cancel(kind, c.id)

    def _finish(self, c: Contact, ended_at: float) -> None:
        c.state = E
        c.ended_at = ended_at
        self.ended_total += 1
        self._ended.append((self._t, c.id))
        self._timers.cancel("reconcile", c.id)
        self._close_alert(c.long_wait_alert)

    def _end_unanswered(self, c: Contact, *, missing: bool = False) -> None:
        now = max(self._fact, c.arrived_at)
        if c.ringing:
            ids = tuple(sorted(c.ringing))
            for x in ids:
                self._unring(c, x)
            self._emit(CancelOffer, contact_id=c.id, agent_ids=ids)
        self._leave_queue(c)
        wait = now - c.arrived_at
        reason: str | None = None
        if missing:
            klass = "missing_data"
        elif not c.saw_logged_in:
            klass = "no_agent"
        elif wait < self.config.short_abandon_s:
            klass = "short_abandon"
        elif not c.rung and not c.saw_free:
            klass = "agents_busy"
        else:
            klass = "other"
            reason = "rang_unanswered" if c.rung else "agents_away"
        logged, busy, _ = self._census(self._queues[c.queue])
        self._finish(c, now)
        self._record(
            ContactRecord(
                contact_id=c.id,
                channel=c.channel,
                queue=c.queue,
                team=c.team,
                arrived_at=c.arrived_at,
                ended_at=now,
                outcome="unanswered",
                unanswered=klass,
                other_reason=reason,
                wait_s=wait,
                offers=c.offers,
                agents_rung=len(c.rung),
                logged_in_at_arrival=c.logged_in_at_arrival,
                busy_at_arrival=c.busy_at_arrival,
                logged_in_at_end=logged,
                busy_at_end=busy,
                fallback=c.fallback,
                end_reconciled=missing,
                flags=tuple(c.flags),
            )
        )

    def _complete(self, c: Contact, *, reconciled: bool = False) -> None:
        assert c.agent_id is not None and c.answered_at is not None
        now = max(self._fact, c.answered_at)
        a = self._agents[c.agent_id]
        chs = a.channels.get(c.channel)
        if chs is not None:
            chs.active.pop(c.id, None)
            wrap = self._wrap[c.channel]
            if wrap > 0 and not reconciled:
                chs.wrap_until = now + wrap
                self._timers.set(now + wrap, "wrap", (a.id, c.channel))
            else:
                chs.idle_since = now
            self._touch(chs)
        logged, busy, _ = self._census(self._queues[c.queue])
        self._finish(c, now)
        self._record(
            ContactRecord(
                contact_id=c.id,
                channel=c.channel,
                queue=c.queue,
                team=c.team,
                arrived_at=c.arrived_at,
                ended_at=now,
                outcome="answered",
                answered_at=c.answered_at,
                agent_id=a.id,
                agent_team=a.team,
                wait_s=c.answered_at - c.arrived_at,
                handle_s=now - c.answered_at,
                offers=c.offers,
                agents_rung=len(c.rung),
                logged_in_at_arrival=c.logged_in_at_arrival,
                busy_at_arrival=c.busy_at_arrival,
                logged_in_at_end=logged,
                busy_at_end=busy,
                fallback=c.fallback,
                end_reconciled=reconciled,
                flags=tuple(c.flags),
            )
        )

    def _reconcile(self, c: Contact) -> None:
        self._contact_next(c, "reconcile")
        if c.state is S:
            self._complete(c, reconciled=True)
        else:
            self._end_unanswered(c, missing=True)

    def _long_wait(self, c: Contact) -> None:
        if c.state in (W, OF):
            c.long_wait_alert = self._alert(
                "long_wait",
                {
                    "contact_id": c.id,
                    "queue": c.queue,
                    "channel": c.channel,
                    "wait_s": round(self._t - c.arrived_at, 3),
                },
            )

    # ------------------------------------------------------------ offers
    def _can_take(self, a: Agent, ch: str) -> bool:
        chs = a.channels.get(ch)
        if chs is None or chs.presence is not Presence.READY or chs.wrap_until is not None:
            return False
        if len(chs.active) + len(chs.offered) >= self._cap[ch]:
            return False
        if ch == "chat" and self._policy.phone_blocks_chat:
            phone = a.channels.get("phone")
            if phone is not None and (phone.active or phone.offered):
                return False
        return True

    def _occupied(self, a: Agent, chs: AgentChannel, ch: str) -> bool:
        if chs.wrap_until is not None or len(chs.active) + len(chs.offered) >= self._cap[ch]:
            return True
        if ch == "chat" and self._policy.phone_blocks_chat:
            phone = a.channels.get("phone")
            return phone is not None and bool(phone.active or phone.offered)
        return False

    def _offer(self, c: Contact, agents: list[Agent]) -> None:
        now = self._t
        expiry = now + self._ring[c.channel]
        for a in agents:
            c.ringing[a.id] = expiry
            c.rung.add(a.id)
            c.lapsed.pop(a.id, None)
            chs = a.channels[c.channel]
            chs.offered[c.id] = None
            self._touch(chs)
        c.offers += 1
        nxt = self._contact_next(c, "offer")
        assert nxt is not None
        c.state = nxt
        self._emit(
            Offer,
            contact_id=c.id,
            agent_ids=tuple(sorted(a.id for a in agents)),
            ring_timeout_s=self._ring[c.channel],
        )
        if self._timers.deadline("ring", c.id) is None:
            self._timers.set(expiry, "ring", c.id)

    def _unring(self, c: Contact, agent_id: str) -> None:
        del c.ringing[agent_id]
        a = self._agents[agent_id]
        chs = a.channels.get(c.channel)
        if chs is not None:
            chs.offered.pop(c.id, None)
            self._touch(chs)

    def _after_unring(self, c: Contact) -> None:
        """After offers were withdrawn: back to waiting if nobody rings any more."""
        if c.ringing:
            self._timers.set(min(c.ringing.values()), "ring", c.id)
        elif c.state is OF:
            nxt = self._contact_next(c, "lapse")
            assert nxt is not None
            c.state = nxt
            self._timers.cancel("ring", c.id)

    def _set_retry(self, c: Contact) -> None:
        now = self._t
        pending = [t for t in c.cooldown.values() if t > now]
        if pending:
            self._timers.set(min(pending), "retry", c.id)

    def _ring_timeout(self, c: Contact) -> None:
        now = self._t
        due = sorted(a for a, t in c.ringing.items() if t <= now)
        for agent_id in due:
            self._unring(c, agent_id)
            c.lapsed[agent_id] = now
            c.cooldown[agent_id] = now + self._policy.retry_s
            a = self._agents[agent_id]
            a.no_answer_streak += 1
            self._record(
                NoAnswerRecord(
                    agent_id=a.id, team=a.team, channel=c.channel, contact_id=c.id, at=now
                )
            )
        if due:
            self._emit(CancelOffer, contact_id=c.id, agent_ids=tuple(due))
        limit = self._policy.max_no_answer
        for agent_id in due:
            a = self._agents[agent_id]
            if limit and a.no_answer_streak >= limit and a.presence is Presence.READY:
                self._auto_away(a)
        self._after_unring(c)
        self._set_retry(c)

    def _auto_away(self, a: Agent) -> None:
        self._agent_next(a, "auto_away")
        self._set_away(a, "no_answer")
        a.auto_away_alert = self._alert(
            "agent_auto_away",
            {
                "agent_id": a.id,
                "team": a.team,
                "unanswered_offers": a.no_answer_streak,
            },
        )

    def _withdraw_offers(self, a: Agent, channels: list[str]) -> None:
        for ch in channels:
            chs = a.channels[ch]
            for cid in list(chs.offered):
                c = self._contacts[cid]
                self._unring(c, a.id)
                self._emit(CancelOffer, contact_id=cid, agent_ids=(a.id,))
                self._after_unring(c)

    # ------------------------------------------------------------ agents
    def _check_logged_in(self, ev: AgentLoggedIn) -> None:
        if ev.team not in self.config.teams:
            raise UnknownName(f"unknown team {ev.team!r}", field="team")
        for ch in ev.channels:
            if ch not in self.config.channels:
                raise InvalidEvent(f"channel {ch!r} is not configured", field="channels")
        a = self._agents.get(ev.agent_id)
        if a is None or a.presence is Presence.LOGGED_OUT:
            return
        self._agent_next(a, "agent.logged_in")
        if a.team != ev.team:
            raise AlreadyLoggedIn(
                f"agent {a.id} is logged in for team {a.team}; log out before joining {ev.team}",
                field="team",
            )

    def _on_logged_in(self, ev: AgentLoggedIn) -> None:
        now = self._t
        a = self._agents.get(ev.agent_id)
        if a is None:
            self._agent_seq += 1
            a = Agent(id=ev.agent_id, team=ev.team, seq=self._agent_seq)
            self._agents[a.id] = a
        a.team = ev.team
        # Logging in on more channels adds them (the phone and the chat vendor
        # each report their own channel); presence follows the agent's.
        presence = a.presence if a.presence is not Presence.LOGGED_OUT else Presence.READY
        for ch in ev.channels:
            if ch not in a.channels:
                a.channels[ch] = AgentChannel(
                    presence=presence, since=now, idle_since=now, state=""
                )
                self._on[ch][a.id] = a
                self._logged[(a.team, ch)] = self._logged.get((a.team, ch), 0) + 1
                self._touch(a.channels[ch])

    def _drop_channel(self, a: Agent, ch: str) -> None:
        self._gen += 1
        self._withdraw_offers(a, [ch])
        del a.channels[ch]
        del self._on[ch][a.id]
        self._logged[(a.team, ch)] -= 1
        self._timers.cancel("wrap", (a.id, ch))

    def _check_logged_out(self, ev: AgentLoggedOut) -> None:
        a = self._agent(ev.agent_id)
        self._agent_next(a, "agent.logged_out")
        leaving = ev.channels or tuple(a.channels)
        busy = [ch for ch in leaving if ch in a.channels and a.channels[ch].active]
        if busy:
            raise AgentBusy(
                f"agent {a.id} is busy on {busy[0]}; end the contact before logging out",
                field="agent_id",
            )

    def _on_logged_out(self, ev: AgentLoggedOut) -> None:
        a = self._agents[ev.agent_id]
        for ch in ev.channels or tuple(a.channels):
            if ch in a.channels:
                self._drop_channel(a, ch)
        if not a.channels:
            a.away_reason = None
            a.no_answer_streak = 0
            self._close_alert(a.auto_away_alert)

    def _check_ready(self, ev: AgentReady) -> None:
        a = self._agent(ev.agent_id)
        self._agent_next(a, "agent.ready")
        for ch in ev.channels:
            if ch not in a.channels:
                raise InvalidTransition(f"agent {a.id} is not logged in on {ch}", field="channels")

    def _on_ready(self, ev: AgentReady) -> None:
        a = self._agents[ev.agent_id]
        for ch in ev.channels or tuple(a.channels):
            chs = a.channels[ch]
            if chs.presence is not Presence.READY:
                chs.presence = Presence.READY
                chs.idle_since = self._t
                self._touch(chs)
        if a.presence is Presence.READY and all(
            c.presence is Presence.READY for c in a.channels.values()
        ):
            a.away_reason = None
        a.no_answer_streak = 0
        self._close_alert(a.auto_away_alert)

    def _check_away(self, ev: AgentAway) -> None:
        self._agent_next(self._agent(ev.agent_id), "agent.away")

    def _on_away(self, ev: AgentAway) -> None:
        self._set_away(self._agents[ev.agent_id], ev.reason)

    def _set_away(self, a: Agent, reason: str) -> None:
        self._withdraw_offers(a, list(a.channels))
        for chs in a.channels.values():
            chs.presence = Presence.AWAY
            self._touch(chs)
        a.away_reason = reason

    def _touch(self, chs: AgentChannel) -> None:
        self._gen += 1  # something about an agent changed: cached views are stale
        if chs.active:
            state = "busy"
        elif chs.offered:
            state = "offered"
        elif chs.wrap_until is not None:
            state = "wrap_up"
        elif chs.presence is Presence.AWAY:
            state = "away"
        else:
            state = "ready"
        if state != chs.state:
            chs.state = state
            chs.since = self._t

    # ------------------------------------------------------- teams, alerts
    def _check_absent(self, ev: TeamAbsent) -> None:
        if ev.team not in self.config.teams:
            raise UnknownName(f"unknown team {ev.team!r}", field="team")

    def _on_absent(self, ev: TeamAbsent) -> None:
        self._absences.append(Absence(team=ev.team, start=ev.start, end=ev.end))
        for q in self._queues.values():
            self._refresh_segment(q)

    def _check_ack(self, ev: AlertAcknowledged) -> None:
        if ev.alert_id not in self._alerts:
            raise UnknownAlert(f"unknown alert {ev.alert_id!r}", field="alert_id")

    def _on_ack(self, ev: AlertAcknowledged) -> None:
        alert = self._alerts[ev.alert_id]
        if alert.acked_by is None:
            alert.acked_by = ev.by
            alert.acked_at = self._t

    # ------------------------------------------------------------ handover
    def _refresh_segment(self, q: QueueState) -> None:
        now = self._t
        seg = self.plan.segment(q.name, now, self._absences)
        old = q.segment.owner
        q.segment = seg
        self._gen += 1
        self._timers.set(seg.end, "handover", q.name)
        if seg.owner == old:
            return
        self._close_gap(q)
        if seg.owner != CLOSED:
            q.last_team = seg.owner
            grace = self.config.queues[q.name].grace_min * 60
            self._timers.set(now + grace, "grace", q.name)

    def _eligible(self, q: QueueState) -> tuple[frozenset[str], str, bool]:
        """Teams whose agents may be offered this queue's contacts now.

        The owning team; if it has nobody logged in on the channel, also its
        fallback teams that do (DESIGN.md "Coverage plan"). A closed queue
        keeps serving the contacts already queued with its last open owner.
        """
        owner = q.segment.owner
        if owner == CLOSED:
            owner = q.last_team
        if owner == CLOSED:
            return frozenset(), owner, False
        if self._logged.get((owner, q.channel), 0) > 0 or not self.config.queues[q.name].fallback:
            return frozenset((owner,)), owner, False
        fbs = [t for t in self.plan.fallbacks(owner) if self._logged.get((t, q.channel), 0) > 0]
        return frozenset((owner, *fbs)), owner, bool(fbs)

    def _census(self, q: QueueState) -> tuple[int, int, int]:
        """(eligible agents logged in, of them occupied, of them free) on the queue's channel."""
        cached = self._census_cache.get(q.name)
        if cached is not None and cached[0] == self._gen:
            return cached[1]
        teams, _, _ = self._eligible(q)
        logged = busy = 0
        ch = q.channel
        for a in self._on[ch].values():
            if a.team in teams:
                logged += 1
                if self._occupied(a, a.channels[ch], ch):
                    busy += 1
        result = (logged, busy, logged - busy)
        self._census_cache[q.name] = (self._gen, result)
        return result

    def _logged_names(self, team: str, ch: str) -> list[str]:
        return sorted(a.id for a in self._on[ch].values() if a.team == team)

    def _close_gap(self, q: QueueState) -> None:
        gap = q.gap
        if gap is None:
            return
        q.gap = None
        self._close_alert(gap.alert_id)
        others = sorted(a.id for a in self._on[q.channel].values() if a.team != gap.team)
        self._record(
            GapRecord(
                queue=q.name,
                team=gap.team,
                boundary_at=gap.boundary_at,
                start=gap.start,
                end=self._t,
                others_logged_in=tuple(others),
            )
        )

    def _check_gaps(self) -> None:
        now = self._t
        for q in self._queues.values():
            owner = q.segment.owner
            nobody = owner != CLOSED and self._logged.get((owner, q.channel), 0) == 0
            if q.gap is not None and (not nobody or q.gap.team != owner):
                self._close_gap(q)
            if q.gap is None and nobody:
                grace = self.config.queues[q.name].grace_min * 60
                if self._qwaiting[q.name] > 0 or now >= q.segment.start + grace:
                    sides = {owner: self._logged_names(owner, q.channel)}
                    for fb in self.plan.fallbacks(owner):
                        sides[fb] = self._logged_names(fb, q.channel)
                    alert_id = self._alert(
                        "handover_gap",
                        {
                            "queue": q.name,
                            "channel": q.channel,
                            "team": owner,
                            "boundary_at": q.segment.start,
                            "logged_in": sides,
                            "fallback": self.config.queues[q.name].fallback,
                        },
                    )
                    q.gap = GapState(
                        team=owner, boundary_at=q.segment.start, start=now, alert_id=alert_id
                    )

    # ------------------------------------------------------------ dispatch
    def _settle(self) -> None:
        """After every change: offer what can be offered, note what contacts saw, check gaps."""
        for ch in self._waiting:
            if self._waiting[ch]:
                self._dispatch(ch)
        self._check_gaps()
        self._observe()

    def _dispatch(self, ch: str) -> None:
        if self._no_free.get(ch) == self._gen:
            return  # nobody was free and no agent has changed since
        now = self._t
        free = [a for a in self._on[ch].values() if self._can_take(a, ch)]
        if not free:
            self._no_free[ch] = self._gen
            return
        eligible: dict[str, tuple[frozenset[str], str, bool]] = {}
        for c in list(self._waiting[ch].values()):
            q = self._queues[c.queue]
            if c.queue not in eligible:
                eligible[c.queue] = self._eligible(q)
            teams, owner, fallback = eligible[c.queue]
            cands = [
                a
                for a in free
                if a.team in teams
                and a.id not in c.ringing
                and c.cooldown.get(a.id, -math.inf) <= now
                and self._can_take(a, ch)
            ]
            if not cands:
                continue
            if q.strategy == "ring_all":
                targets = cands
            elif c.ringing:
                continue  # one agent at a time for the other strategies
            else:
                targets = [self._pick(q, cands, ch)]
            if fallback and any(a.team != owner for a in targets):
                c.fallback = True
            self._offer(c, targets)
            free = [a for a in free if self._can_take(a, ch)]
            if not free:
                return

    def _pick(self, q: QueueState, cands: list[Agent], ch: str) -> Agent:
        if q.strategy == "longest_idle":
            return min(cands, key=lambda a: (a.channels[ch].idle_since, a.seq))
        if q.strategy == "least_busy":
            return min(
                cands,
                key=lambda a: (
                    len(a.channels[ch].active) + len(a.channels[ch].offered),
                    a.channels[ch].idle_since,
                    a.seq,
                ),
            )
        if q.strategy == "round_robin":
            ordered = sorted(cands, key=lambda a: a.id)
            last = q.rr_last
            pick = next((a for a in ordered if last is None or a.id > last), ordered[0])
            q.rr_last = pick.id
            return pick
        raise InternalError(f"unknown strategy {q.strategy!r}")  # pragma: no cover

    def _observe(self) -> None:
        """Note, for every waiting contact, whether an eligible agent is logged in / free."""
        for waiting in self._waiting.values():
            if not waiting:
                continue
            seen: dict[str, tuple[bool, bool]] = {}
            for c in waiting.values():
                if c.saw_logged_in and c.saw_free:
                    continue  # nothing more to learn for this contact
                if c.queue not in seen:
                    logged, _, free = self._census(self._queues[c.queue])
                    seen[c.queue] = (logged > 0, free > 0)
                logged_any, free_any = seen[c.queue]
                c.saw_logged_in = c.saw_logged_in or logged_any
                c.saw_free = c.saw_free or free_any

    # ------------------------------------------------------------ snapshot
    def snapshot(self) -> dict[str, Any]:
        """Everything a supervisor sees, as plain JSON-ready data."""
        from router.snapshot import build_snapshot

        return build_snapshot(self)
