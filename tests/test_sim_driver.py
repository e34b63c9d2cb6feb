"""The simulator's driver as a conversation with the router: who picks up, who leaves, when."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from router import (
    AgentAway,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentReady,
    ContactAbandoned,
    ContactAnswered,
    ContactArrived,
    ContactEnded,
    ContactRecord,
    HelplineConfig,
    NoAnswerRecord,
    event_from_dict,
    event_to_dict,
    record_to_dict,
)
from router.coverage import CoveragePlan
from sim import _events as ev
from sim.arrivals import Arrival
from sim.distributions import Exponential, Fixed, Never, Patience
from sim.driver import Absent, Simulation, Streams
from sim.rota import Pool, Timeline
from sim.scenario import Callers, TeamBehaviour
from sim.stationary import EPOCH, mmn_simulation

CALLER = Callers(patience=Patience(rest=Never(dist="never")), handle=Fixed(dist="fixed", value=300))


def fixed(value: float) -> Fixed:
    return Fixed(dist="fixed", value=value)


def line(**over: Any) -> HelplineConfig:
    """One team owning a phone (and a chat) queue 24/7; ``over`` changes a few settings."""
    return HelplineConfig.model_validate(
        {
            "id": "line",
            "timezone": "UTC",
            "holidays_country": None,
            "short_abandon_s": 0,
            "reconcile_wait_s": over.get("reconcile_wait_s", 1e9),
            "reconcile_service_s": 1e9,
            "channels": {
                "phone": {"capacity": 1, "ring_timeout_s": over.get("ring_timeout_s", 20)},
                "chat": {"capacity": 2, "ring_timeout_s": 60},
            },
            "agents": {"max_no_answer": over.get("max_no_answer", 0), "retry_s": 5},
            "teams": {"team": {}},
            "queues": {
                "phone": {"channel": "phone", "default": "team", "long_wait_s": 1e9},
                "chat": {"channel": "chat", "default": "team", "long_wait_s": 1e9},
            },
        }
    )


def simulate(
    config: HelplineConfig,
    arrivals: list[tuple[float, str]],
    *,
    staffing: tuple[tuple[float, int], ...] = ((0.0, 1),),
    channels: tuple[str, ...] = ("phone",),
    callers: dict[str, Callers] | None = None,
    team: TeamBehaviour | None = None,
    absences: tuple[Absent, ...] = (),
    start: float = EPOCH,
    seed: str = "driver",
) -> Simulation:
    pool = Pool(team=next(iter(config.teams)), channels=channels)
    s = Simulation(
        config=config,
        arrivals=[Arrival(at=start + t, channel=ch, queue=ch) for t, ch in arrivals],
        callers=callers or {"phone": CALLER, "chat": CALLER},
        teams={pool.team: team} if team else {},
        timeline=Timeline(pools=(pool,), changes=tuple((start + t, 0, n) for t, n in staffing)),
        streams=Streams(seed),
        start=start,
        end=start + max((t for t, _ in arrivals), default=0.0),
        absences=absences,
        trace=[],
    )
    s.run()
    return s


def contacts(s: Simulation) -> dict[str, ContactRecord]:
    return {r.contact_id: r for r in s.records if isinstance(r, ContactRecord)}


def sent(s: Simulation, kind: type) -> list[Any]:
    assert s.trace is not None
    return [e for e in s.trace if isinstance(e, kind)]


def test_cheap_contact_events_equal_the_validated_ones() -> None:
    pairs = [
        (
            ev.arrived("s1", 5.0, "c1", "phone", "phone"),
            ContactArrived(
                event_id="s1", at=5.0, source="sim", contact_id="c1", channel="phone", queue="phone"
            ),
        ),
        (
            ev.answered("s2", 6.0, "c1", "team.phone.1"),
            ContactAnswered(
                event_id="s2", at=6.0, source="sim", contact_id="c1", agent_id="team.phone.1"
            ),
        ),
        (
            ev.abandoned("s3", 7.0, "c1"),
            ContactAbandoned(event_id="s3", at=7.0, source="sim", contact_id="c1"),
        ),
        (
            ev.ended("s4", 8.0, "c1"),
            ContactEnded(event_id="s4", at=8.0, source="sim", contact_id="c1"),
        ),
    ]
    for cheap, checked in pairs:
        assert cheap == checked
        assert [f.name for f in dataclasses.fields(cheap)] == [
            f.name for f in dataclasses.fields(checked)
        ]
        assert event_from_dict(event_to_dict(cheap)) == checked


def test_an_offer_becomes_a_pick_up_after_the_agents_reach_time() -> None:
    team = TeamBehaviour(reach={"phone": fixed(7)})
    s = simulate(line(), [(100, "phone")], team=team)
    r = contacts(s)["c1"]
    assert (r.outcome, r.wait_s, r.handle_s, r.agent_id) == ("answered", 7.0, 300.0, "team.phone.1")


def test_a_caller_who_leaves_before_the_agent_reaches_the_phone_is_unanswered() -> None:
    team = TeamBehaviour(reach={"phone": fixed(30)})
    patient = Callers(patience=Patience(rest=fixed(12)), handle=fixed(300))
    s = simulate(line(ring_timeout_s=60), [(100, "phone")], team=team, callers={"phone": patient})
    r = contacts(s)["c1"]
    assert (r.outcome, r.unanswered, r.other_reason, r.wait_s) == (
        "unanswered",
        "other",
        "rang_unanswered",
        12.0,
    )
    assert sent(s, ContactAnswered) == []


def test_a_ring_longer_than_the_ring_time_times_out_and_rings_again_after_the_retry() -> None:
    team = TeamBehaviour(reach={"phone": fixed(25)})  # longer than the 20 s ring
    waits = Callers(patience=Patience(rest=fixed(90)), handle=fixed(300))
    s = simulate(line(), [(100, "phone")], team=team, callers={"phone": waits})
    r = contacts(s)["c1"]
    # Rings at 0, 25, 50 and 75 s (20 s ring + 5 s retry); the caller leaves at 90.
    assert (r.outcome, r.offers, r.wait_s) == ("unanswered", 4, 90.0)
    lapses = [x for x in s.records if isinstance(x, NoAnswerRecord)]
    assert [x.at - EPOCH for x in lapses] == [120.0, 145.0, 170.0]


def test_an_agent_auto_paused_by_the_router_comes_back_after_the_return_time() -> None:
    team = TeamBehaviour(reach={"phone": fixed(25)}, auto_away_return=fixed(60))
    waits = Callers(patience=Patience(rest=fixed(200)), handle=fixed(300))
    s = simulate(line(max_no_answer=1), [(100, "phone")], team=team, callers={"phone": waits})
    ready = [e.at - EPOCH for e in sent(s, AgentReady)]
    assert ready[0] == 180.0  # the ring lapsed at 120 s, back 60 s later
    assert contacts(s)["c1"].outcome == "unanswered"


def test_a_shift_ending_mid_call_logs_the_agent_out_when_the_call_ends() -> None:
    waits = Callers(patience=Patience(rest=fixed(300)), handle=fixed(300))
    s = simulate(
        line(),
        [(500, "phone"), (700, "phone")],
        staffing=((0, 1), (600, 0)),
        callers={"phone": waits},
    )
    assert [(e.reason, e.at - EPOCH) for e in sent(s, AgentAway)] == [("shift_end", 600.0)]
    assert [e.at - EPOCH for e in sent(s, AgentLoggedOut)] == [800.0]
    later = contacts(s)["c2"]
    # Never rang anyone: the only agent was finishing a call, away for the end of the
    # shift, then logged out (for an instant at 800 s logged in, free and away).
    assert (later.outcome, later.unanswered, later.other_reason, later.offers) == (
        "unanswered",
        "other",
        "agents_away",
        0,
    )


def test_a_late_login_leaves_the_line_with_nobody_logged_in() -> None:
    team = TeamBehaviour(late_login_share=1.0, late_login=fixed(600))
    waits = Callers(patience=Patience(rest=fixed(120)), handle=fixed(300))
    s = simulate(line(), [(60, "phone"), (700, "phone")], team=team, callers={"phone": waits})
    early, later = contacts(s)["c1"], contacts(s)["c2"]
    assert (early.outcome, early.unanswered) == ("unanswered", "no_agent")
    assert [e.at - EPOCH for e in sent(s, AgentLoggedIn)] == [600.0]
    assert later.outcome == "answered"


def test_other_duties_take_the_agent_away_for_the_configured_share_of_time() -> None:
    team = TeamBehaviour(away_share=0.25, away_mean_s=1800)
    days = 40
    s = simulate(line(), [(days * 86400.0, "phone")], team=team)
    away = 0.0
    since: float | None = None
    assert s.trace is not None
    for e in s.trace:
        if isinstance(e, AgentAway):
            since = e.at
        elif isinstance(e, AgentReady) and since is not None:
            away += e.at - since
            since = None
    assert all(e.reason == "other_duties" for e in sent(s, AgentAway))
    assert away / (days * 86400.0) == pytest.approx(0.25, abs=0.04)


def test_a_silent_chat_abandonment_is_answered_as_an_empty_chat() -> None:
    silent = Callers(
        patience=Patience(rest=fixed(10)),
        handle=fixed(1800),
        silent_share=1.0,
        silent_detect_s=600,
        silent_handle=fixed(60),
    )
    team = TeamBehaviour(reach={"chat": fixed(40)})
    s = simulate(line(), [(0, "chat")], channels=("chat",), team=team, callers={"chat": silent})
    r = contacts(s)["c1"]
    assert (r.outcome, r.wait_s, r.handle_s) == ("answered", 40.0, 60.0)


def test_a_silent_chat_abandonment_nobody_accepts_is_closed_by_the_vendor() -> None:
    silent = Callers(
        patience=Patience(rest=fixed(10)),
        handle=fixed(1800),
        silent_share=1.0,
        silent_detect_s=600,
    )
    s = simulate(line(), [(0, "chat")], channels=("chat",), staffing=(), callers={"chat": silent})
    r = contacts(s)["c1"]
    assert (r.outcome, r.wait_s) == ("unanswered", 610.0)
    assert [e.at - EPOCH for e in sent(s, ContactAbandoned)] == [610.0]


def test_a_contact_nobody_ends_is_reconciled_by_the_router_and_the_run_stops() -> None:
    s = simulate(line(reconcile_wait_s=3600), [(0, "phone")], staffing=())
    r = contacts(s)["c1"]
    assert (r.outcome, r.unanswered, r.wait_s) == ("unanswered", "missing_data", 3600.0)


def test_a_contact_on_a_closed_queue_is_rejected(vo_config: HelplineConfig) -> None:
    plan = CoveragePlan(vo_config)
    start = plan.instant(dt.date(2021, 3, 1), 0)  # the chat opened on 8 Apr 2021
    s = simulate(vo_config, [(36000, "chat")], channels=("chat",), start=start, staffing=())
    assert contacts(s)["c1"].outcome == "rejected_closed"


def test_an_absent_team_hands_its_window_to_the_fallback(vo_config: HelplineConfig) -> None:
    plan = CoveragePlan(vo_config)
    monday = dt.date(2021, 11, 15)
    start = plan.instant(monday, 0)
    absent = Absent(team="kss", start=start, end=plan.instant(monday, 1440))
    ok = Pool(team="ok", channels=("phone",))
    s = Simulation(
        config=vo_config,
        arrivals=[Arrival(at=start + 10 * 3600, channel="phone", queue="phone")],
        callers={"phone": CALLER},
        teams={},
        timeline=Timeline(pools=(ok,), changes=((start, 0, 1),)),
        streams=Streams("absence"),
        start=start,
        end=start + 86400,
        absences=(absent,),
    )
    s.run()
    r = contacts(s)["c1"]
    assert (r.team, r.agent_team, r.fallback) == ("ok", "ok", False)


def test_the_same_seed_gives_the_same_records_and_another_seed_other_ones() -> None:
    def records(seed: str) -> list[dict[str, Any]]:
        s = mmn_simulation(
            servers=2,
            arrival_rate=20 / 3600,
            mean_handle_s=300,
            mean_patience_s=120,
            customers=300,
            seed=seed,
        )
        return [record_to_dict(r) for r in s.run()]

    assert records("a") == records("a")
    assert records("a") != records("b")


def test_exponential_patience_really_is_drawn_per_caller() -> None:
    callers = Callers(
        patience=Patience(rest=Exponential(dist="exponential", mean=30)), handle=fixed(10)
    )
    s = simulate(
        line(), [(i * 10.0, "phone") for i in range(200)], staffing=(), callers={"phone": callers}
    )
    waits = sorted(r.wait_s for r in contacts(s).values())
    assert len(set(waits)) == 200
    assert 20 < sum(waits) / len(waits) < 40
