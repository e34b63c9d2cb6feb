"""Importing an Asterisk queue_log: every call's outcome checked by hand."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from adapters.importers.asterisk import import_queue_log, parse_line
from adapters.importers.common import DryRunSink, parse_queue_map, parse_team_map
from router import HelplineConfig
from router.errors import BadInput
from router.records import ContactRecord
from router.stats import fold_for_config


def T(hms: str) -> int:
    """Epoch of a local time on Monday 15 Nov 2021 (KSS owns the phone 08:30-15:30)."""
    h, m, s = (int(x) for x in hms.split(":"))
    return int(dt.datetime(2021, 11, 15, h, m, s, tzinfo=ZoneInfo("Europe/Oslo")).timestamp())


# One morning of the helpline's queue "vo" (and a call to another queue), as
# Asterisk writes it. Comments after each call say what the router concludes.
QUEUE_LOG = f"""\
{T("09:00:00")}|NONE|NONE|NONE|QUEUESTART|
{T("09:00:00")}|NONE|vo|SIP/kss1|ADDMEMBER|
{T("09:05:00")}|1636963500.1|vo|NONE|ENTERQUEUE||4791234567|1
{T("09:05:12")}|1636963500.1|vo|SIP/kss1|CONNECT|12|1636963512.2|12
{T("09:15:12")}|1636963500.1|vo|SIP/kss1|COMPLETECALLER|12|600|1
{T("09:20:00")}|1636964400.3|vo|NONE|ENTERQUEUE||4790000001|1
{T("09:20:04")}|1636964400.3|vo|NONE|ABANDON|1|1|4
{T("09:30:00")}|1636965000.4|vo|NONE|ENTERQUEUE||4790000002|1
{T("09:30:20")}|1636965000.4|vo|SIP/kss1|RINGNOANSWER|20000
{T("09:30:40")}|1636965000.4|vo|NONE|ABANDON|1|1|40
this is not a queue log line
{T("09:40:00")}|1636965600.5|vo|NONE|ENTERQUEUE||4790000003|1
{T("09:40:03")}|1636965600.5|vo|SIP/kss2|CONNECT|3|1636965603.6|3
{T("09:44:00")}|NONE|vo|SIP/kss1|PAUSE|lunch
{T("09:45:00")}|1636966200.7|vo|NONE|ENTERQUEUE||4790000004|1
{T("09:45:30")}|1636966200.7|vo|NONE|ABANDON|1|1|30
{T("09:50:00")}|1636965600.5|vo|SIP/kss2|COMPLETEAGENT|3|597|1
{T("09:50:00")}|NONE|vo|SIP/kss1|UNPAUSE|
{T("10:00:00")}|1636966800.8|vo|NONE|ENTERQUEUE||4790000005|1
{T("10:00:02")}|1636966800.8|vo|SIP/kss1|CONNECT|2|1636966802.9|2
{T("10:00:05")}|1636966805.10|vo|NONE|ENTERQUEUE||4790000006|1
{T("10:00:06")}|1636966805.10|vo|SIP/kss2|CONNECT|1|1636966806.11|1
{T("10:00:10")}|1636966810.12|vo|NONE|ENTERQUEUE||4790000007|1
{T("10:00:40")}|1636966810.12|vo|NONE|ABANDON|1|1|30
{T("10:05:00")}|1636966800.8|vo|SIP/kss1|COMPLETEAGENT|2|298|1
{T("10:06:00")}|1636966805.10|vo|SIP/kss2|COMPLETECALLER|1|354|1
{T("10:10:00")}|NONE|vo|SIP/kss1|REMOVEMEMBER|
{T("10:10:00")}|NONE|vo|SIP/kss2|REMOVEMEMBER|
{T("10:20:00")}|1636967800.13|vo|NONE|ENTERQUEUE||4790000008|1
{T("10:21:00")}|1636967800.13|vo|NONE|EXITEMPTY|1|1|60
{T("10:30:00")}|1636968600.14|sales|NONE|ENTERQUEUE||4790000009|1
{T("10:30:09")}|1636968600.14|sales|NONE|ABANDON|1|1|9
{T("10:31:00")}|1636900000.99|vo|SIP/kss1|CONNECT|5|1636900005.1|5
{T("10:32:00")}|NONE|vo|SIP/kss1|FOOBAR|x
abc|1636968700.1|vo|NONE|ENTERQUEUE||4790000010|1
{T("10:33:00")}|1636968700.2|vo
{T("10:34:00")}|1636968700.3|vo|SIP/kss1|CONNECT|soon|x|y
{T("10:40:00")}|1636969200.15|vo|NONE|ENTERQUEUE||4790000011|1
"""


@pytest.fixture
def mapping(vo_config: HelplineConfig) -> dict[str, object]:
    return {
        "queue_map": parse_queue_map(["vo=phone"], vo_config),
        "teams": parse_team_map(["SIP/kss*=kss", "SIP/ok*=ok"], None, vo_config),
    }


def _import(vo_config: HelplineConfig, mapping: dict[str, object], text: str = QUEUE_LOG):
    sink = DryRunSink(vo_config)
    summary = import_queue_log(text.splitlines(True), sink=sink, config=vo_config, **mapping)  # type: ignore[arg-type]
    return sink, summary


def test_a_morning_of_queue_log_gives_the_hand_checked_outcomes(
    vo_config: HelplineConfig, mapping: dict[str, object]
) -> None:
    sink, _ = _import(vo_config, mapping)
    outcomes = {
        r.contact_id: (r.outcome, r.unanswered, r.other_reason)
        for r in sink.records
        if isinstance(r, ContactRecord)
    }
    assert outcomes == {
        "aq-1636963500.1": ("answered", None, None),
        "aq-1636964400.3": ("unanswered", "short_abandon", None),  # left after 4 s
        "aq-1636965000.4": ("unanswered", "other", "rang_unanswered"),  # kss1 let it ring
        "aq-1636965600.5": ("answered", None, None),  # kss2, a static member
        "aq-1636966200.7": ("unanswered", "other", "agents_away"),  # kss1 at lunch
        "aq-1636966800.8": ("answered", None, None),
        "aq-1636966805.10": ("answered", None, None),
        "aq-1636966810.12": ("unanswered", "agents_busy", None),  # both on calls
        "aq-1636967800.13": ("unanswered", "no_agent", None),  # nobody a member
    }
    waits = {
        r.contact_id: r.wait_s
        for r in sink.records
        if isinstance(r, ContactRecord) and r.outcome == "answered"
    }
    assert waits == {
        "aq-1636963500.1": 12.0,
        "aq-1636965600.5": 3.0,
        "aq-1636966800.8": 2.0,
        "aq-1636966805.10": 1.0,
    }
    total = fold_for_config(sink.records, vo_config).groups[0]
    assert total.answered == 4
    assert total.unanswered == {
        "missing_data": 0,
        "no_agent": 1,
        "short_abandon": 1,
        "agents_busy": 1,
        "other": 2,
    }
    assert total.to_dict((20,))["answer_rate"] == 0.4444  # 4 / 9
    assert total.to_dict((20,))["answer_rate_excl_short"] == 0.5  # 4 / 8


def test_the_summary_accounts_for_every_line(
    vo_config: HelplineConfig, mapping: dict[str, object]
) -> None:
    _, s = _import(vo_config, mapping)
    assert s.lines_read == 38
    assert dict(s.converted) == {
        "contact.arrived": 10,
        "contact.answered": 4,
        "contact.abandoned": 5,
        "contact.ended": 4,
        "agent.logged_in": 1,
        "agent.logged_out": 2,
        "agent.away": 1,
        "agent.ready": 1,
    }
    assert dict(s.added) == {"agent logged in to answer": 1}
    assert [n for n, _ in s.skipped] == [11, 35, 36, 37]
    assert dict(s.ignored) == {"QUEUESTART": 1, "RINGNOANSWER": 1}
    assert dict(s.unknown) == {"FOOBAR": 1}
    assert dict(s.unmapped) == {"queue 'sales' not in --queue-map": 2}
    assert s.before_log == 1
    assert dict(s.refused) == {}
    assert s.still_open == 1
    text = "\n".join(s.lines())
    assert "lines read: 38" in text
    assert "lines skipped as malformed: 4 (lines 11, 35, 36, 37)" in text
    problems = s.problems()
    assert problems[0] == "line 11: skipped: expected at least 5 |-separated fields, got 1"
    assert "line 35: skipped: the timestamp (field 1) is not a UNIX time" in problems
    assert "line 37: skipped: CONNECT data1 (field 6) must be a whole number" in problems


def test_the_caller_id_never_reaches_an_event(
    vo_config: HelplineConfig, mapping: dict[str, object]
) -> None:
    seen: list[str] = []

    class Spy(DryRunSink):
        def ingest(self, events):  # type: ignore[no-untyped-def]
            seen.extend(repr(e) for e in events)
            return super().ingest(events)

    import_queue_log(QUEUE_LOG.splitlines(True), sink=Spy(vo_config), config=vo_config, **mapping)  # type: ignore[arg-type]
    assert seen
    assert not [e for e in seen if "479" in e]


def test_importing_the_same_lines_twice_adds_nothing(
    vo_config: HelplineConfig, mapping: dict[str, object]
) -> None:
    sink = DryRunSink(vo_config)
    lines = QUEUE_LOG.splitlines(True)[:8]
    import_queue_log(lines, sink=sink, config=vo_config, **mapping)  # type: ignore[arg-type]
    again = import_queue_log(lines, sink=sink, config=vo_config, **mapping)  # type: ignore[arg-type]
    assert sum(again.converted.values()) == 0
    assert dict(again.refused) == {}
    assert again.duplicates == 7  # every line but QUEUESTART carried an event


def test_a_refused_answer_is_counted_with_its_reason_not_fatal(
    vo_config: HelplineConfig, mapping: dict[str, object]
) -> None:
    # KSS owns the line and kss1 is logged in, so an OK agent is never offered the call.
    text = f"""\
{T("11:00:00")}|NONE|vo|SIP/kss1|ADDMEMBER|
{T("11:00:00")}|NONE|vo|SIP/ok1|ADDMEMBER|
{T("11:01:00")}|1.1|vo|NONE|ENTERQUEUE||x|1
{T("11:01:05")}|1.1|vo|SIP/ok1|CONNECT|5|1.2|5
{T("11:05:00")}|1.1|vo|SIP/ok1|COMPLETEAGENT|5|235|1
"""
    sink, s = _import(vo_config, mapping, text)
    assert dict(s.refused) == {"contact.answered: not-offered": 1}
    assert s.problems() == [
        "line 4: refused by the router: contact.answered: contact aq-1.1 is not ringing "
        "agent SIP-ok1; only an offered agent can answer"
    ]
    rec = next(r for r in sink.records if isinstance(r, ContactRecord))
    assert (rec.outcome, rec.unanswered) == ("unanswered", "other")


def test_a_member_removed_mid_call_is_logged_out_when_the_call_ends(
    vo_config: HelplineConfig, mapping: dict[str, object]
) -> None:
    text = f"""\
{T("11:00:00")}|NONE|vo|SIP/kss1|ADDMEMBER|
{T("11:01:00")}|1.1|vo|NONE|ENTERQUEUE||x|1
{T("11:01:05")}|1.1|vo|SIP/kss1|CONNECT|5|1.2|5
{T("11:02:00")}|NONE|vo|SIP/kss1|REMOVEMEMBER|
{T("11:05:00")}|1.1|vo|SIP/kss1|COMPLETEAGENT|5|235|1
{T("11:06:00")}|2.1|vo|NONE|ENTERQUEUE||x|1
{T("11:07:00")}|2.1|vo|NONE|ABANDON|1|1|60
"""
    sink, s = _import(vo_config, mapping, text)
    assert dict(s.added) == {"logout held until the call ended": 1}
    assert dict(s.refused) == {}
    last = [r for r in sink.records if isinstance(r, ContactRecord)][-1]
    assert (last.contact_id, last.unanswered) == ("aq-2.1", "no_agent")


def test_a_caller_who_overflows_to_another_queue_is_a_second_contact(
    vo_config: HelplineConfig, mapping: dict[str, object]
) -> None:
    text = f"""\
{T("11:01:00")}|1.1|vo|NONE|ENTERQUEUE||x|1
{T("11:02:00")}|1.1|vo|NONE|EXITWITHTIMEOUT|1|1|60
{T("11:02:00")}|1.1|vo|NONE|ENTERQUEUE||x|1
{T("11:02:30")}|1.1|vo|NONE|EXITWITHKEY|5|1|1|30
"""
    sink, _ = _import(vo_config, mapping, text)
    ids = [r.contact_id for r in sink.records if isinstance(r, ContactRecord)]
    assert ids == ["aq-1.1", "aq-1.1-2"]


def test_parse_line_reports_what_is_wrong() -> None:
    assert parse_line("1|2|3|4", 1) == "expected at least 5 |-separated fields, got 4"
    assert parse_line("1636963200|1.1|vo|NONE|enterqueue", 1) == (
        "the event name (field 5) is not an upper-case word"
    )
    assert parse_line("1636963200|a b|vo|NONE|ENTERQUEUE", 1) == (
        "ENTERQUEUE needs a call id (field 2) of letters, digits and ._-"
    )
    ok = parse_line("1636963200|NONE|vo|SIP/1|PAUSE|break", 3)
    assert not isinstance(ok, str)
    assert (ok.line, ok.at, ok.agent, ok.event, ok.data) == (
        3,
        1636963200.0,
        "SIP/1",
        "PAUSE",
        ("break",),
    )


def test_mappings_name_unknown_queues_and_teams(vo_config: HelplineConfig) -> None:
    with pytest.raises(BadInput, match="'voice' is not a queue of helpline vo_linjen"):
        parse_queue_map(["vo=voice"], vo_config)
    with pytest.raises(BadInput, match="expected QUEUENAME=linjequeue"):
        parse_queue_map(["vo"], vo_config)
    with pytest.raises(BadInput, match="unknown team 'sales'"):
        parse_team_map(["SIP/*=sales"], None, vo_config)
    by_prefix = parse_team_map([], None, vo_config)
    assert (by_prefix.team("kss-anne"), by_prefix.team("ok-7"), by_prefix.team("SIP/1")) == (
        "kss",
        "ok",
        None,
    )
    teams = parse_team_map(["SIP/ok*=ok"], "kss", vo_config)
    assert (teams.team("SIP/ok7"), teams.team("PJSIP/anne")) == ("ok", "kss")


def test_the_file_on_disk_reads_the_same(
    tmp_path: Path, vo_config: HelplineConfig, mapping: dict[str, object]
) -> None:
    path = tmp_path / "queue_log"
    path.write_text(QUEUE_LOG)
    with path.open() as fh:
        s = import_queue_log(fh, sink=DryRunSink(vo_config), config=vo_config, **mapping)  # type: ignore[arg-type]
    assert s.lines_read == 38


def test_leaving_the_only_queue_of_a_channel_logs_out_of_that_channel(
    vo_config: HelplineConfig,
) -> None:
    mapping = {
        "queue_map": parse_queue_map(["vo=phone,vochat=chat"], vo_config),
        "teams": parse_team_map(["SIP/kss*=kss"], None, vo_config),
    }
    text = f"""\
{T("11:00:00")}|NONE|vo|SIP/kss1|ADDMEMBER|
{T("11:00:00")}|NONE|vochat|SIP/kss1|ADDMEMBER|
{T("11:01:00")}|NONE|vochat|SIP/kss1|REMOVEMEMBER|
{T("11:02:00")}|1.1|vochat|NONE|ENTERQUEUE||x|1
{T("11:03:00")}|1.1|vochat|NONE|ABANDON|1|1|60
{T("11:04:00")}|2.1|vo|NONE|ENTERQUEUE||x|1
{T("11:04:30")}|2.1|vo|NONE|ABANDON|1|1|30
"""
    sink, s = _import(vo_config, mapping, text)
    assert dict(s.converted)["agent.logged_out"] == 1
    assert dict(s.refused) == {}
    outcomes = [
        (r.channel, r.unanswered, r.other_reason)
        for r in sink.records
        if isinstance(r, ContactRecord)
    ]
    assert outcomes == [("chat", "no_agent", None), ("phone", "other", "rang_unanswered")]
