"""What a new user hit in the core, as conversations: each is a fix with its exact outcome."""

from __future__ import annotations

import pytest

from router import (
    ChatFeedback,
    ContactArrived,
    FeedbackRefused,
    IdempotencyConflict,
)
from router.stats import fold, stats_to_json
from router.testing import Script, brief


def test_an_answer_within_late_answer_s_of_the_ring_time_out_is_not_an_agent_no_answer(
    script: Script,
) -> None:
    s = script
    s.at("2021-11-15 20:00:00")
    s.login("ok-1", "ok")
    assert brief(s.arrive("c1")) == [("offer", "c1", ("ok-1",))]
    s.at("2021-11-15 20:00:20")
    s.answer("c1", "ok-1")
    s.after(300)
    s.end("c1")
    (group,) = stats_to_json(fold(s.records, tz=s.router.plan.tz))["groups"]
    assert group["answered"] == 1
    assert group["no_answer_by_agent"] == {"ok-1": {"team": "ok", "no_answer": 0, "declined": 0}}


def _ended_chat(s: Script, cid: str, *, answered: bool = True) -> None:
    s.arrive(cid, "chat")
    s.after(5)
    if answered:
        s.answer(cid, "kss-c")
        s.after(60)
        s.end(cid)
    else:
        s.abandon(cid)
    s.after(1)


def test_one_feedback_form_per_ended_answered_chat_the_others_refused(script: Script) -> None:
    s = script
    s.at("2021-11-15 10:00")
    s.login("kss-c", "kss", ("chat",))
    s.login("kss-1", "kss")
    s.arrive("live", "chat")
    s.after(5)
    s.answer("live", "kss-c")
    with pytest.raises(FeedbackRefused, match="has not ended"):
        s.feedback("live", 8)  # during the chat
    s.after(60)
    s.end("live")
    s.feedback("live", 8)  # the one form
    with pytest.raises(FeedbackRefused, match="already has its feedback"):
        s.feedback("live", 9)
    _ended_chat(s, "gone", answered=False)
    with pytest.raises(FeedbackRefused, match="was not answered"):
        s.feedback("gone", 2)
    s.arrive("p1")
    s.after(3)
    s.answer("p1", "kss-1")
    s.after(30)
    s.end("p1")
    with pytest.raises(FeedbackRefused, match="is a phone contact"):
        s.feedback("p1", 7)
    (group,) = stats_to_json(fold(s.records, tz=s.router.plan.tz))["groups"]
    assert {k: group["feedback"][k] for k in ("count", "average")} == {"count": 1, "average": 8.0}


def test_the_same_event_id_with_another_body_is_refused_and_the_first_kept(
    script: Script,
) -> None:
    s = script
    s.at("2021-11-15 10:00")
    s.login("kss-1", "kss")
    r = s.router
    first = ContactArrived(
        event_id="tn-1", at=s.t, source="carrier", contact_id="c1", channel="phone", queue="phone"
    )
    assert r.apply(first).status == "accepted"
    assert r.apply(first).status == "duplicate"
    other = ContactArrived(
        event_id="tn-1", at=s.t, source="carrier", contact_id="c2", channel="phone", queue="phone"
    )
    before = r.snapshot()
    step = r.apply(other)
    assert ("refused", IdempotencyConflict, "event_id") == (
        step.status,
        type(step.error),
        step.error.field if step.error else None,
    )
    assert before == r.snapshot()
    assert [w["contact_id"] for w in r.snapshot()["queues"][0]["waiting"]] == ["c1"]
    assert r.check_duplicate(first) is not None and r.check_duplicate(first).status == "duplicate"


def test_a_feedback_body_that_differs_only_in_its_rating_is_another_body() -> None:
    from router.events import event_digest

    one = ChatFeedback(event_id="f1", at=1.0, source="chat", contact_id="c1", rating=8)
    two = ChatFeedback(event_id="f1", at=1.0, source="chat", contact_id="c1", rating=9)
    assert event_digest(one) == event_digest(
        ChatFeedback(event_id="f1", at=1.0, source="chat", contact_id="c1", rating=8)
    )
    assert event_digest(one) != event_digest(two)


def test_a_segment_shows_its_real_start_even_more_than_two_days_back(script: Script) -> None:
    s = script
    s.at("2021-11-15 08:29")  # Monday: OK has owned the phone since Friday 15:30
    s.advance(0)
    (phone,) = [q for q in s.router.snapshot()["queues"] if q["queue"] == "phone"]
    assert ("ok", s.ts("2021-11-12 15:30")) == (phone["owner"], phone["since"])


def test_a_fresh_start_gives_the_owning_team_its_grace_before_a_gap(script: Script) -> None:
    s = script
    s.at("2021-11-15 10:00")  # KSS has owned the phone since 08:30; the service starts now
    assert brief(s.advance(0)) == []
    assert brief(s.advance(4 * 60)) == []
    assert brief(s.advance(60)) == [("alert", "handover_gap")] * 2  # phone and chat
    gaps = [a for a in s.router.snapshot()["alerts"] if a["kind"] == "handover_gap"]
    assert [("phone", s.ts("2021-11-15 10:05")), ("chat", s.ts("2021-11-15 10:05"))] == [
        (a["details"]["channel"], a["raised_at"]) for a in gaps
    ]


def test_an_open_gap_alert_shows_who_is_logged_in_now(script: Script) -> None:
    s = script
    s.at("2021-11-15 10:00")
    s.advance(0)
    s.advance(5 * 60)
    s.login("ok-1", "ok")  # the fallback team's agent arrives while KSS has nobody
    (gap,) = [
        a
        for a in s.router.snapshot()["alerts"]
        if a["kind"] == "handover_gap" and a["details"]["channel"] == "phone"
    ]
    assert gap["details"]["logged_in"] == {"kss": [], "ok": ["ok-1"]}
