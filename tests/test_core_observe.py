"""Observed routing, per-queue membership and set_members, conversation by conversation."""

from __future__ import annotations

from typing import Any

import pytest

from router import HelplineConfig, Router
from router.checkpoint import dump, load
from router.errors import AgentBusy, InvalidTransition, NotOffered
from router.events import (
    AgentJoinedQueue,
    AgentLeftQueue,
    ContactMoved,
    ContactRang,
    ContactRingEnded,
)
from router.records import ContactRecord, NoAnswerRecord
from router.tables import MODE_TRIGGERS, mode_allows
from router.testing import Script, brief, rosters


def config(vo_config: HelplineConfig, **phone: Any) -> HelplineConfig:
    data = vo_config.model_dump()
    data["queues"]["phone"].update(phone)
    return HelplineConfig.model_validate(data)


class Pbx(Script):
    """A script that also reports what the carrier's queue did."""

    def rang(self, cid: str, *agents: str) -> list[Any]:
        return self.send(ContactRang(**self._env(None), contact_id=cid, agent_ids=agents))

    def rang_out(self, cid: str, *agents: str) -> list[Any]:
        return self.send(ContactRingEnded(**self._env(None), contact_id=cid, agent_ids=agents))

    def moved(self, cid: str, queue: str) -> list[Any]:
        return self.send(ContactMoved(**self._env(None), contact_id=cid, queue=queue))

    def joined(self, agent: str, queue: str) -> list[Any]:
        return self.send(AgentJoinedQueue(**self._env(None), agent_id=agent, queue=queue))

    def left(self, agent: str, queue: str) -> list[Any]:
        return self.send(AgentLeftQueue(**self._env(None), agent_id=agent, queue=queue))


@pytest.fixture
def pbx(vo_config: HelplineConfig) -> Pbx:
    s = Pbx(Router(config(vo_config, routing="observe")))
    s.at("2021-11-15 10:00")
    s.login("kss-1", "kss")
    s.login("kss-2", "kss")
    return s


def test_the_mode_table_says_which_triggers_each_mode_admits() -> None:
    assert {
        "offer": frozenset({"decide"}),
        "offer.declined": frozenset({"decide"}),
        "late_answer": frozenset({"decide"}),
        "auto_away": frozenset({"decide"}),
        "contact.rang": frozenset({"observe"}),
        "contact.ring_ended": frozenset({"observe"}),
        "observed_answer": frozenset({"observe"}),
        "contact.turned_away": frozenset({"observe"}),
    } == MODE_TRIGGERS
    assert (
        mode_allows("observe", "contact.rang"),
        mode_allows("decide", "contact.rang"),
        mode_allows("decide", "contact.answered"),
        mode_allows("observe", "contact.answered"),
    ) == (True, False, True, True)


def test_an_observed_queue_gets_no_offers_and_its_rings_ring_out_without_auto_away(
    pbx: Pbx,
) -> None:
    for n in range(5):  # more than max_no_answer (3) rings in a row
        cid = f"c{n}"
        assert brief(pbx.arrive(cid)) == []
        pbx.rang(cid, "kss-1")
        assert pbx.router._contacts[cid].state.value == "offered"
        pbx.after(15)
        pbx.rang_out(cid, "kss-1")
        assert pbx.router._contacts[cid].state.value == "waiting"
        assert brief(pbx.advance(30)) == []  # no ring timer, no retry: nothing of Linje's
        pbx.abandon(cid)
        assert pbx.outcome(cid) == ("unanswered", "other", "rang_unanswered")
    assert [a.presence.value for a in pbx.router.agent_states()] == ["ready", "ready"]
    assert len([r for r in pbx.records if isinstance(r, NoAnswerRecord)]) == 5


def test_an_observed_pick_up_needs_no_offer(pbx: Pbx) -> None:
    pbx.arrive("c1")
    pbx.after(4)
    assert brief(pbx.answer("c1", "kss-2")) == []  # nobody rang it as far as Linje knows
    pbx.arrive("c2")
    with pytest.raises(AgentBusy):
        pbx.answer("c2", "kss-2")  # one phone call at a time
    pbx.after(60)
    pbx.end("c1")
    [rec] = [r for r in pbx.records if isinstance(r, ContactRecord)]
    assert (rec.outcome, rec.agent_id, rec.wait_s, rec.handle_s) == ("answered", "kss-2", 4.0, 60.0)


def test_ringing_for_another_caller_is_not_busy_but_talking_is(pbx: Pbx) -> None:
    pbx.logout("kss-2")
    pbx.arrive("c1")
    pbx.arrive("c2")
    pbx.rang("c1", "kss-1")  # kss-1 rings for c1 while c2 waits
    pbx.after(30)
    pbx.abandon("c2")
    assert pbx.outcome("c2") == ("unanswered", "other", "agents_away")  # free, not rung
    pbx.answer("c1", "kss-1")
    pbx.arrive("c3")
    pbx.after(30)
    pbx.abandon("c3")
    assert pbx.outcome("c3") == ("unanswered", "agents_busy", None)  # kss-1 is talking


def test_observed_facts_are_refused_where_linje_decides_and_for_agents_not_ringing(
    vo_config: HelplineConfig, pbx: Pbx
) -> None:
    s = Pbx(Router(vo_config))
    s.at("2021-11-15 10:00")
    s.login("kss-1", "kss")
    s.arrive("c1")
    with pytest.raises(InvalidTransition, match="queue phone is routed in decide mode"):
        s.rang("c1", "kss-1")
    pbx.arrive("c1")
    with pytest.raises(NotOffered):
        pbx.rang_out("c1", "kss-1")
    pbx.rang("c1", "kss-1")
    with pytest.raises(NotOffered):
        pbx.rang_out("c1", "kss-2")


def test_a_moved_contact_is_classified_in_its_new_queue(vo_config: HelplineConfig) -> None:
    data = vo_config.model_dump()
    data["queues"]["phone"]["routing"] = "observe"
    data["queues"]["overflow"] = {**data["queues"]["phone"], "members": ["ok-1"]}
    s = Pbx(Router(HelplineConfig.model_validate(data)))
    s.at("2021-11-15 10:00")
    s.login("kss-1", "kss")
    s.arrive("c1")
    s.after(20)
    s.moved("c1", "overflow")
    c1 = "c1"
    assert s.router._contacts[c1].queue == "overflow"
    s.after(20)
    s.abandon(c1)
    [rec] = [r for r in s.records if isinstance(r, ContactRecord)]
    # kss-1 was logged in for the first queue: the contact saw someone, and it stays seen.
    assert (
        rec.queue,
        rec.unanswered,
        rec.other_reason,
        rec.wait_s,
    ) == ("overflow", "other", "agents_away", 40.0)


def test_configured_members_limit_who_is_offered_in_decide_mode(
    vo_config: HelplineConfig,
) -> None:
    s = Pbx(Router(config(vo_config, members=["kss-2"])))
    s.at("2021-11-15 10:00")
    s.login("kss-1", "kss")
    # kss-1 is no member: nobody of KSS may take the call, a gap is open at once.
    assert brief(s.arrive("c1")) == [("alert", "handover_gap")]
    assert brief(s.login("kss-2", "kss")) == [("offer", "c1", ("kss-2",))]
    s.joined("kss-1", "phone")
    s.answer("c1", "kss-2")
    assert brief(s.arrive("c2")) == [("offer", "c2", ("kss-1",))]
    s.left("kss-1", "phone")  # a ring already going on rings out
    s.after(25)
    s.abandon("c2")
    assert s.outcome("c2") == ("unanswered", "other", "rang_unanswered")


def phone(commands: list[Any]) -> list[tuple[str, tuple[str, ...], int]]:
    return [r for r in rosters(commands) if r[0] == "phone"]


def test_set_members_follows_logins_the_handover_absences_and_fallback(
    vo_config: HelplineConfig,
) -> None:
    s = Pbx(Router(config(vo_config, routing="observe")))
    s.at("2021-11-15 08:00")  # before KSS's 08:30: OK owns the phone
    assert phone(s.login("ok-1", "ok")) == [("phone", ("ok-1",), 1)]
    assert phone(s.login("kss-1", "kss")) == []  # not the owner's: not reachable
    assert phone(s.login("kss-1", "kss", ("phone", "chat"))) == []  # nothing changed
    assert phone(s.advance(to="2021-11-15 08:30")) == [("phone", ("kss-1",), 2)]
    assert phone(s.login("kss-2", "kss")) == [("phone", ("kss-1", "kss-2"), 3)]
    s.at("2021-11-15 10:00")
    assert phone(s.absent("kss", "2021-11-15 10:00",
                                                        "2021-11-15 12:00")) == [("phone", ("ok-1",), 4)]  # fmt: skip
    assert phone(s.advance(to="2021-11-15 12:00")) == [("phone", ("kss-1", "kss-2"), 5)]
    s.logout("kss-1")
    # The last KSS agent leaves: OK falls back in, its agent is reachable on the queue.
    assert phone(s.logout("kss-2")) == [("phone", ("ok-1",), 7)]
    assert s.router._roster["phone"] == (7, ("ok-1",))


def test_a_restored_router_continues_as_the_one_that_ran(pbx: Pbx) -> None:
    pbx.joined("kss-1", "phone")
    pbx.arrive("c1")
    pbx.rang("c1", "kss-1")
    again = load(pbx.router.config, dump(pbx.router))
    assert dump(again) == dump(pbx.router)
    twin = Pbx(again)
    twin.t, twin._n = pbx.t, pbx._n
    for s in (pbx, twin):
        s.after(10)
        s.rang_out("c1", "kss-1")
        s.logout("kss-2")
        s.after(10)
        s.abandon("c1")
    assert twin.outcome("c1") == pbx.outcome("c1") == ("unanswered", "other", "rang_unanswered")
    assert dump(twin.router) == dump(pbx.router)


def test_the_supervisor_sees_the_pbx_ringing(pbx: Pbx) -> None:
    pbx.arrive("c1")
    pbx.rang("c1", "kss-2", "kss-1")
    snap = pbx.router.snapshot()
    (phone,) = [q for q in snap["queues"] if q["queue"] == "phone"]
    assert [(w["contact_id"], w["state"], w["ringing"]) for w in phone["waiting"]] == [
        ("c1", "offered", ["kss-1", "kss-2"])
    ]
    assert (snap["totals"]["waiting"], snap["totals"]["offered"]) == (0, 1)
