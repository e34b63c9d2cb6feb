"""Hypothesis drives random conversations; the core's invariants hold after every step."""

from __future__ import annotations

import contextlib
import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import event as _event
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from adapters.config_file import load_config
from router import Offer, Router
from router.errors import TimeWentBackwards
from router.events import (
    AgentAway,
    AgentJoinedQueue,
    AgentLeftQueue,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentReady,
    ContactAbandoned,
    ContactAnswered,
    ContactArrived,
    ContactEnded,
    ContactRang,
    ContactRingEnded,
    Event,
    OfferDeclined,
)
from router.records import ContactRecord
from router.step import DUPLICATE, REFUSED, Step
from tests.conftest import VO_LINJEN

CONFIG = load_config(VO_LINJEN)
START = 1636956000.0  # Monday 2021-11-15 07:00 local
AGENTS = {"kss-1": "kss", "kss-2": "kss", "kss-3": "kss", "ok-1": "ok", "ok-2": "ok"}
CHANNEL_SETS = [("phone",), ("chat",), ("phone", "chat")]


def event(note: str) -> None:
    """Count what the run exercised (pytest --hypothesis-show-statistics)."""
    with contextlib.suppress(Exception):  # outside a test (driving the machine by hand)
        _event(note)


def _observed() -> Any:
    data = CONFIG.model_dump()
    data["queues"]["phone"]["routing"] = "observe"
    return type(CONFIG).model_validate(data)


class CheckedRouter(Router):
    """The core, checking every offer it makes against the queue's eligibility."""

    def _offer(self, c: Any, targets: list[Any]) -> None:
        q = self._queues[c.queue]
        teams, _, _ = self._eligible(q)
        assert all(a.team in teams for a in targets), (c.queue, teams, [a.id for a in targets])
        assert all(self._may_take(q, a.agent_id) for a in targets), "not a member"
        assert q.name not in self._observe, "an offer in an observed queue"
        super()._offer(c, targets)


class RouterMachine(RuleBasedStateMachine):
    config = CONFIG

    def __init__(self) -> None:
        super().__init__()
        self.router = CheckedRouter(self.config)
        self.t = START
        self.n = 0
        self.contacts: list[str] = []
        self.sent: list[Event] = []
        self.records: list[Any] = []
        self.offers: list[Offer] = []
        self.answered_by: dict[str, str] = {}
        self.skew = 0.0

    def _env(self) -> dict[str, Any]:
        self.n += 1
        at, self.skew = self.t - self.skew, 0.0
        return {"event_id": f"e{self.n}", "at": at, "source": "hyp"}

    @initialize(phone=st.sampled_from(sorted(AGENTS)), chat=st.sampled_from(sorted(AGENTS)))
    def staff(self, phone: str, chat: str) -> None:
        self.login(phone, ("phone",))
        if chat != phone:
            self.login(chat, ("chat",))

    def _send(self, event_: Event) -> None:
        due = self.router.next_deadline()
        if due is not None and due <= event_.at:
            self._took(self.router.advance(event_.at))  # what the driver would have done
        before = self.router.snapshot()
        step = self.router.apply(event_)
        if step.error is not None:
            assert step.status == REFUSED
            assert self.router.snapshot() == before, "a refused event changed the state"
            event(f"refused {type(step.error).__name__}")
            self._took(step)  # timers due before it (none: the driver advanced)
            return
        event(f"accepted {event_.type}")
        self.sent.append(event_)
        self._took(step)

    def _took(self, step: Step) -> None:
        self.offers += [c for c in step.commands if isinstance(c, Offer)]
        self.records += step.records
        for r in self.records:
            if isinstance(r, ContactRecord):
                event(f"outcome {r.outcome}/{r.unanswered}")

    @rule(channel=st.sampled_from(["phone", "chat"]))
    def arrive(self, channel: str) -> None:
        cid = f"c{len(self.contacts)}"
        self.contacts.append(cid)
        self._send(ContactArrived(**self._env(), contact_id=cid, channel=channel, queue=channel))

    @rule(agent=st.sampled_from(sorted(AGENTS)), channels=st.sampled_from(CHANNEL_SETS))
    def login(self, agent: str, channels: tuple[str, ...]) -> None:
        self._send(
            AgentLoggedIn(**self._env(), agent_id=agent, team=AGENTS[agent], channels=channels)
        )

    @rule(agent=st.sampled_from(sorted(AGENTS)))
    def logout(self, agent: str) -> None:
        self._send(AgentLoggedOut(**self._env(), agent_id=agent))

    @rule(agent=st.sampled_from(sorted(AGENTS)))
    def ready(self, agent: str) -> None:
        self._send(AgentReady(**self._env(), agent_id=agent))

    @rule(agent=st.sampled_from(sorted(AGENTS)))
    def away(self, agent: str) -> None:
        self._send(AgentAway(**self._env(), agent_id=agent, reason="break"))

    @precondition(lambda self: self.offers)
    @rule(data=st.data())
    def answer_an_offer(self, data: st.DataObject) -> None:
        offer = data.draw(st.sampled_from(self.offers[-10:]))
        agent = data.draw(st.sampled_from(offer.agent_ids))
        self._send(ContactAnswered(**self._env(), contact_id=offer.contact_id, agent_id=agent))

    @precondition(lambda self: self.offers)
    @rule(data=st.data())
    def answer_the_latest_offer(self, data: st.DataObject) -> None:
        offer = self.offers[-1]
        agent = data.draw(st.sampled_from(offer.agent_ids))
        self._send(ContactAnswered(**self._env(), contact_id=offer.contact_id, agent_id=agent))

    @precondition(lambda self: self.contacts)
    @rule(data=st.data(), agent=st.sampled_from(sorted(AGENTS)))
    def answer_anything(self, data: st.DataObject, agent: str) -> None:
        cid = data.draw(st.sampled_from(self.contacts))
        self._send(ContactAnswered(**self._env(), contact_id=cid, agent_id=agent))

    @precondition(lambda self: self.offers)
    @rule(data=st.data())
    def decline(self, data: st.DataObject) -> None:
        offer = data.draw(st.sampled_from(self.offers[-10:]))
        agent = data.draw(st.sampled_from(offer.agent_ids))
        self._send(OfferDeclined(**self._env(), contact_id=offer.contact_id, agent_id=agent))

    @precondition(lambda self: self.contacts)
    @rule(data=st.data())
    def abandon(self, data: st.DataObject) -> None:
        cid = data.draw(st.sampled_from(self.contacts))
        self._send(ContactAbandoned(**self._env(), contact_id=cid))

    @precondition(lambda self: self.contacts)
    @rule(data=st.data())
    def end(self, data: st.DataObject) -> None:
        cid = data.draw(st.sampled_from(self.contacts))
        self._send(ContactEnded(**self._env(), contact_id=cid))

    @rule(agent=st.sampled_from(sorted(AGENTS)), queue=st.sampled_from(["phone", "chat"]))
    def join(self, agent: str, queue: str) -> None:
        self._send(AgentJoinedQueue(**self._env(), agent_id=agent, queue=queue))

    @rule(agent=st.sampled_from(sorted(AGENTS)), queue=st.sampled_from(["phone", "chat"]))
    def leave(self, agent: str, queue: str) -> None:
        self._send(AgentLeftQueue(**self._env(), agent_id=agent, queue=queue))

    @precondition(lambda self: self.contacts)
    @rule(data=st.data(), agents=st.sets(st.sampled_from(sorted(AGENTS)), min_size=1, max_size=3))
    def pbx_rings(self, data: st.DataObject, agents: set[str]) -> None:
        cid = data.draw(st.sampled_from(self.contacts))
        self._send(ContactRang(**self._env(), contact_id=cid, agent_ids=tuple(sorted(agents))))

    @precondition(lambda self: self.contacts)
    @rule(data=st.data(), agent=st.sampled_from(sorted(AGENTS)))
    def pbx_ring_ends(self, data: st.DataObject, agent: str) -> None:
        cid = data.draw(st.sampled_from(self.contacts))
        self._send(ContactRingEnded(**self._env(), contact_id=cid, agent_ids=(agent,)))

    @rule(seconds=st.sampled_from([0.5, 3, 9, 11, 21, 60, 300, 3600, 5 * 3600]))
    def time_passes(self, seconds: float) -> None:
        self.t += seconds
        self._took(self.router.advance(self.t))

    @rule(skew=st.floats(min_value=0, max_value=3))
    def next_event_from_a_late_clock(self, skew: float) -> None:
        self.skew = skew  # 2 s are tolerated; more is refused as time going backwards

    @precondition(lambda self: self.sent)
    @rule(data=st.data())
    def duplicate_delivery(self, data: st.DataObject) -> None:
        event = data.draw(st.sampled_from(self.sent))
        before = self.router.snapshot()
        assert self.router.now is not None
        if event.at >= self.router.now - CONFIG.dedup_window_s:
            step = self.router.apply(event)  # a redelivery: an accepted no-op
            assert (step.status, step.commands, step.records) == (DUPLICATE, [], [])
        else:
            # Older than the dedup window (ids are forgotten at most a minute late):
            # still a no-op if remembered, otherwise refused as time going backwards.
            step = self.router.apply(event)
            if step.error is not None:
                assert isinstance(step.error, TimeWentBackwards), step.error
            else:
                assert step.commands == []
        assert self.router.snapshot() == before

    # ------------------------------------------------------------- invariants
    @invariant()
    def no_agent_over_capacity(self) -> None:
        cap = {ch: c.capacity for ch, c in CONFIG.channels.items()}
        for a in self.router._agents.values():
            for ch, chs in a.channels.items():
                assert len(chs.active) + len(chs.offered) <= cap[ch], (a.id, ch)

    @invariant()
    def no_contact_answered_twice_or_by_two_agents(self) -> None:
        holders: dict[str, str] = {}
        for a in self.router._agents.values():
            for chs in a.channels.values():
                for cid in chs.active:
                    assert cid not in holders, cid
                    holders[cid] = a.id
        for cid, agent in holders.items():
            assert self.answered_by.setdefault(cid, agent) == agent
        ids = [r.contact_id for r in self.records if isinstance(r, ContactRecord)]
        assert len(ids) == len(set(ids))
        for r in self.records:
            if isinstance(r, ContactRecord) and r.agent_id is not None:
                assert self.answered_by.get(r.contact_id, r.agent_id) == r.agent_id

    @invariant()
    def counts_conserve(self) -> None:
        r = self.router
        waiting = sum(len(w) for w in r._waiting.values())
        in_service = sum(len(chs.active) for a in r._agents.values() for chs in a.channels.values())
        assert r.arrived_total == waiting + in_service + r.ended_total
        assert r.ended_total == sum(1 for x in self.records if isinstance(x, ContactRecord))
        for c in r._contacts.values():
            assert (c.state.value in ("waiting", "offered")) == (c.id in r._waiting[c.channel])
            assert (c.state.value == "offered") == bool(c.ringing or r._rang.get(c.id))
            assert not (c.ringing and c.queue in r._observe), "Linje rang in an observed queue"

    @invariant()
    def snapshot_agrees_with_counters(self) -> None:
        snap = self.router.snapshot()
        if snap["now"] is None:
            return
        totals = snap["totals"]
        assert totals["arrived"] == self.router.arrived_total
        assert totals["ended"] == self.router.ended_total
        listed = sum(len(q["waiting"]) for q in snap["queues"])
        assert listed == totals["waiting"] + totals["offered"]
        busy = sum(
            len(ch.get("active", [])) for a in snap["agents"] for ch in a["channels"].values()
        )
        assert busy == totals["in_service"]
        for a in snap["agents"]:
            for ch in a["channels"].values():
                if ch["state"] == "busy":
                    assert ch["active"]
                if ch["state"] == "offered":
                    assert ch["offered"] and not ch["active"]

    @invariant()
    def indexes_equal_a_rescan(self) -> None:
        """The counts and the ready index kept where channels change equal a scan from scratch."""
        r = self.router
        cap = {ch: c.capacity for ch, c in CONFIG.channels.items()}
        blocks = CONFIG.agents.phone_blocks_chat
        logged: dict[tuple[str, str], int] = {}
        occ: dict[tuple[str, str], int] = {}
        ready: dict[str, set[str]] = {ch: set() for ch in CONFIG.channels}
        for a in r._agents.values():
            for ch, chs in a.channels.items():
                key = (a.team, ch)
                logged[key] = logged.get(key, 0) + 1
                phone = a.channels.get("phone")
                blocked = (
                    ch == "chat"
                    and blocks
                    and phone is not None
                    and bool(phone.active or phone.offered)
                )
                full = len(chs.active) + len(chs.offered) >= cap[ch]
                occupied = chs.wrap_until is not None or full or blocked
                occ[key] = occ.get(key, 0) + occupied
                if not occupied and chs.presence.value == "ready":
                    ready[ch].add(a.id)
        assert {k: v for k, v in logged.items() if v} == {k: v for k, v in r._logged.items() if v}
        assert {k: v for k, v in occ.items() if v} == {k: v for k, v in r._occ.items() if v}
        assert ready == {ch: {aid for t in r._ready[ch].values() for aid in t} for ch in ready}
        assert {ch: len(ids) for ch, ids in ready.items()} == r._n_ready
        # The sorted names kept per (team, channel), once asked for, equal a fresh sort.
        names: dict[tuple[str, str], list[str]] = {}
        for a in r._agents.values():
            for ch in a.channels:
                names.setdefault((a.team, ch), []).append(a.id)
        for key in names:
            r._names_of(*key)  # builds the kept list the first time, so later steps keep it
        assert {k: sorted(v) for k, v in names.items()} == {k: v for k, v in r._names.items() if v}
        # Per queue with a member list: its members' counts.
        qlogged: dict[tuple[str, str], int] = {}
        qocc: dict[tuple[str, str], int] = {}
        for name, members in r._members.items():
            ch = CONFIG.queues[name].channel
            for aid in members:
                a = r._agents.get(aid)
                chs = a.channels.get(ch) if a is not None else None
                if a is not None and chs is not None:
                    qlogged[(name, a.team)] = qlogged.get((name, a.team), 0) + 1
                    qocc[(name, a.team)] = qocc.get((name, a.team), 0) + chs.occupied
        assert qlogged == {k: v for k, v in r._qlogged.items() if v}
        assert {k: v for k, v in qocc.items() if v} == {k: v for k, v in r._qocc.items() if v}
        assert {aid: sorted(qs) for aid, qs in r._member_of.items()} == {
            aid: sorted(q for q, m in r._members.items() if aid in m)
            for aid in {x for m in r._members.values() for x in m}
        }
        # The FIFO of waiting contacts that ring nobody.
        unrung = {
            ch: [c.seq for c in w.values() if c.state.value == "waiting"]
            for ch, w in r._waiting.items()
        }
        assert unrung == r._unrung

    @invariant()
    def what_contacts_saw_equals_a_census_now(self) -> None:
        """A waiting contact's "saw an eligible agent logged in / free" holds if one is now."""
        r = self.router
        if r.now is None:
            return
        for w in r._waiting.values():
            for c in w.values():
                q = r._queues[c.queue]
                logged, _, free = r._census(q)
                saw_logged = c.saw_logged_in or c.logged_epoch != q.logged_epoch
                saw_free = c.saw_free or c.free_epoch != q.free_epoch
                assert saw_logged or not logged, c.id
                assert saw_free or not free, c.id


# LINJE_DEEP_EXAMPLES=3000 runs it deeper (the figure of a deep run is in CHANGELOG.md).
RouterMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("LINJE_DEEP_EXAMPLES", "60")),
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestRouterMachine = RouterMachine.TestCase


class ObservedRouterMachine(RouterMachine):
    """The same conversations with the phone queue routed by its carrier (observe)."""

    config = _observed()


ObservedRouterMachine.TestCase.settings = RouterMachine.TestCase.settings
TestObservedRouterMachine = ObservedRouterMachine.TestCase
