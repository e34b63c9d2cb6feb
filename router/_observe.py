"""Observed routing: a queue whose carrier or PBX rings agents by itself.

In a queue with ``routing = "observe"`` Linje sends no offers, runs no ring
timers and sets nobody away; the adapter reports what the PBX did and the core
keeps the same facts a decided queue gives: who was rung (``contact.rang``),
whose ring ended unanswered (``contact.ring_ended``, a ``NoAnswerRecord``), who
picked up (``contact.answered`` needs no offer from Linje: the table's
``observed_answer`` row), a move to another queue (``contact.moved``), a
caller it turned away itself (``contact.turned_away``: ``rejected_closed``
for a closed line whatever the coverage plan says, else ``turned_away``). A
contact's class comes from those facts through the same taxonomy
(``router.outcomes``): ``rang_unanswered`` when an observed ring ended
unanswered, ``agents_busy`` only when every agent was busy talking (a ring for
another caller does not occupy an agent here). Which trigger each mode admits
is ``router.tables.MODE_TRIGGERS``.

Observed rings are kept here, not in a contact's ``ringing`` (that holds
Linje's own offers and their time-outs), so nothing cancels or times them out.
"""

from __future__ import annotations

from mypy_extensions import mypyc_attr

from router._members import MembersMixin
from router._state import Agent, AgentChannel, Contact
from router.config import HelplineConfig
from router.errors import AgentBusy, InvalidEvent, InvalidTransition, NotOffered, UnknownName
from router.events import ContactMoved, ContactRang, ContactRingEnded, ContactTurnedAway
from router.outcomes import turned_away_record
from router.records import NoAnswerRecord
from router.tables import ContactState, contact_next, mode_allows

__all__ = ["ObserveMixin"]

S, OF = ContactState.IN_SERVICE, ContactState.OFFERED


@mypyc_attr(allow_interpreted_subclasses=True)
class ObserveMixin(MembersMixin):
    def __init__(self, config: HelplineConfig) -> None:
        super().__init__(config)
        # contact -> agents the PBX is ringing for it now (agent -> since)
        self._rang: dict[str, dict[str, float]] = {}
        cfg = self.config
        self._observe = frozenset(n for n, q in cfg.queues.items() if q.routing == "observe")
        # The PBX decides how long a caller may wait (Asterisk's queue timeout may
        # be unlimited): an observed contact is closed as missing data only after
        # the longer of the two reconcile deadlines without news.
        wait = max(cfg.reconcile_wait_s, cfg.reconcile_service_s)
        self._reconcile_wait_s = {
            n: wait if n in self._observe else cfg.reconcile_wait_s for n in cfg.queues
        }

    def _mode(self, queue: str) -> str:
        return self.config.queues[queue].routing

    def _check_mode(self, c: Contact, trigger: str) -> None:
        mode = self._mode(c.queue)
        if not mode_allows(mode, trigger):
            raise InvalidTransition(
                f"{trigger} is not allowed for contact {c.id}: queue {c.queue} is routed in "
                f"{mode} mode",
                field="type",
            )

    def _observed_answer(self, c: Contact, a: Agent, chs: AgentChannel) -> bool:
        """Whether a pick-up needs no offer (an observed queue); refused if ``a`` is full."""
        if c.queue not in self._observe:
            return False
        if len(chs.active) >= self._cap[c.channel]:
            raise AgentBusy(
                f"agent {a.id} already holds {len(chs.active)} {c.channel} contacts, its capacity",
                field="agent_id",
            )
        return True

    def _answer_trigger(self, c: Contact, late: bool) -> str:
        """The contact table's trigger for a pick-up (see ``router.tables``)."""
        if c.queue in self._observe:
            return "observed_answer"
        return "late_answer" if late else "contact.answered"

    # --------------------------------------------------------------- rings
    def _check_rang(self, ev: ContactRang) -> None:
        c = self._contact(ev.contact_id)
        self._check_mode(c, "contact.rang")
        contact_next(c.state, "contact.rang", c.id)
        for aid in ev.agent_ids:
            a = self._agent_named(aid)
            if c.channel not in a.channels:
                raise InvalidTransition(
                    f"agent {aid} is not logged in on {c.channel}", field="agent_ids"
                )

    def _agent_named(self, agent_id: str) -> Agent:
        a = self._agents.get(agent_id)
        if a is None:
            raise UnknownName(f"unknown agent {agent_id!r}", field="agent_ids")
        return a

    def _on_rang(self, ev: ContactRang) -> None:
        c = self._contacts[ev.contact_id]
        if c.state is S:
            return
        rang = self._rang.setdefault(c.id, {})
        for aid in ev.agent_ids:
            rang.setdefault(aid, self._fact)
            c.rung.add(aid)
        c.offers += 1
        self._transition(c, "contact.rang")

    def _check_ring_ended(self, ev: ContactRingEnded) -> None:
        c = self._contact(ev.contact_id)
        self._check_mode(c, "contact.ring_ended")
        contact_next(c.state, "contact.ring_ended", c.id)
        if c.state is S:
            return
        rang = self._rang.get(c.id, {})
        for aid in ev.agent_ids:
            if aid not in rang:
                raise NotOffered(f"contact {c.id} is not ringing agent {aid}", field="agent_ids")

    def _on_ring_ended(self, ev: ContactRingEnded) -> None:
        c = self._contacts[ev.contact_id]
        if c.state is S:
            return
        rang = self._rang[c.id]
        at = self._fact
        for aid in ev.agent_ids:
            del rang[aid]
            a = self._agents[aid]
            self._record(
                NoAnswerRecord(agent_id=aid, team=a.team, channel=c.channel, contact_id=c.id, at=at)
            )
        self._transition(c, "contact.ring_ended")
        if not rang:
            del self._rang[c.id]
            self._transition(c, "lapse")

    def ringing_of(self, c: Contact) -> list[str]:
        """Who rings for ``c`` now: Linje's offers, or the PBX's observed rings."""
        return sorted(c.ringing or self._rang.get(c.id, {}))

    def _forget_rings(self, c: Contact) -> None:
        """The contact left the queue (answered or ended): no ring of it goes on."""
        self._rang.pop(c.id, None)

    # --------------------------------------------------------------- moves
    def _check_moved(self, ev: ContactMoved) -> None:
        c = self._contact(ev.contact_id)
        q = self.config.queues.get(ev.queue)
        if q is None:
            raise UnknownName(f"unknown queue {ev.queue!r}", field="queue")
        if q.channel != c.channel:
            raise InvalidEvent(
                f"queue {ev.queue!r} takes {q.channel} contacts, not {c.channel}", field="queue"
            )
        contact_next(c.state, "contact.moved", c.id)

    def _on_moved(self, ev: ContactMoved) -> None:
        c = self._contacts[ev.contact_id]
        if ev.queue == c.queue:
            return
        old, new = self._queues[c.queue], self._queues[ev.queue]
        # What it saw in the old queue stays seen; from now on it watches the new one.
        c.saw_logged_in = c.saw_logged_in or c.logged_epoch != old.logged_epoch or new.any_logged
        c.saw_free = c.saw_free or c.free_epoch != old.free_epoch or new.any_free
        c.logged_epoch, c.free_epoch = new.logged_epoch, new.free_epoch
        self._qwaiting[old.name] -= 1
        self._qwaiting[new.name] += 1
        self._transition(c, "contact.moved")
        c.queue = new.name
        self._want.add(c.channel)
        self._gaps_due = True

    # --------------------------------------------------------- turned away
    def _check_turned_away(self, ev: ContactTurnedAway) -> None:
        c = self._contact(ev.contact_id)
        self._check_mode(c, "contact.turned_away")
        contact_next(c.state, "contact.turned_away", c.id)

    def _on_turned_away(self, ev: ContactTurnedAway) -> None:
        c = self._contacts[ev.contact_id]
        now = max(self._fact, c.arrived_at)
        self._leave_queue(c)
        logged, busy = self._census_now(self._queues[c.queue])
        self._finish(c, "contact.turned_away", now)
        self._record(
            turned_away_record(
                c, reason=ev.reason, ended_at=now, logged_in_at_end=logged, busy_at_end=busy
            )
        )
