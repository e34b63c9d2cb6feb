"""Conversations with the routing core: feed events, assert the exact commands.

Times are local (Europe/Oslo) as the helpline lives them. 2021-11-15 is a Monday.
"""

from __future__ import annotations

import pytest

from router import Router, UnknownContact
from router.testing import Script, brief


def agent(s: Script, agent_id: str) -> dict:  # type: ignore[type-arg]
    return next(a for a in s.router.snapshot()["agents"] if a["agent_id"] == agent_id)


def staffed(script: Script, when: str = "2021-11-15 08:00") -> Script:
    """KSS (two) and OK (one) on the phone, one of each on chat, on a Monday morning."""
    script.at(when)
    script.login("kss-c", "kss", ("chat",))
    script.login("ok-c", "ok", ("chat",))
    script.login("ok-1", "ok")
    script.login("kss-1", "kss")
    script.login("kss-2", "kss")
    return script


def test_ring_all_rings_every_ready_agent_of_the_owning_team(script: Script) -> None:
    s = staffed(script)
    s.at("2021-11-15 10:00")
    assert brief(s.arrive("c1")) == [("offer", "c1", ("kss-1", "kss-2"))]


def test_answer_cancels_the_other_rings(script: Script) -> None:
    s = staffed(script)
    s.at("2021-11-15 10:00")
    s.arrive("c1")
    s.after(4)
    assert brief(s.answer("c1", "kss-2")) == [("cancel_offer", "c1", ("kss-1",))]
    s.after(300)
    assert brief(s.end("c1")) == []
    assert s.outcome("c1") == ("answered", None, None)


def test_abandon_cancels_every_ring(script: Script) -> None:
    s = staffed(script)
    s.at("2021-11-15 10:00")
    s.arrive("c1")
    s.after(15)
    assert brief(s.abandon("c1")) == [("cancel_offer", "c1", ("kss-1", "kss-2"))]


def test_second_caller_rings_the_agent_freed_by_the_first_answer(script: Script) -> None:
    s = staffed(script)
    s.at("2021-11-15 10:00")
    s.arrive("c1")
    s.after(1)
    assert brief(s.arrive("c2")) == []  # every KSS phone is ringing for c1
    s.after(2)
    assert brief(s.answer("c1", "kss-1")) == [
        ("cancel_offer", "c1", ("kss-2",)),
        ("offer", "c2", ("kss-2",)),
    ]


def test_monday_1530_handover_with_a_caller_waiting(script: Script) -> None:
    s = staffed(script)
    s.at("2021-11-15 15:20")
    s.arrive("busy-1")
    s.answer("busy-1", "kss-1")
    s.arrive("busy-2")
    s.answer("busy-2", "kss-2")
    s.at("2021-11-15 15:29:30")
    assert brief(s.arrive("c1")) == []  # KSS owns the line; both KSS phones are busy
    # At 15:30 the crisis centre owns the line: the queued caller rings OK.
    assert brief(s.advance(to="2021-11-15 15:30:00")) == [("offer", "c1", ("ok-1",))]
    snap = s.router.snapshot()["queues"][0]
    assert (snap["owner"], snap["next_owner"]) == ("ok", "kss")
    assert snap["next_handover"] == s.ts("2021-11-16 08:30")


def test_ring_started_before_1530_finishes_its_ring_time(script: Script) -> None:
    s = staffed(script)
    s.at("2021-11-15 15:29:55")
    assert brief(s.arrive("c1")) == [("offer", "c1", ("kss-1", "kss-2"))]
    # The boundary adds OK's phone but does not cut KSS's ring short.
    assert brief(s.advance(to="2021-11-15 15:30:00")) == [("offer", "c1", ("ok-1",))]
    assert brief(s.advance(to="2021-11-15 15:30:14")) == []
    # KSS's 20 s ring times out after the boundary; they are not rung again.
    assert brief(s.advance(to="2021-11-15 15:30:15")) == [
        ("cancel_offer", "c1", ("kss-1", "kss-2"))
    ]
    s.at("2021-11-15 15:30:16")
    assert brief(s.answer("c1", "ok-1")) == []


def test_a_kss_agent_can_still_pick_up_a_ring_that_crossed_the_boundary(script: Script) -> None:
    s = staffed(script)
    s.at("2021-11-15 15:29:55")
    s.arrive("c1")
    s.at("2021-11-15 15:30:05")
    # The handover at 15:30 (due before the pick-up) rang OK too; the pick-up stops both.
    assert brief(s.answer("c1", "kss-1")) == [
        ("offer", "c1", ("ok-1",)),
        ("cancel_offer", "c1", ("kss-2", "ok-1")),
    ]


def test_easter_monday_is_routed_to_the_crisis_centre_all_day(script: Script) -> None:
    s = staffed(script, "2021-04-05 08:00")  # Easter Monday (2. paskedag)
    s.at("2021-04-05 10:00")
    assert brief(s.arrive("c1")) == [("offer", "c1", ("ok-1",))]
    snap = s.router.snapshot()
    assert snap["holiday"] is not None
    assert snap["queues"][0]["owner"] == "ok"
    assert snap["queues"][0]["next_handover"] == s.ts("2021-04-06 08:30")


def test_weekend_is_routed_to_the_crisis_centre(script: Script) -> None:
    s = staffed(script, "2021-11-13 08:00")  # Saturday
    s.at("2021-11-13 11:00")
    assert brief(s.arrive("c1")) == [("offer", "c1", ("ok-1",))]


def test_night_with_a_dst_change_keeps_the_handover_at_local_0830(script: Script) -> None:
    # Summer time ends on Sunday 2021-10-31 at 03:00 local (clocks go back to 02:00):
    # the night is 25 hours long, and the Monday handover is still at 08:30 local.
    s = staffed(script, "2021-10-30 20:00")
    s.at("2021-10-31 01:30")
    assert brief(s.arrive("c1")) == [("offer", "c1", ("ok-1",))]
    s.after(5)
    s.answer("c1", "ok-1")
    s.after(60)
    s.end("c1")
    snap = s.router.snapshot()["queues"][0]
    assert snap["owner"] == "ok"
    assert snap["next_handover"] == s.ts("2021-11-01 08:30")
    # From Friday 15:30 CEST to Monday 08:30 CET is 66 h, one more than on the wall clock.
    assert snap["since"] == s.ts("2021-10-29 15:30")
    assert snap["next_handover"] - snap["since"] == 66 * 3600
    s.at("2021-11-01 08:30")
    s.advance(0)
    assert s.router.snapshot()["queues"][0]["owner"] == "kss"


def test_spring_forward_night(script: Script) -> None:
    s = staffed(script, "2021-03-27 20:00")  # summer time starts Sunday 28 March 02:00 -> 03:00
    s.at("2021-03-29 08:29:59")
    s.advance(0)
    snap = s.router.snapshot()["queues"][0]
    assert snap["owner"] == "ok"
    assert snap["next_handover"] - snap["since"] == 64 * 3600  # Fri 15:30 to Mon 08:30, -1 h
    s.at("2021-03-29 08:30")
    s.advance(0)
    assert s.router.snapshot()["queues"][0]["owner"] == "kss"


def test_chat_is_rejected_as_closed_at_2001(script: Script) -> None:
    s = staffed(script)
    s.at("2021-11-15 20:01")
    assert brief(s.arrive("c1", "chat")) == [("reject", "c1", "closed")]
    assert s.outcome("c1") == ("rejected_closed", None, None)


def test_chat_before_september_2021_closes_at_1500(script: Script) -> None:
    s = staffed(script, "2021-06-14 09:00")
    s.at("2021-06-14 15:00:01")
    assert brief(s.arrive("c1", "chat")) == [("reject", "c1", "closed")]
    s.at("2021-06-15 14:59")
    assert brief(s.arrive("c2", "chat")) == [("offer", "c2", ("kss-c",))]


def test_chat_before_it_opened_in_april_2021_is_closed(script: Script) -> None:
    s = staffed(script, "2021-03-01 08:00")
    s.at("2021-03-01 10:00")
    assert brief(s.arrive("c1", "chat")) == [("reject", "c1", "closed")]


def test_chat_at_1500_hands_over_to_the_crisis_centre(script: Script) -> None:
    s = staffed(script)
    s.at("2021-11-15 15:00")
    assert brief(s.arrive("c1", "chat")) == [("offer", "c1", ("ok-c",))]


def test_chat_concurrency_limit(script: Script) -> None:
    s = staffed(script)  # kss-c holds up to 2 chats (vo-linjen.toml)
    s.at("2021-11-15 10:00")
    assert brief(s.arrive("c1", "chat")) == [("offer", "c1", ("kss-c",))]
    assert brief(s.arrive("c2", "chat")) == [("offer", "c2", ("kss-c",))]
    assert brief(s.arrive("c3", "chat")) == []  # both slots taken
    s.answer("c1", "kss-c")
    s.answer("c2", "kss-c")
    s.after(50)
    assert brief(s.end("c1")) == [("offer", "c3", ("kss-c",))]


def test_least_busy_spreads_chats(script: Script) -> None:
    s = script
    s.at("2021-11-15 10:00")
    s.login("kss-a", "kss", ("chat",))
    s.login("kss-b", "kss", ("chat",))
    assert brief(s.arrive("c1", "chat")) == [("offer", "c1", ("kss-a",))]
    assert brief(s.arrive("c2", "chat")) == [("offer", "c2", ("kss-b",))]
    assert brief(s.arrive("c3", "chat")) == [("offer", "c3", ("kss-a",))]


def test_busy_phone_blocks_new_chats(script: Script) -> None:
    s = script
    s.at("2021-11-15 10:00")
    s.login("kss-1", "kss", ("phone", "chat"))
    s.arrive("p1")
    s.answer("p1", "kss-1")
    assert brief(s.arrive("c1", "chat")) == []
    s.after(100)
    assert brief(s.end("p1")) == [("offer", "c1", ("kss-1",))]


def test_auto_away_after_three_unanswered_rings(script: Script) -> None:
    s = script
    s.at("2021-11-15 10:00")
    s.login("kss-1", "kss")
    s.login("kss-2", "kss")
    s.arrive("c1")
    s.answer("c1", "kss-2")  # kss-2 is busy; kss-1 is the only free phone
    s.arrive("c2")
    assert brief(s.advance(20)) == [("cancel_offer", "c2", ("kss-1",))]
    assert brief(s.advance(5)) == [("offer", "c2", ("kss-1",))]  # re-rung after retry=5 s
    assert brief(s.advance(20)) == [("cancel_offer", "c2", ("kss-1",))]
    assert brief(s.advance(5)) == [("offer", "c2", ("kss-1",))]
    assert brief(s.advance(20)) == [
        ("alert", "long_wait"),  # c2 has waited 60 s
        ("cancel_offer", "c2", ("kss-1",)),
        ("alert", "agent_auto_away"),
    ]
    agent = s.router.snapshot()["agents"][0]
    assert (agent["agent_id"], agent["presence"], agent["away_reason"]) == (
        "kss-1",
        "away",
        "no_answer",
    )
    assert brief(s.advance(60)) == []  # away: not rung again
    assert brief(s.ready("kss-1")) == [("offer", "c2", ("kss-1",))]


def test_answering_resets_the_no_answer_streak(script: Script) -> None:
    s = script
    s.at("2021-11-15 10:00")
    s.login("kss-1", "kss")
    s.arrive("c1")
    s.advance(20)
    s.advance(5)
    s.advance(20)
    s.advance(5)
    s.answer("c1", "kss-1")
    assert s.router.snapshot()["agents"][0]["no_answer_streak"] == 0


def test_fallback_during_a_handover_gap_raises_an_alert(script: Script) -> None:
    s = script
    s.at("2021-11-15 14:00")
    s.login("ok-c", "ok", ("chat",))
    s.login("kss-1", "kss")  # OK has nobody logged in on the phone
    # A fresh start gives KSS five minutes to log in on chat: then the chat's gap.
    assert brief(s.advance(to="2021-11-15 14:05")) == [("alert", "handover_gap")]
    s.at("2021-11-15 15:31")
    # OK owns the line but nobody from OK is there: the caller rings KSS and a gap is raised.
    assert brief(s.arrive("c1")) == [("offer", "c1", ("kss-1",)), ("alert", "handover_gap")]
    snap = s.router.snapshot()
    alert = next(a for a in snap["alerts"] if a["open"] and a["details"]["queue"] == "phone")
    assert alert["details"]["team"] == "ok"
    assert alert["details"]["logged_in"] == {"ok": [], "kss": ["kss-1"]}
    assert snap["queues"][0]["fallback_active"] is True
    s.after(3)
    s.answer("c1", "kss-1")
    s.after(60)
    s.end("c1")
    record = next(r for r in s.records if r.kind == "contact")
    assert record.fallback is True


def test_gap_alert_after_grace_with_nobody_waiting_and_closed_when_ok_logs_in(
    script: Script,
) -> None:
    s = script
    s.at("2021-11-15 14:00")
    s.login("kss-1", "kss")
    s.login("kss-c", "kss", ("chat",))
    s.login("ok-c", "ok", ("chat",))
    assert brief(s.advance(to="2021-11-15 15:30")) == []
    assert brief(s.advance(to="2021-11-15 15:34:59")) == []
    # grace_min = 5 for the phone: at 15:35 OK still has nobody on the phone.
    assert brief(s.advance(to="2021-11-15 15:35")) == [("alert", "handover_gap")]
    s.at("2021-11-15 15:41")
    s.login("ok-1", "ok")
    gap = next(r for r in s.records if r.kind == "gap" and r.queue == "phone")
    assert (gap.team, gap.start, gap.end) == (
        "ok",
        s.ts("2021-11-15 15:35"),
        s.ts("2021-11-15 15:41"),
    )
    assert gap.boundary_at == s.ts("2021-11-15 15:30")
    alert = next(a for a in s.router.snapshot()["alerts"] if a["kind"] == "handover_gap")
    assert alert["open"] is False
    s.ack(alert["alert_id"], "supervisor-1")
    assert all(a["alert_id"] != alert["alert_id"] for a in s.router.snapshot()["alerts"])


def test_fallback_off_leaves_the_caller_waiting(vo_config) -> None:  # type: ignore[no-untyped-def]
    queues = dict(vo_config.queues)
    queues["phone"] = queues["phone"].model_copy(update={"fallback": False})
    s = Script(Router(vo_config.model_copy(update={"queues": queues})))
    s.at("2021-11-15 14:00")
    s.login("kss-1", "kss")
    s.login("ok-c", "ok", ("chat",))
    # A fresh start gives KSS five minutes to log in on chat: then the chat's gap.
    assert brief(s.advance(to="2021-11-15 14:05")) == [("alert", "handover_gap")]
    s.at("2021-11-15 16:00")
    assert brief(s.arrive("c1")) == [("alert", "handover_gap")]


def test_kss_absence_hands_the_day_to_the_crisis_centre(script: Script) -> None:
    s = staffed(script)
    s.at("2021-11-15 08:10")
    s.absent("kss", "2021-11-15 08:00", "2021-11-20 00:00")
    s.at("2021-11-16 10:00")
    assert brief(s.arrive("c1")) == [("offer", "c1", ("ok-1",))]
    snap = s.router.snapshot()["queues"][0]
    assert snap["owner"] == "ok"
    assert snap["next_handover"] == s.ts("2021-11-22 08:30")  # absence ends Saturday


def test_away_agent_is_not_rung_and_its_rings_are_withdrawn(script: Script) -> None:
    s = staffed(script)
    s.at("2021-11-15 10:00")
    s.arrive("c1")
    assert brief(s.away("kss-1", "meeting")) == [("cancel_offer", "c1", ("kss-1",))]
    s.after(5)
    s.answer("c1", "kss-2")
    s.arrive("c2")
    s.after(30)
    assert brief(s.ready("kss-1")) == [("offer", "c2", ("kss-1",))]


def test_decline_rings_the_next_agent_with_longest_idle(vo_config) -> None:  # type: ignore[no-untyped-def]
    queues = dict(vo_config.queues)
    queues["phone"] = queues["phone"].model_copy(update={"strategy": "longest_idle"})
    s = Script(Router(vo_config.model_copy(update={"queues": queues})))
    s.at("2021-11-15 09:00")
    s.login("kss-c", "kss", ("chat",))
    s.login("kss-1", "kss")
    s.after(60)
    s.login("kss-2", "kss")
    s.at("2021-11-15 10:00")
    assert brief(s.arrive("c1")) == [("offer", "c1", ("kss-1",))]
    assert brief(s.decline("c1", "kss-1")) == [
        ("cancel_offer", "c1", ("kss-1",)),
        ("offer", "c1", ("kss-2",)),
    ]


def test_round_robin_rotates(vo_config) -> None:  # type: ignore[no-untyped-def]
    queues = dict(vo_config.queues)
    queues["phone"] = queues["phone"].model_copy(update={"strategy": "round_robin"})
    s = Script(Router(vo_config.model_copy(update={"queues": queues})))
    s.at("2021-11-15 10:00")
    for a in ("kss-1", "kss-2", "kss-3"):
        s.login(a, "kss")
    offered = []
    for i in range(4):
        (cmd,) = s.arrive(f"c{i}")
        offered.append(cmd.agent_ids[0])  # type: ignore[attr-defined]
        s.answer(f"c{i}", cmd.agent_ids[0])  # type: ignore[attr-defined]
        s.end(f"c{i}")
    assert offered == ["kss-1", "kss-2", "kss-3", "kss-1"]


def test_wrap_up_holds_the_agent_before_the_next_offer(vo_config) -> None:  # type: ignore[no-untyped-def]
    channels = dict(vo_config.channels)
    channels["phone"] = channels["phone"].model_copy(update={"wrap_up_s": 30.0})
    s = Script(Router(vo_config.model_copy(update={"channels": channels})))
    s.at("2021-11-15 10:00")
    s.login("kss-1", "kss")
    s.arrive("c1")
    s.answer("c1", "kss-1")
    s.after(100)
    s.end("c1")
    assert s.router.snapshot()["agents"][0]["channels"]["phone"]["state"] == "wrap_up"
    s.after(10)
    assert brief(s.arrive("c2")) == []
    assert brief(s.advance(20)) == [("offer", "c2", ("kss-1",))]


def test_late_pick_up_just_after_the_ring_timed_out_is_accepted(script: Script) -> None:
    s = staffed(script)
    s.at("2021-11-15 10:00")
    s.arrive("c1")
    s.advance(20)  # both rings time out
    s.after(1)
    assert brief(s.answer("c1", "kss-1")) == []
    assert agent(s, "kss-1")["channels"]["phone"]["state"] == "busy"


def test_snapshot_shows_waiting_contact_with_growing_wait(script: Script) -> None:
    s = staffed(script)
    s.at("2021-11-15 10:00")
    s.arrive("c1")
    s.advance(7)
    (w,) = s.router.snapshot()["queues"][0]["waiting"]
    assert (w["contact_id"], w["state"], w["wait_s"], w["ringing"]) == (
        "c1",
        "offered",
        7.0,
        ["kss-1", "kss-2"],
    )
    assert s.router.snapshot()["totals"] == {
        "arrived": 1,
        "ended": 0,
        "waiting": 0,
        "offered": 1,
        "in_service": 0,
    }


def test_long_wait_alert(script: Script) -> None:
    s = script
    s.at("2021-11-15 10:00")
    s.login("kss-1", "kss")
    s.arrive("c0")
    s.answer("c0", "kss-1")
    s.arrive("c1")
    assert brief(s.advance(60)) == [("alert", "long_wait")]


def test_todays_counters(script: Script) -> None:
    s = staffed(script)
    s.at("2021-11-15 10:00")
    s.arrive("c1")
    s.after(12)
    s.answer("c1", "kss-1")
    s.arrive("c2")
    s.after(3)
    s.abandon("c2")
    phone = s.router.snapshot()["today"]["channels"]["phone"]
    assert (phone["contacts"], phone["answered"], phone["unanswered"]["short_abandon"]) == (2, 1, 1)
    assert phone["answer_rate"] == 0.5
    assert phone["answer_rate_excl_short"] == 1.0
    s.at("2021-11-16 00:00:01")
    s.advance(0)
    assert s.router.snapshot()["today"] == {"date": "2021-11-16", "channels": {}}


def test_reconcile_closes_a_forgotten_contact_as_missing_data(script: Script) -> None:
    s = staffed(script)
    s.at("2021-11-15 10:00")
    s.away("kss-1")
    s.away("kss-2")
    s.arrive("c1")
    s.advance(3600)
    assert s.outcome("c1") == ("unanswered", "missing_data", None)


def test_reconcile_frees_an_agent_whose_call_never_ended(script: Script) -> None:
    s = staffed(script)
    s.at("2021-11-15 10:00")
    s.arrive("c1")
    s.answer("c1", "kss-1")
    s.advance(6 * 3600)
    assert s.outcome("c1") == ("answered", None, None)
    record = next(r for r in s.records if r.kind == "contact")
    assert record.end_reconciled is True
    assert agent(s, "kss-1")["channels"]["phone"]["state"] == "ready"


def test_feedback_and_flag_after_the_chat_ended(script: Script) -> None:
    s = script
    s.at("2021-11-15 10:00")
    s.login("kss-c", "kss", ("chat",))
    s.arrive("c1", "chat")
    s.answer("c1", "kss-c")
    s.after(900)
    s.end("c1")
    s.flag("c1", "duty_to_avert")
    s.feedback("c1", 9)
    kinds = [(r.kind, getattr(r, "rating", None)) for r in s.records]
    assert ("feedback", 9) in kinds
    assert ("flag", None) in kinds


def test_two_vendors_log_the_same_agent_in_on_their_own_channels(script: Script) -> None:
    s = staffed(script)
    s.at("2021-11-15 10:00")
    s.login("kss-1", "kss", ("chat",))  # the chat vendor reports kss-1 online
    assert set(agent(s, "kss-1")["channels"]) == {"phone", "chat"}
    assert agent(s, "kss-1")["channels"]["phone"]["state"] == "ready"
    s.logout("kss-1", ("phone",))  # the carrier reports kss-1 left the queue
    assert agent(s, "kss-1")["channels"]["phone"] == {"state": "logged_out"}
    assert agent(s, "kss-1")["channels"]["chat"]["state"] == "ready"
    assert brief(s.arrive("c1")) == [("offer", "c1", ("kss-2",))]


def test_timers_that_fired_before_a_refused_event_come_with_the_next_call(
    script: Script,
) -> None:
    s = script
    s.at("2021-11-15 10:00")
    s.login("kss-1", "kss")
    assert brief(s.arrive("c1")) == [("offer", "c1", ("kss-1",))]
    s.after(22)  # the ring timed out at 20 s, before this refused event's time
    with pytest.raises(UnknownContact):
        s.end("nobody")
    assert brief(s.advance(3)) == [
        ("cancel_offer", "c1", ("kss-1",)),  # fired before the refusal, held until now
        ("offer", "c1", ("kss-1",)),  # re-rung after retry = 5 s
    ]
