"""Contacts: their events, offers and ring time-outs, and how each one ends.

Every state change goes through ``_transition`` (the contact table of
``router.tables``); how an ended contact is classified is
``router.outcomes``'s job.
"""

from __future__ import annotations

from bisect import bisect_left, insort

from mypy_extensions import mypyc_attr

from router._offers import OffersMixin
from router._state import Agent, AgentChannel, Contact
from router.commands import CancelOffer, Reject
from router.config import CLOSED
from router.errors import (
    AlreadyAnswered,
    FeedbackRefused,
    InvalidEvent,
    InvalidTransition,
    NotOffered,
    RoutingError,
    UnknownName,
)
from router.events import (
    ChatFeedback,
    ContactAbandoned,
    ContactAnswered,
    ContactArrived,
    ContactEnded,
    ContactFlagged,
)
from router.outcomes import answered_record, classify, closed_record, unanswered_record
from router.records import FeedbackRecord, FlagRecord, LateAnswerRecord
from router.tables import CONTACT_TRANSITIONS, ContactState, TimerKind, contact_next

__all__ = ["AlreadyAnswered", "ContactsMixin"]

W, OF, S, E = (
    ContactState.WAITING,
    ContactState.OFFERED,
    ContactState.IN_SERVICE,
    ContactState.ENDED,
)
RING, RETRY, WRAP, RECONCILE, LONG_WAIT = (
    TimerKind.RING,
    TimerKind.RETRY,
    TimerKind.WRAP,
    TimerKind.RECONCILE,
    TimerKind.LONG_WAIT,
)


_REFUSED = object()  # no row in the contact table: contact_next raises the refusal


def _check(c: Contact, trigger: str) -> None:
    if (c.state, trigger) not in CONTACT_TRANSITIONS:
        contact_next(c.state, trigger, c.id)


@mypyc_attr(allow_interpreted_subclasses=True)
class ContactsMixin(OffersMixin):
    @staticmethod
    def _move(c: Contact, trigger: str) -> ContactState:
        """Apply the contact table's row for ``(c.state, trigger)``; the state before."""
        before = c.state
        target = contact_next(before, trigger, c.id)
        if target is not None:
            c.state = target
        return before

    def _transition(self, c: Contact, trigger: str) -> None:
        """``_move``, keeping the index of waiting contacts that ring nobody current."""
        before = c.state  # _move, inlined: every contact passes here three times or more
        target = CONTACT_TRANSITIONS.get((before, trigger), _REFUSED)
        if target is _REFUSED:
            contact_next(before, trigger, c.id)  # raises the refusal
        if target is not None and target is not before:
            c.state = target  # type: ignore[assignment]
            if before is W:
                if self._by_seq.pop(c.seq, None) is not None:
                    keys = self._unrung[c.channel]
                    del keys[bisect_left(keys, c.seq)]
            elif target is W:
                self._by_seq[c.seq] = c
                insort(self._unrung[c.channel], c.seq)

    # -------------------------------------------------------------- arrive
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
        now = self._ev_at if self._ev_at is not None else self._clock  # _fact, inlined
        q = self._queues[ev.queue]
        self._contact_seq = seq = self._contact_seq + 1
        self.arrived_total += 1
        ch = ev.channel
        self.today.arrived(ch, self._clock)
        owner = q.segment.owner
        # Contact(id, channel, queue, arrived_at, seq, team)
        c = Contact(ev.contact_id, ch, ev.queue, now, seq, owner)
        self._contacts[c.id] = c
        if owner == CLOSED:
            self._transition(c, "closed")
            c.ended_at = now
            self.ended_total += 1
            self._ended.append((now, c.id))
            self._emit(Reject, contact_id=c.id, reason="closed")
            self._record(closed_record(c, CLOSED, now))
            return
        self._waiting[ch][c.id] = c
        self._unrung[ch].append(seq)  # seqs grow: the index stays sorted
        self._by_seq[seq] = c
        self._qwaiting[c.queue] += 1
        self._want.add(ch)
        if q.gap is None and self._team_logged(q, owner) == 0:
            self._gaps_due = True  # a waiting contact opens a gap at once
        self._fresh.append(c)
        c.logged_in_at_arrival, c.busy_at_arrival = self._census_now(q)
        timers, config = self._timers, self.config
        # Each a lane of its own per queue: now plus the queue's constant (router._timers).
        timers.set(now + self._reconcile_wait_s[c.queue], RECONCILE, c.id, (RECONCILE, c.queue))
        timers.set(now + config.queues[c.queue].long_wait_s, LONG_WAIT, c.id, (LONG_WAIT, c.queue))

    # -------------------------------------------------------------- answer
    def _check_answered(self, ev: ContactAnswered) -> None:
        c = self._contact(ev.contact_id)
        a = self._agent(ev.agent_id)
        if c.state is E:
            _check(c, "contact.answered")  # raises ContactAlreadyEnded
        if c.state is S:
            if c.agent_id != a.id:
                raise AlreadyAnswered(
                    f"contact {c.id} was already answered by {c.agent_id}", field="agent_id"
                )
            return  # the same pick-up reported twice: the table's no-op
        chs = a.channels.get(c.channel)
        if chs is None:
            raise InvalidTransition(
                f"agent {a.id} is not logged in on {c.channel}", field="agent_id"
            )
        if (
            a.id in c.ringing
            or self._observed_answer(c, a, chs)
            or self._late_answer(c, a, chs, ev.at)
        ):
            return
        raise NotOffered(
            f"contact {c.id} is not ringing agent {a.id}; only an offered agent can answer",
            field="agent_id",
        )

    def _late_answer(self, c: Contact, a: Agent, chs: AgentChannel, at: float) -> bool:
        """The one conditional row: a pick-up just after the router timed the ring out."""
        lapsed = c.lapsed.get(a.id) if c.lapsed else None
        if lapsed is None or len(chs.active) >= self._cap[c.channel]:
            return False
        now = at if self.now is None else max(self.now, at)
        return now - lapsed <= self._policy.late_answer_s

    def _on_answered(self, ev: ContactAnswered) -> None:
        c = self._contacts[ev.contact_id]
        if c.state is S:
            return
        a = self._agents[ev.agent_id]
        ch = c.channel
        chs = a.channels[ch]
        fact = self._ev_at if self._ev_at is not None else self._clock  # _fact, inlined
        now = fact if fact >= c.arrived_at else c.arrived_at  # max(), keeping its pick on a tie
        ringing = c.ringing
        late = a.id not in ringing
        self._transition(c, self._answer_trigger(c, late))
        if late and c.lapsed:
            self._record(
                LateAnswerRecord(
                    agent_id=a.id,
                    team=a.team,
                    channel=ch,
                    contact_id=c.id,
                    at=self._clock,
                    rang_out_at=c.lapsed.pop(a.id),
                )
            )
        # Most offers ring one agent: the one who answered.
        others = sorted(x for x in ringing if x != a.id) if len(ringing) > 1 or late else []
        for x in list(ringing):
            self._unring(c, x)
        if others:
            self._emit(CancelOffer, contact_id=c.id, agent_ids=tuple(others))
        c.agent_id = a.id
        c.answered_at = now
        self._leave_queue(c)
        chs.active[c.id] = None
        a.no_answer_streak = 0
        # A late pick-up may have come while this phone rang for someone else.
        cap = self._cap[ch]
        while len(chs.active) + len(chs.offered) > cap:
            extra = next(reversed(chs.offered))
            other = self._contacts[extra]
            self._unring(other, a.id)
            self._emit(CancelOffer, contact_id=extra, agent_ids=(a.id,))
            self._after_unring(other)
        self._refresh(a, ch)
        self._timers.set(now + self.config.reconcile_service_s, RECONCILE, c.id, RECONCILE)
        if c.long_wait_alert is not None:
            self._close_alert(c.long_wait_alert)
        self.today.answered(ch, now - c.arrived_at, self._clock)

    # ---------------------------------------------------------------- ends
    def _check_abandoned(self, ev: ContactAbandoned) -> None:
        _check(self._contact(ev.contact_id), "contact.abandoned")

    def _on_abandoned(self, ev: ContactAbandoned) -> None:
        c = self._contacts[ev.contact_id]
        if c.state is S:
            self._complete(c, "contact.abandoned")
        else:
            self._end_unanswered(c, "contact.abandoned")

    def _check_ended(self, ev: ContactEnded) -> None:
        _check(self._contact(ev.contact_id), "contact.ended")

    def _on_ended(self, ev: ContactEnded) -> None:
        c = self._contacts[ev.contact_id]
        if c.state is E:
            return
        if c.state is S:
            self._complete(c, "contact.ended")
        else:
            self._end_unanswered(c, "contact.ended")

    def _leave_queue(self, c: Contact) -> None:
        cid = c.id
        self._forget_rings(c)
        if self._waiting[c.channel].pop(cid, None) is not None:
            self._qwaiting[c.queue] -= 1
        # The three timers a waiting contact may hold. Through ``Timers.cancel``, which
        # counts a lane's dead entries: popping ``_live`` directly left them uncounted,
        # so a lane behind a long-waiting head was never swept and its dead entries
        # were all dropped in one step once that head fired (109 ms at 100k, native).
        timers = self._timers
        timers.cancel(RING, cid)
        timers.cancel(RETRY, cid)
        timers.cancel(LONG_WAIT, cid)

    def _finish(self, c: Contact, trigger: str, ended_at: float) -> None:
        self._transition(c, trigger)
        c.ended_at = ended_at
        self.ended_total += 1
        self._ended.append((self._clock, c.id))
        self._timers.cancel(RECONCILE, c.id)
        if c.long_wait_alert is not None:
            self._close_alert(c.long_wait_alert)

    def _end_unanswered(self, c: Contact, trigger: str, *, missing: bool = False) -> None:
        fact = self._ev_at if self._ev_at is not None else self._clock  # _fact, inlined
        now = fact if fact >= c.arrived_at else c.arrived_at  # max(), keeping its pick on a tie
        if c.ringing:
            ids = tuple(sorted(c.ringing))
            for x in ids:
                self._unring(c, x)
            self._emit(CancelOffer, contact_id=c.id, agent_ids=ids)
        self._leave_queue(c)
        q = self._queues[c.queue]
        klass, reason = classify(
            missing=missing,
            saw_logged_in=c.saw_logged_in or c.logged_epoch != q.logged_epoch,
            wait_s=now - c.arrived_at,
            short_abandon_s=self.config.short_abandon_s,
            rung=bool(c.rung),
            saw_free=c.saw_free or c.free_epoch != q.free_epoch,
        )
        logged, busy = self._census_now(q)
        self._finish(c, trigger, now)
        self._record(
            unanswered_record(
                c,
                ended_at=now,
                klass=klass,
                reason=reason,
                logged_in_at_end=logged,
                busy_at_end=busy,
                missing=missing,
            )
        )

    def _complete(self, c: Contact, trigger: str, *, reconciled: bool = False) -> None:
        assert c.agent_id is not None and c.answered_at is not None
        fact = self._ev_at if self._ev_at is not None else self._clock  # _fact, inlined
        now = fact if fact >= c.answered_at else c.answered_at  # max(), keeping its pick on a tie
        a = self._agents[c.agent_id]
        ch = c.channel
        chs = a.channels.get(ch)
        if chs is not None:
            chs.active.pop(c.id, None)
            wrap = self._wrap[ch]
            if wrap > 0 and not reconciled:
                chs.wrap_until = now + wrap
                self._timers.set(now + wrap, WRAP, (a.id, ch), (WRAP, ch))
            else:
                chs.idle_since = now
            self._refresh(a, ch)
        logged, busy = self._census_now(self._queues[c.queue])
        self._finish(c, trigger, now)
        self._record(
            answered_record(
                c,
                agent_id=a.id,
                agent_team=a.team,
                ended_at=now,
                logged_in_at_end=logged,
                busy_at_end=busy,
                reconciled=reconciled,
            )
        )

    def _reconcile(self, c: Contact) -> None:
        if c.state is S:
            self._complete(c, "reconcile", reconciled=True)
        else:
            self._end_unanswered(c, "reconcile", missing=True)

    def _long_wait(self, c: Contact) -> None:
        if c.state is W or c.state is OF:
            c.long_wait_alert = self._alert(
                "long_wait",
                {
                    "contact_id": c.id,
                    "queue": c.queue,
                    "channel": c.channel,
                    "wait_s": round(self._clock - c.arrived_at, 3),
                },
            )

    # --------------------------------------------------------------- notes
    def _check_contact_note(self, ev: ChatFeedback | ContactFlagged) -> None:
        _check(self._contact(ev.contact_id), ev.type)

    def _check_feedback(self, ev: ChatFeedback) -> None:
        """One post-chat form per ended, answered chat (the vendor opens it when the chat ends)."""
        c = self._contact(ev.contact_id)
        if c.channel != "chat":
            raise FeedbackRefused(
                f"contact {c.id} is a {c.channel} contact; chat.feedback is for chats",
                field="contact_id",
            )
        try:
            _check(c, ev.type)
        except FeedbackRefused:
            raise FeedbackRefused(
                f"chat {c.id} has not ended; its feedback form opens when it ends",
                field="contact_id",
            ) from None
        if c.agent_id is None:
            raise FeedbackRefused(
                f"chat {c.id} was not answered; only an answered chat gets a feedback form",
                field="contact_id",
            )
        if c.feedback:
            raise FeedbackRefused(
                f"chat {c.id} already has its feedback; one form per chat", field="contact_id"
            )

    def _on_feedback(self, ev: ChatFeedback) -> None:
        c = self._contacts[ev.contact_id]
        c.feedback = True
        team = self._agents[c.agent_id].team if c.agent_id else c.team
        self._record(
            FeedbackRecord(
                contact_id=c.id, channel=c.channel, team=team, at=self._fact, rating=ev.rating
            )
        )

    def _on_flagged(self, ev: ContactFlagged) -> None:
        c = self._contacts[ev.contact_id]
        if ev.flag not in c.flags:
            c.flags = (*c.flags, ev.flag)
        self._record(FlagRecord(contact_id=c.id, at=self._fact, flag=ev.flag))
