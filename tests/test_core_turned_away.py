"""``contact.turned_away``: the PBX or carrier turned a caller away itself.

On a queue with ``routing = "observe"`` a closed line is ``rejected_closed``
whatever the coverage plan says, a full queue or a diverted caller is outcome
``turned_away`` with its reason kept; both stay outside the answer rate. On a
queue Linje decides, and for a contact it does not know, the fact is refused
with a typed error and nothing changes.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest

from router import HelplineConfig, Router
from router.checkpoint import dump
from router.errors import ContactAlreadyEnded, InvalidEvent, InvalidTransition, UnknownContact
from router.events import ContactRang, ContactTurnedAway
from router.records import ContactRecord
from router.stats import fold, stats_to_json
from router.testing import Script, brief
from tests.test_http_observe_e2e import observed


class Pbx(Script):
    def rang(self, cid: str, *agents: str) -> list[Any]:
        return self.send(ContactRang(**self._env(None), contact_id=cid, agent_ids=agents))

    def turned_away(self, cid: str, reason: str) -> list[Any]:
        return self.send(ContactTurnedAway(**self._env(None), contact_id=cid, reason=reason))


def figures(groups: list[dict[str, Any]], key: str, *more: str) -> dict[Any, tuple[Any, ...]]:
    """Per group (by ``key``): what a contact turned away changes, and ``more`` figures."""
    names = ("contacts", "answered", "rejected_closed", "turned_away", "turned_away_reasons")
    names += ("unanswered_total", "answer_rate", *more)
    return {g[key]: tuple(g[n] for n in names) for g in groups}


@pytest.fixture
def pbx(vo_config: HelplineConfig) -> Pbx:
    s = Pbx(Router(observed(vo_config)))
    s.at("2021-11-15 10:00")  # a Monday: KSS owns the phone by the plan
    s.login("kss-1", "kss")
    return s


def contacts(s: Script) -> list[tuple[Any, ...]]:
    return [
        (r.contact_id, r.outcome, r.unanswered, r.turned_away, r.team, r.wait_s)
        for r in s.records
        if isinstance(r, ContactRecord)
    ]


def test_a_closed_line_during_the_plan_s_open_hours_is_rejected_closed(pbx: Pbx) -> None:
    pbx.arrive("c1")
    assert brief(pbx.turned_away("c1", "closed")) == []  # the PBX did it: nothing to send
    assert contacts(pbx) == [("c1", "rejected_closed", None, "closed", "closed", 0.0)]
    assert pbx.router.snapshot()["totals"]["waiting"] == 0


def test_full_and_diverted_are_turned_away_with_their_reason(pbx: Pbx) -> None:
    pbx.arrive("c1")
    pbx.arrive("c2")
    pbx.rang("c2", "kss-1")
    pbx.after(60)
    pbx.turned_away("c1", "full")
    pbx.turned_away("c2", "diverted")  # DIVERT_HOLDTIME while a member rang
    assert contacts(pbx) == [
        ("c1", "turned_away", None, "full", "kss", 60.0),
        ("c2", "turned_away", None, "diverted", "kss", 60.0),
    ]
    [c2] = [r for r in pbx.records if isinstance(r, ContactRecord) and r.contact_id == "c2"]
    assert (c2.agents_rung, c2.offers, c2.logged_in_at_end, c2.answered_at) == (1, 1, 1, None)
    # Its ring is over: kss-1 rings for nobody and is free for the next caller.
    agents = pbx.router.snapshot()["agents"]
    assert [(a["agent_id"], a["channels"]["phone"]["state"]) for a in agents] == [
        ("kss-1", "ready")
    ]
    assert pbx.router._rang == {}
    with pytest.raises(ContactAlreadyEnded):
        pbx.turned_away("c2", "full")


def test_the_stats_count_turned_away_beside_rejected_closed_outside_the_answer_rate(
    pbx: Pbx,
) -> None:
    pbx.arrive("a1")
    pbx.answer("a1", "kss-1")
    pbx.after(30)
    pbx.end("a1")
    pbx.arrive("u1")
    pbx.after(30)
    pbx.abandon("u1")
    for cid, reason in (("f1", "full"), ("d1", "diverted"), ("d2", "diverted"), ("x1", "closed")):
        pbx.arrive(cid)
        pbx.turned_away(cid, reason)
    stats = fold(pbx.records, tz=ZoneInfo("Europe/Oslo"), group_by=("team",))
    groups = stats_to_json(stats)["groups"]
    assert figures(groups, "team", "service_level") == {
        "closed": (1, 0, 1, 0, {"full": 0, "diverted": 0}, 0, None, {"20": None, "60": None}),
        "kss": (5, 1, 0, 3, {"full": 1, "diverted": 2}, 1, 0.5, {"20": 0.5, "60": 0.5}),
    }
    total = stats.total()
    assert (total.contacts, total.turned_away_total, total.turned_away) == (
        6,
        3,
        {"full": 1, "diverted": 2},
    )


def test_refused_on_a_queue_linje_decides_and_for_an_unknown_contact(
    vo_config: HelplineConfig, pbx: Pbx
) -> None:
    s = Pbx(Router(vo_config))
    s.at("2021-11-15 10:00")
    s.arrive("c1")
    before = dump(s.router)
    with pytest.raises(InvalidTransition, match="queue phone is routed in decide mode") as err:
        s.turned_away("c1", "full")
    assert err.value.field == "type"
    assert dump(s.router) == before
    assert contacts(s) == []
    before = dump(pbx.router)
    with pytest.raises(UnknownContact) as unknown:
        pbx.turned_away("nobody", "closed")
    assert unknown.value.field == "contact_id"
    assert dump(pbx.router) == before


def test_an_answered_caller_cannot_be_turned_away(pbx: Pbx) -> None:
    pbx.arrive("c1")
    pbx.answer("c1", "kss-1")
    before = dump(pbx.router)
    with pytest.raises(InvalidTransition, match="in state in_service"):
        pbx.turned_away("c1", "full")
    assert dump(pbx.router) == before


def test_an_unknown_reason_is_refused_naming_the_field_not_its_content() -> None:
    with pytest.raises(InvalidEvent) as err:
        ContactTurnedAway(event_id="e1", at=1.0, source="pbx", contact_id="c1", reason="4791234567")
    assert err.value.field == "reason"
    assert "4791234567" not in str(err.value)
    assert str(err.value.detail) == "ContactTurnedAway.reason must be one of closed, full, diverted"
