"""The statistics fold: figures from a conversation with the core, and its algebra."""

from __future__ import annotations

import random
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router import HelplineConfig, Router
from router.records import (
    OTHER_REASONS,
    UNANSWERED_CLASSES,
    ContactRecord,
    FeedbackRecord,
    GapRecord,
    NoAnswerRecord,
    Record,
)
from router.stats import GROUP_KEYS, Group, fold, fold_for_config, stats_to_json
from router.testing import Script

OSLO = ZoneInfo("Europe/Oslo")


def _day(vo_config: HelplineConfig) -> Script:
    """Monday 15 Nov 2021, one KSS agent: every outcome class once (hand-checked below)."""
    s = Script(Router(vo_config))
    s.at("2021-11-15 08:20")
    s.login("kss-1", "kss", ("phone", "chat"))
    s.at("2021-11-15 09:10:00")
    s.arrive("c1")
    s.after(15)
    s.answer("c1", "kss-1")  # wait 15
    s.at("2021-11-15 09:20:15")
    s.end("c1")  # handle 600
    s.at("2021-11-15 09:30:00")
    s.arrive("c2")
    s.after(5)
    s.abandon("c2")  # short abandon
    s.at("2021-11-15 10:00:00")
    s.arrive("c3a")
    s.after(5)
    s.answer("c3a", "kss-1")  # wait 5
    s.after(5)
    s.arrive("c3b")  # the only agent is busy
    s.after(30)
    s.abandon("c3b")  # agents_busy, wait 30
    s.at("2021-11-15 10:05:00")
    s.end("c3a")  # handle 295
    s.at("2021-11-15 10:30:00")
    s.arrive("ch2", "chat")
    s.after(40)
    s.answer("ch2", "kss-1")  # chat wait 40
    s.at("2021-11-15 10:50:00")
    s.end("ch2")  # handle 1160
    s.after(30)
    s.feedback("ch2", 8)
    s.at("2021-11-15 11:00:00")
    s.arrive("c4")  # rings 20 s, lapses, re-rings after 5 s
    s.advance(30)
    s.abandon("c4")  # other / rang_unanswered, wait 30
    s.at("2021-11-15 12:00:00")
    s.logout("kss-1")
    s.at("2021-11-15 12:10:00")
    s.arrive("c5")
    s.after(60)
    s.abandon("c5")  # no_agent, wait 60
    s.at("2021-11-15 21:00:00")
    s.arrive("ch1", "chat")  # chat closed at 21:00
    return s


def test_a_day_of_contacts_folds_into_hand_checked_figures(vo_config: HelplineConfig) -> None:
    s = _day(vo_config)
    stats = fold_for_config(s.records, vo_config, group_by=("channel",))
    chat, phone = (g.to_dict(stats.service_levels) for g in stats.groups)
    assert (chat["channel"], phone["channel"]) == ("chat", "phone")

    assert phone["contacts"] == 6
    assert phone["answered"] == 2
    assert phone["rejected_closed"] == 0
    assert phone["unanswered"] == {
        "missing_data": 0,
        "no_agent": 1,
        "short_abandon": 1,
        "agents_busy": 1,
        "other": 1,
    }
    assert phone["other_reasons"] == {"rang_unanswered": 1, "agents_away": 0}
    assert phone["answer_rate"] == 0.3333  # 2 / 6
    assert phone["answer_rate_excl_short"] == 0.4  # 2 / 5
    assert phone["service_level"] == {"20": 0.3333, "60": 0.3333}
    assert phone["service_level_excl_short"] == {"20": 0.4, "60": 0.4}
    assert phone["wait_answered_avg_s"] == 10.0
    assert phone["wait_answered_p90_s"] == 15.0
    assert phone["wait_max_s"] == 60.0
    assert phone["handle_avg_s"] == 447.5
    assert phone["no_answer_by_agent"] == {"kss-1": {"team": "kss", "no_answer": 1, "declined": 0}}

    assert chat["contacts"] == 2
    assert chat["answered"] == 1
    assert chat["rejected_closed"] == 1
    assert chat["rejected_closed_by_hour"][21] == 1
    assert sum(chat["rejected_closed_by_hour"]) == 1
    assert chat["answer_rate"] == 1.0  # the closed contact is outside the denominator
    assert chat["service_level"] == {"20": 0.0, "60": 1.0}
    assert chat["handle_avg_s"] == 1160.0
    assert chat["feedback"]["count"] == 1
    assert chat["feedback"]["average"] == 8.0
    assert chat["feedback"]["ratings"]["8"] == 1

    total = stats_to_json(fold_for_config(s.records, vo_config))["groups"]
    assert len(total) == 1
    t = total[0]
    assert (t["contacts"], t["answered"], t["rejected_closed"], t["unanswered_total"]) == (
        8,
        3,
        1,
        4,
    )
    assert t["answer_rate"] == 0.4286  # 3 / 7
    assert t["answer_rate_excl_short"] == 0.5  # 3 / 6
    assert t["service_level"] == {"20": 0.2857, "60": 0.4286}
    assert t["service_level_excl_short"] == {"20": 0.3333, "60": 0.5}
    assert t["wait_answered_avg_s"] == 20.0
    assert t["wait_answered_p90_s"] == 40.0


def test_group_keys_come_from_local_arrival_time_across_daylight_saving() -> None:
    # 31 Oct 2021 02:30 CEST (00:30 UTC) and 02:30 CET (01:30 UTC): the same local hour twice.
    t1, t2 = 1635640200.0, 1635643800.0
    records = [_answered("a", t1), _answered("b", t2), _answered("c", 1635724800.0)]
    stats = fold(records, tz=OSLO, group_by=("day", "hour", "weekday", "month"))
    keys = [g.key for g in stats.groups]
    assert keys == [
        (("day", "2021-10-31"), ("hour", 2), ("weekday", "sun"), ("month", "2021-10")),
        (("day", "2021-11-01"), ("hour", 1), ("weekday", "mon"), ("month", "2021-11")),
    ]
    assert [g.contacts for g in stats.groups] == [2, 1]


def test_weekdays_sort_in_week_order_and_unknown_values_last() -> None:
    # Sun 14, Mon 15, Sat 20 Nov 2021 at noon local time.
    times = [1636887600.0, 1636974000.0, 1637406000.0]
    records: list[Record] = [_answered(f"c{i}", t) for i, t in enumerate(times)]
    records.append(
        NoAnswerRecord(agent_id="x", team="ok", channel="phone", contact_id="gone", at=times[0])
    )
    by_day = fold(records, tz=OSLO, group_by=("weekday",))
    assert [g.key[0][1] for g in by_day.groups] == ["mon", "sat", "sun"]
    by_queue = fold(records, tz=OSLO, group_by=("queue",))
    assert [g.key for g in by_queue.groups] == [(("queue", "phone"),), (("queue", None),)]


def test_the_window_selects_contacts_by_arrival_and_their_feedback_follows() -> None:
    early, late = 1636974000.0, 1636974000.0 + 3600
    records = [
        _answered("a", early, channel="chat"),
        _answered("b", late, channel="chat"),
        FeedbackRecord(contact_id="a", channel="chat", team="kss", at=late + 60, rating=3),
        FeedbackRecord(contact_id="b", channel="chat", team="kss", at=late + 60, rating=9),
    ]
    only_early = fold(records, tz=OSLO, end=late).groups[0].to_dict((20,))
    assert only_early["contacts"] == 1
    assert only_early["feedback"]["average"] == 3.0
    only_late = fold(records, tz=OSLO, start=late).groups[0].to_dict((20,))
    assert only_late["feedback"]["ratings"]["9"] == 1
    assert only_late["feedback"]["count"] == 1


def test_handover_gaps_are_counted_per_local_boundary_and_weekday() -> None:
    mon_1530 = 1636986600.0  # Mon 15 Nov 2021 15:30 CET
    tue_0830 = mon_1530 + 17 * 3600
    gaps = [
        GapRecord(
            queue="phone", team="ok", boundary_at=mon_1530, start=mon_1530 + 300, end=mon_1530 + 900
        ),
        GapRecord(
            queue="phone", team="kss", boundary_at=tue_0830, start=tue_0830, end=tue_0830 + 120
        ),
        GapRecord(queue="chat", team="ok", boundary_at=mon_1530, start=mon_1530, end=mon_1530 + 60),
    ]
    stats = fold(
        gaps, tz=OSLO, group_by=("channel",), queue_channels={"phone": "phone", "chat": "chat"}
    )
    chat, phone = (g.to_dict((20,)) for g in stats.groups)
    assert chat["gaps"] == {
        "count": 1,
        "minutes": 1.0,
        "by_boundary": [{"weekday": "mon", "boundary": "15:30", "count": 1, "minutes": 1.0}],
    }
    assert phone["gaps"]["count"] == 2
    assert phone["gaps"]["minutes"] == 12.0
    assert phone["gaps"]["by_boundary"] == [
        {"weekday": "mon", "boundary": "15:30", "count": 1, "minutes": 10.0},
        {"weekday": "tue", "boundary": "08:30", "count": 1, "minutes": 2.0},
    ]


def test_a_lower_short_abandon_threshold_reclassifies_from_the_raw_facts() -> None:
    t = 1636974000.0
    records = [
        _unanswered("s-rung", t, "short_abandon", wait=8, agents_rung=1),
        _unanswered("s-busy", t, "short_abandon", wait=8, logged_in=2, busy=2),
        _unanswered("s-away", t, "short_abandon", wait=8, logged_in=2, busy=0),
        _unanswered("s-fast", t, "short_abandon", wait=3),
        _unanswered("busy", t, "agents_busy", wait=12, logged_in=1, busy=1),
        _unanswered("nobody", t, "no_agent", wait=4),
    ]
    as_recorded = fold(records, tz=OSLO, short_abandon_s=10).groups[0]
    assert as_recorded.unanswered["short_abandon"] == 4
    five = fold(records, tz=OSLO, short_abandon_s=5).groups[0]
    assert five.unanswered == {
        "missing_data": 0,
        "no_agent": 1,
        "short_abandon": 1,
        "agents_busy": 2,
        "other": 2,
    }
    assert five.other_reasons == {"rang_unanswered": 1, "agents_away": 1}
    fifteen = fold(records, tz=OSLO, short_abandon_s=15).groups[0]
    assert fifteen.unanswered["short_abandon"] == 5  # the busy one waited 12 s
    assert fifteen.unanswered["no_agent"] == 1  # no_agent comes before short_abandon


def test_no_records_give_one_empty_total_and_no_rates() -> None:
    out = stats_to_json(fold([], tz=OSLO))
    assert len(out["groups"]) == 1
    g = out["groups"][0]
    assert g["contacts"] == 0
    assert g["answer_rate"] is None
    assert g["wait_answered_avg_s"] is None
    assert fold([], tz=OSLO, group_by=("channel",)).groups == []


def test_an_unknown_group_key_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown group_by key 'agent'"):
        fold([], tz=OSLO, group_by=("agent",))
    with pytest.raises(ValueError, match="twice"):
        fold([], tz=OSLO, group_by=("team", "team"))


# --------------------------------------------------------------- properties
def _answered(cid: str, t: float, *, channel: str = "phone", wait: float = 5.0) -> ContactRecord:
    return ContactRecord(
        contact_id=cid,
        channel=channel,
        queue=channel,
        team="kss",
        arrived_at=t,
        ended_at=t + wait + 60,
        outcome="answered",
        answered_at=t + wait,
        agent_id="kss-1",
        agent_team="kss",
        wait_s=wait,
        handle_s=60.0,
    )


def _unanswered(
    cid: str,
    t: float,
    klass: str,
    *,
    wait: float,
    agents_rung: int = 0,
    logged_in: int = 1,
    busy: int = 0,
) -> ContactRecord:
    return ContactRecord(
        contact_id=cid,
        channel="phone",
        queue="phone",
        team="kss",
        arrived_at=t,
        ended_at=t + wait,
        outcome="unanswered",
        unanswered=klass,
        other_reason="rang_unanswered" if klass == "other" else None,
        wait_s=wait,
        agents_rung=agents_rung,
        logged_in_at_arrival=logged_in,
        busy_at_arrival=busy,
        logged_in_at_end=logged_in,
        busy_at_end=busy,
    )


# 2021, so both daylight-saving changes are inside the range.
_T = st.floats(min_value=1609459200.0, max_value=1640995200.0, allow_nan=False)
_WAIT = st.floats(min_value=0.0, max_value=900.0, allow_nan=False)


@st.composite
def _contact(draw: st.DrawFn, cid: str) -> ContactRecord:
    t = draw(_T)
    channel = draw(st.sampled_from(("phone", "chat")))
    team = draw(st.sampled_from(("kss", "ok")))
    outcome = draw(st.sampled_from(("answered", "rejected_closed", "unanswered")))
    wait = draw(_WAIT)
    common = {"contact_id": cid, "channel": channel, "queue": channel, "arrived_at": t}
    if outcome == "rejected_closed":
        return ContactRecord(**common, team="closed", ended_at=t, outcome=outcome)
    if outcome == "answered":
        handle = draw(_WAIT)
        return ContactRecord(
            **common,
            team=team,
            ended_at=t + wait + handle,
            outcome=outcome,
            answered_at=t + wait,
            agent_id="a1",
            agent_team=team,
            wait_s=wait,
            handle_s=handle,
            end_reconciled=draw(st.booleans()),
        )
    klass = draw(st.sampled_from(UNANSWERED_CLASSES))
    return ContactRecord(
        **common,
        team=team,
        ended_at=t + wait,
        outcome=outcome,
        unanswered=klass,
        other_reason=draw(st.sampled_from(OTHER_REASONS)) if klass == "other" else None,
        wait_s=wait,
        agents_rung=draw(st.integers(0, 3)),
        logged_in_at_arrival=draw(st.integers(0, 3)),
        busy_at_arrival=draw(st.integers(0, 3)),
    )


@st.composite
def _records(draw: st.DrawFn) -> list[Record]:
    n = draw(st.integers(0, 25))
    out: list[Record] = [draw(_contact(f"c{i}")) for i in range(n)]
    for _ in range(draw(st.integers(0, 6))):
        # Some refer to contacts that have not ended (no record): they use their own keys.
        cid = f"c{draw(st.integers(0, n + 2))}"
        channel = draw(st.sampled_from(("phone", "chat")))
        if draw(st.booleans()):
            out.append(
                FeedbackRecord(
                    contact_id=cid,
                    channel=channel,
                    team="kss",
                    at=draw(_T),
                    rating=draw(st.integers(1, 10)),
                )
            )
        else:
            out.append(
                NoAnswerRecord(
                    agent_id=draw(st.sampled_from(("a1", "a2"))),
                    team="ok",
                    channel=channel,
                    contact_id=cid,
                    at=draw(_T),
                    declined=draw(st.booleans()),
                )
            )
    for _ in range(draw(st.integers(0, 3))):
        start = draw(_T)
        out.append(
            GapRecord(
                queue=draw(st.sampled_from(("phone", "chat"))),
                team="ok",
                boundary_at=start - draw(st.floats(0, 600)),
                start=start,
                end=start + draw(_WAIT),
            )
        )
    return out


def _figures(g: Group) -> dict[str, object]:
    d = g.to_dict((20.0, 60.0))
    for name, _ in g.key:
        del d[name]
    return d


@settings(max_examples=150, deadline=None)
@given(
    records=_records(),
    group_by=st.lists(st.sampled_from(GROUP_KEYS), unique=True, max_size=3),
    seed=st.integers(0, 2**32 - 1),
)
def test_every_grouping_sums_to_the_totals_in_any_record_order(
    records: list[Record], group_by: list[str], seed: int
) -> None:
    queue_channels = {"phone": "phone", "chat": "chat"}
    totals = fold(records, tz=OSLO, queue_channels=queue_channels).groups
    assert len(totals) == 1
    grouped = fold(records, tz=OSLO, group_by=group_by, queue_channels=queue_channels)
    merged = Group(key=())
    for g in grouped.groups:
        merged.merge(g)
    assert _figures(merged) == _figures(totals[0])
    assert _figures(grouped.total()) == _figures(totals[0])
    shuffled = list(records)
    random.Random(seed).shuffle(shuffled)
    again = fold(shuffled, tz=OSLO, group_by=group_by, queue_channels=queue_channels)
    assert stats_to_json(again) == stats_to_json(grouped)
    t = totals[0]
    assert t.contacts == t.answered + t.rejected_closed + t.unanswered_total
