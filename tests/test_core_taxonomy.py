"""Every unanswered contact ends in exactly one class, first match wins (docs/ARCHITECTURE.md "Domain")."""

from __future__ import annotations

from router.testing import Script


def busy_line(s: Script) -> None:
    """Both KSS phones busy with other callers on a Monday at 10:00."""
    s.at("2021-11-15 09:00")
    s.login("kss-c", "kss", ("chat",))
    s.login("kss-1", "kss")
    s.login("kss-2", "kss")
    s.at("2021-11-15 10:00")
    for n, a in (("x1", "kss-1"), ("x2", "kss-2")):
        s.arrive(n)
        s.answer(n, a)


def test_nobody_logged_in_is_no_agent(script: Script) -> None:
    s = script
    s.at("2021-11-15 10:00")
    s.arrive("c1")
    s.after(40)
    s.abandon("c1")
    assert s.outcome("c1") == ("unanswered", "no_agent", None)


def test_no_agent_precedes_short_abandon(script: Script) -> None:
    s = script
    s.at("2021-11-15 10:00")
    s.arrive("c1")
    s.after(5)
    s.abandon("c1")
    assert s.outcome("c1") == ("unanswered", "no_agent", None)


def test_an_agent_logging_in_during_the_wait_means_not_no_agent(script: Script) -> None:
    s = script
    s.at("2021-11-15 10:00")
    s.arrive("c1")
    s.after(10)
    s.login("kss-1", "kss")
    s.away("kss-1", "meeting")
    s.after(30)
    s.abandon("c1")
    assert s.outcome("c1") == ("unanswered", "other", "rang_unanswered")


def test_five_second_abandon_while_everyone_is_busy_is_short_abandon(script: Script) -> None:
    s = script
    busy_line(s)
    s.arrive("c1")
    s.after(5)
    s.abandon("c1")
    assert s.outcome("c1") == ("unanswered", "short_abandon", None)


def test_just_under_ten_seconds_is_short_and_ten_is_not(script: Script) -> None:
    s = script
    busy_line(s)
    s.arrive("c1")
    s.arrive("c2")
    s.after(9.999)
    s.abandon("c1")
    s.after(0.001)
    s.abandon("c2")
    assert s.outcome("c1") == ("unanswered", "short_abandon", None)
    assert s.outcome("c2") == ("unanswered", "agents_busy", None)


def test_forty_second_abandon_while_everyone_is_busy_is_agents_busy(script: Script) -> None:
    s = script
    busy_line(s)
    s.arrive("c1")
    s.after(40)
    s.abandon("c1")
    assert s.outcome("c1") == ("unanswered", "agents_busy", None)


def test_abandon_after_ringing_an_agent_who_did_not_pick_up_is_rang_unanswered(
    script: Script,
) -> None:
    s = script
    s.at("2021-11-15 09:00")
    s.login("kss-c", "kss", ("chat",))
    s.login("kss-1", "kss")
    s.at("2021-11-15 10:00")
    s.arrive("c1")
    s.advance(25)
    s.abandon("c1")
    assert s.outcome("c1") == ("unanswered", "other", "rang_unanswered")


def test_logged_in_but_away_is_other_agents_away(script: Script) -> None:
    s = script
    s.at("2021-11-15 09:00")
    s.login("kss-c", "kss", ("chat",))
    s.login("kss-1", "kss")
    s.away("kss-1", "other_duties")
    s.at("2021-11-15 10:00")
    s.arrive("c1")
    s.after(30)
    s.abandon("c1")
    assert s.outcome("c1") == ("unanswered", "other", "agents_away")


def test_an_agent_freed_during_the_wait_rings_so_it_is_rang_unanswered(script: Script) -> None:
    s = script
    busy_line(s)
    s.arrive("c1")
    s.after(20)
    s.end("x1")  # kss-1 is free: c1 rings there at once
    s.away("kss-1", "break")
    s.after(20)
    s.abandon("c1")
    assert s.outcome("c1") == ("unanswered", "other", "rang_unanswered")


def test_one_busy_and_one_away_is_agents_away_not_agents_busy(script: Script) -> None:
    s = script
    busy_line(s)
    s.end("x2")
    s.away("kss-2", "other_duties")
    s.arrive("c1")
    s.after(40)
    s.abandon("c1")
    assert s.outcome("c1") == ("unanswered", "other", "agents_away")


def test_missing_end_event_is_missing_data_even_with_nobody_logged_in(script: Script) -> None:
    s = script
    s.at("2021-11-15 10:00")
    s.arrive("c1")
    s.advance(3600)
    assert s.outcome("c1") == ("unanswered", "missing_data", None)


def test_an_unanswered_call_ended_by_the_carrier_is_classified_like_an_abandon(
    script: Script,
) -> None:
    s = script
    busy_line(s)
    s.arrive("c1")
    s.after(30)
    s.end("c1")
    assert s.outcome("c1") == ("unanswered", "agents_busy", None)


def test_raw_facts_are_kept_beside_the_class(script: Script) -> None:
    s = script
    busy_line(s)
    s.arrive("c1")
    s.after(30)
    s.abandon("c1")
    (r,) = [r for r in s.records if r.kind == "contact" and r.contact_id == "c1"]
    assert (r.wait_s, r.logged_in_at_arrival, r.busy_at_arrival, r.offers, r.team) == (
        30.0,
        2,
        2,
        0,
        "kss",
    )


def test_every_contact_gets_exactly_one_record(script: Script) -> None:
    s = script
    busy_line(s)
    for i in range(5):
        s.arrive(f"c{i}")
    s.after(12)
    s.abandon("c0")
    s.end("c0")  # the carrier's end after the hang-up changes nothing
    s.end("x1")
    s.advance(3600)
    ids = [r.contact_id for r in s.records if r.kind == "contact"]
    assert sorted(ids) == sorted(set(ids))
