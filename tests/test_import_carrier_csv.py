"""Importing a carrier's monthly call log (CSV): outcomes checked by hand."""

from __future__ import annotations

import pytest

from adapters.importers.carrier_csv import import_carrier_csv
from adapters.importers.common import DryRunSink, parse_team_map
from router import HelplineConfig
from router.errors import BadInput
from router.records import ContactRecord
from router.stats import fold_for_config
from tests.test_http_observe_e2e import observed

D = "2021-11-15T"  # a Monday: KSS owns the phone 08:30-15:30, OK after
Z = "+01:00"

# The carrier adds a caller_number column: it must never be read.
CSV = f"""\
call_id,queue,arrived,answered,ended,agent,caller_number
tn-1,phone,{D}09:05:00{Z},{D}09:05:12{Z},{D}09:15:12{Z},kss-anne,4791234567
tn-2,phone,{D}09:20:00{Z},,{D}09:20:04{Z},,4790000001
tn-3,phone,{D}10:00:00{Z},{D}10:00:02{Z},{D}10:05:00{Z},kss-anne,4790000002
tn-4,phone,{D}10:00:10{Z},,{D}10:00:40{Z},,4790000003
tn-5,phone,{D}10:01:00{Z},,{D}10:01:05{Z},,4790000004
tn-6,phone,{D}16:00:00{Z},{D}16:00:30{Z},{D}16:10:00{Z},ok-bjorn,4790000005
tn-7,phone,{D}16:20:00{Z},,,,4790000006
tn-8,phone,{D}18:00:00{Z},{D}18:00:05{Z},{D}18:03:00{Z},ok-bjorn,4790000007
tn-1,phone,{D}18:10:00{Z},,{D}18:10:30{Z},,4790000008
tn-9,phone,2021-11-15 18:30:00,,,,4790000009
tn-10,sales,{D}18:31:00{Z},,{D}18:31:30{Z},,4790000010
tn-11,phone,{D}18:40:00{Z},{D}18:39:00{Z},{D}18:41:00{Z},ok-bjorn,4790000011
tn-12,phone,{D}18:45:00{Z},{D}18:45:10{Z},{D}18:50:00{Z},,4790000012
tn-14,phone,yesterday,,,,4790000013
tn-13,phone,{D}19:00:00{Z},,{D}19:00:30{Z},,4790000014
too,few
"""


@pytest.fixture
def teams(vo_config: HelplineConfig):  # type: ignore[no-untyped-def]
    return parse_team_map(["kss-*=kss", "ok-*=ok"], None, vo_config)


def test_a_day_of_carrier_rows_gives_the_hand_checked_outcomes(
    vo_config: HelplineConfig, teams
) -> None:  # type: ignore[no-untyped-def]
    sink = DryRunSink(vo_config)
    import_carrier_csv(CSV.splitlines(True), sink=sink, config=vo_config, teams=teams)
    outcomes = [
        (r.arrived_at, r.outcome, r.unanswered, r.wait_s)
        for r in sink.records
        if isinstance(r, ContactRecord)
    ]
    outcomes.sort()
    assert [(o, k, w) for _, o, k, w in outcomes] == [
        ("answered", None, 12.0),  # tn-1
        ("unanswered", "no_agent", 4.0),  # tn-2: nobody known to be there
        ("answered", None, 2.0),  # tn-3
        ("unanswered", "agents_busy", 30.0),  # tn-4: anne on tn-3
        ("unanswered", "short_abandon", 5.0),  # tn-5
        ("answered", None, 30.0),  # tn-6, OK's evening
        ("unanswered", "missing_data", 3600.0),  # tn-7: no end; reconciled after an hour
        ("answered", None, 5.0),  # tn-8
        ("unanswered", "no_agent", 30.0),  # tn-13
    ]
    teams_at_arrival = [r.team for r in sink.records if isinstance(r, ContactRecord)]
    assert teams_at_arrival.count("ok") == 4
    total = fold_for_config(sink.records, vo_config).groups[0]
    assert (total.answered, total.unanswered_total) == (4, 5)


def test_the_summary_reports_every_skipped_row_by_line(vo_config: HelplineConfig, teams) -> None:  # type: ignore[no-untyped-def]
    s = import_carrier_csv(
        CSV.splitlines(True), sink=DryRunSink(vo_config), config=vo_config, teams=teams
    )
    assert s.lines_read == 17
    assert dict(s.converted) == {
        "contact.arrived": 9,
        "contact.answered": 4,
        "contact.ended": 4,
        "contact.abandoned": 4,
    }
    assert dict(s.added) == {
        "agent logged in to answer": 4,
        "agent logged out after the call": 4,
    }
    assert s.skipped == [
        (10, "call_id listed before, on line 2"),
        (11, "arrived has no UTC offset"),
        (13, "answered is before arrived"),
        (14, "an answered call needs the agent who answered"),
        (15, "arrived is not an ISO 8601 time"),
        (17, "too few columns: got 2, the header has 7"),
    ]
    assert dict(s.unmapped) == {"queue 'sales' not in --queue-map": 1}
    assert dict(s.refused) == {}
    assert s.still_open == 1


def test_no_caller_number_reaches_an_event(vo_config: HelplineConfig, teams) -> None:  # type: ignore[no-untyped-def]
    seen: list[str] = []

    class Spy(DryRunSink):
        def ingest(self, events):  # type: ignore[no-untyped-def]
            seen.extend(repr(e) for e in events)
            return super().ingest(events)

    import_carrier_csv(CSV.splitlines(True), sink=Spy(vo_config), config=vo_config, teams=teams)
    assert len(seen) > 20
    assert not [e for e in seen if "479" in e or "tn-" in e]


def test_a_header_without_a_required_column_refuses_the_file(
    vo_config: HelplineConfig, teams
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BadInput, match="the header lacks column 'ended'"):
        import_carrier_csv(
            ["call_id,queue,arrived,answered,agent\n"],
            sink=DryRunSink(vo_config),
            config=vo_config,
            teams=teams,
        )
    with pytest.raises(BadInput, match="empty"):
        import_carrier_csv([], sink=DryRunSink(vo_config), config=vo_config, teams=teams)


def test_a_zero_length_call_still_ends_after_it_was_answered(
    vo_config: HelplineConfig, teams
) -> None:  # type: ignore[no-untyped-def]
    t = f"{D}11:00:00{Z}"
    text = f"call_id,queue,arrived,answered,ended,agent\nx,phone,{t},{t},{t},kss-anne\n"
    sink = DryRunSink(vo_config)
    s = import_carrier_csv(text.splitlines(True), sink=sink, config=vo_config, teams=teams)
    assert dict(s.refused) == {}
    rec = next(r for r in sink.records if isinstance(r, ContactRecord))
    assert (rec.outcome, rec.wait_s) == ("answered", 0.0)


def test_the_same_day_on_a_queue_the_carrier_routes_itself(
    vo_config: HelplineConfig, teams
) -> None:  # type: ignore[no-untyped-def]
    config = observed(vo_config)
    sink = DryRunSink(config)
    s = import_carrier_csv(CSV.splitlines(True), sink=sink, config=config, teams=teams)
    outcomes = sorted(
        (r.arrived_at, r.outcome, r.unanswered, r.wait_s)
        for r in sink.records
        if isinstance(r, ContactRecord)
    )
    # Every pick-up is the carrier's own: accepted without an offer from Linje. tn-7 has
    # no end: the carrier decides how long a caller waits, so it is not closed as missing
    # data after an hour but is still open when the file ends.
    assert [(o, k, w) for _, o, k, w in outcomes] == [
        ("answered", None, 12.0),
        ("unanswered", "no_agent", 4.0),
        ("answered", None, 2.0),
        ("unanswered", "agents_busy", 30.0),  # anne talking on tn-3
        ("unanswered", "short_abandon", 5.0),
        ("answered", None, 30.0),
        ("answered", None, 5.0),
        ("unanswered", "no_agent", 30.0),
    ]
    assert (dict(s.refused), s.still_open) == ({}, 1)


REJECTED = f"""\
call_id,queue,arrived,answered,ended,agent,rejected
tn-1,phone,{D}10:00:00{Z},,{D}10:00:00{Z},,closed
tn-2,phone,{D}10:05:00{Z},,{D}10:05:20{Z},,full
tn-3,phone,{D}10:10:00{Z},,,,diverted
tn-4,phone,{D}10:15:00{Z},,{D}10:15:30{Z},,
tn-5,phone,{D}10:20:00{Z},{D}10:20:05{Z},{D}10:21:00{Z},kss-anne,full
tn-6,phone,{D}10:25:00{Z},,{D}10:25:10{Z},,4791234567
"""


def test_calls_the_carrier_rejected_are_turned_away_on_an_observed_queue(
    vo_config: HelplineConfig, teams
) -> None:  # type: ignore[no-untyped-def]
    config = observed(vo_config)
    sink = DryRunSink(config)
    s = import_carrier_csv(REJECTED.splitlines(True), sink=sink, config=config, teams=teams)
    assert [
        (r.contact_id, r.outcome, r.unanswered, r.turned_away, r.team, r.wait_s)
        for r in sink.records
        if isinstance(r, ContactRecord)
    ] == [
        # 10:00 is KSS's by the plan: the carrier's closed line is what counts.
        ("cc-1636966800-2", "rejected_closed", None, "closed", "closed", 0.0),
        ("cc-1636967100-3", "turned_away", None, "full", "kss", 20.0),
        ("cc-1636967400-4", "turned_away", None, "diverted", "kss", 0.0),
        ("cc-1636967700-5", "unanswered", "no_agent", None, "kss", 30.0),
    ]
    assert s.skipped == [
        (6, "a rejected call cannot be answered"),
        (7, "rejected must be empty or one of closed, full, diverted"),
    ]
    assert dict(s.classes) == {
        "turned away by the carrier (closed)": 1,
        "turned away by the carrier (full)": 1,
        "turned away by the carrier (diverted)": 1,
    }
    assert "4791234567" not in "\n".join(s.lines() + s.problems())


def test_a_rejected_call_on_a_queue_linje_decides_ends_as_it_did_with_a_warning(
    vo_config: HelplineConfig, teams
) -> None:  # type: ignore[no-untyped-def]
    sink = DryRunSink(vo_config)
    rows = REJECTED.splitlines(True)[:3]
    s = import_carrier_csv(rows, sink=sink, config=vo_config, teams=teams)
    assert [
        (r.outcome, r.unanswered, r.turned_away)
        for r in sink.records
        if isinstance(r, ContactRecord)
    ] == [("unanswered", "no_agent", None), ("unanswered", "no_agent", None)]
    assert s.problems() == [
        "line 2: warning: rejected by the carrier on a queue Linje decides: counted as it ended",
        "line 3: warning: rejected by the carrier on a queue Linje decides: counted as it ended",
    ]
    assert dict(s.refused) == {}
