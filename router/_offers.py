"""Offers: ringing agents, ring time-outs, declines, retries and auto-away.

An offer rings the agents dispatch chose (``router._dispatch``); the contact
goes back to waiting when the last of them stops ringing (time-out, decline,
logout, away), and an agent who let ``max_no_answer`` offers in a row ring out
is set away with an alert (Asterisk's autopause, mod_callcenter's
max-no-answer).
"""

from __future__ import annotations

from mypy_extensions import mypyc_attr

from router._agents import AgentsMixin
from router._state import Agent, AgentChannel, Contact
from router.commands import CancelOffer, Offer
from router.errors import NotOffered
from router.events import OfferDeclined
from router.records import NoAnswerRecord
from router.tables import ContactState, Presence, TimerKind, agent_next, contact_next

__all__ = ["OffersMixin"]

OF, E = ContactState.OFFERED, ContactState.ENDED
RING, RETRY = TimerKind.RING, TimerKind.RETRY


@mypyc_attr(allow_interpreted_subclasses=True)
class OffersMixin(AgentsMixin):
    def _check_declined(self, ev: OfferDeclined) -> None:
        c = self._contact(ev.contact_id)
        a = self._agent(ev.agent_id)
        if c.state is E:
            contact_next(c.state, "offer.declined", c.id)
        if a.id not in c.ringing:
            raise NotOffered(f"contact {c.id} is not ringing agent {a.id}", field="agent_id")

    def _on_declined(self, ev: OfferDeclined) -> None:
        c = self._contacts[ev.contact_id]
        a = self._agents[ev.agent_id]
        self._transition(c, "offer.declined")
        self._unring(c, a.id)
        self._emit(CancelOffer, contact_id=c.id, agent_ids=(a.id,))
        self._record(
            NoAnswerRecord(
                agent_id=a.id,
                team=a.team,
                channel=c.channel,
                contact_id=c.id,
                at=self._clock,
                declined=True,
            )
        )
        if c.cooldown is None:
            c.cooldown = {}
        c.cooldown[a.id] = self._clock + self._policy.retry_s
        self._after_unring(c)
        self._set_retry(c)

    # -------------------------------------------------------------- offers
    def _offer(self, c: Contact, targets: list[AgentChannel]) -> None:
        ch = c.channel
        ring = self._ring[ch]
        expiry = self._clock + ring
        agents = self._agents
        for chs in targets:
            aid = chs.agent_id
            c.ringing[aid] = expiry
            c.rung.add(aid)
            if c.lapsed:
                c.lapsed.pop(aid, None)
            chs.offered[c.id] = None
            self._refresh(agents[aid], ch)
        c.offers += 1
        self._transition(c, "offer")
        self._emit(
            Offer,
            contact_id=c.id,
            agent_ids=tuple(sorted(chs.agent_id for chs in targets)),
            ring_timeout_s=ring,
        )
        if self._timers.deadline(RING, c.id) is None:
            self._timers.set(expiry, RING, c.id, (RING, ch))  # the clock plus ch's ring time

    def _unring(self, c: Contact, agent_id: str) -> None:
        del c.ringing[agent_id]
        a = self._agents[agent_id]
        chs = a.channels.get(c.channel)
        if chs is not None:
            chs.offered.pop(c.id, None)
            self._refresh(a, c.channel)
        self._want.add(c.channel)  # it may be offered to someone else now

    def _after_unring(self, c: Contact) -> None:
        """After offers were withdrawn: back to waiting if nobody rings any more."""
        if c.ringing:
            self._timers.set(min(c.ringing.values()), RING, c.id)
        elif c.state is OF:
            self._transition(c, "lapse")
            self._timers.cancel(RING, c.id)

    def _set_retry(self, c: Contact) -> None:
        now = self._clock
        pending = [t for t in c.cooldown.values() if t > now] if c.cooldown else None
        if pending:
            self._timers.set(min(pending), RETRY, c.id)

    def _ring_timeout(self, c: Contact) -> None:
        now = self._clock
        due = sorted(a for a, t in c.ringing.items() if t <= now)
        retry = self._policy.retry_s
        for agent_id in due:
            self._unring(c, agent_id)
            if c.lapsed is None:
                c.lapsed = {}
            if c.cooldown is None:
                c.cooldown = {}
            c.lapsed[agent_id] = now
            c.cooldown[agent_id] = now + retry
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
        agent_next(a.presence, "auto_away", a.id)
        self._set_away(a, "no_answer")
        a.auto_away_alert = self._alert(
            "agent_auto_away",
            {"agent_id": a.id, "team": a.team, "unanswered_offers": a.no_answer_streak},
        )
