"""Today's hourly breakdown (the dashboard's chart): contacts bucketed by the hour they arrived."""

from __future__ import annotations

from router.testing import Script


def hours(s: Script, channel: str = "phone") -> dict[str, dict[int, int]]:
    """The non-zero slots of each hourly series, as {hour: count}."""
    by_hour = s.router.snapshot()["today"]["channels"][channel]["by_hour"]
    return {k: {h: n for h, n in enumerate(v) if n} for k, v in by_hour.items()}


def test_contacts_answers_and_unanswered_count_in_the_hour_they_arrived(script: Script) -> None:
    s = script
    s.at("2021-11-15 09:59:50")
    s.login("kss-1", "kss")
    s.arrive("c1")
    s.after(15)  # answered at 10:00:05, but it arrived in the 09 hour
    s.answer("c1", "kss-1")
    s.arrive("c2")  # 10:00:05, kss-1 is busy
    s.after(30)
    s.abandon("c2")
    s.at("2021-11-15 14:10")
    s.arrive("c3")
    s.after(4)
    s.abandon("c3")
    assert hours(s) == {
        "contacts": {9: 1, 10: 1, 14: 1},
        "answered": {9: 1},
        "unanswered": {10: 1, 14: 1},
    }
    series = s.router.snapshot()["today"]["channels"]["phone"]["by_hour"]
    assert {k: len(v) for k, v in series.items()} == {
        "contacts": 24,
        "answered": 24,
        "unanswered": 24,
    }


def test_a_contact_from_yesterday_that_ends_today_counts_in_the_first_hour(script: Script) -> None:
    s = script
    s.at("2021-11-15 23:59:30")
    s.login("ok-1", "ok")
    s.login("ok-2", "ok")
    s.arrive("c1")
    s.after(5)
    s.answer("c1", "ok-1")
    s.arrive("c2")  # rings ok-2, who does not pick up before midnight
    s.advance(to="2021-11-16 00:00:10")
    s.abandon("c2")
    assert hours(s) == {"contacts": {}, "answered": {}, "unanswered": {0: 1}}


def test_the_hours_follow_local_time_across_the_dst_change(script: Script) -> None:
    s = script
    # 31 Oct 2021: clocks go back at 03:00 CEST to 02:00 CET; 02:xx happens twice.
    s.at("2021-10-31 01:59:55")
    s.login("ok-1", "ok")
    s.arrive("c1")
    s.after(10)  # 02:00:05 CEST
    s.answer("c1", "ok-1")
    s.after(3600)  # 02:00:05 CET: the second 02 hour
    s.end("c1")
    s.arrive("c2")
    s.after(4)
    s.abandon("c2")
    s.after(3600)  # 03:00:09 CET
    s.arrive("c3")
    assert hours(s) == {
        "contacts": {1: 1, 2: 1, 3: 1},
        "answered": {1: 1},
        "unanswered": {2: 1},
    }
