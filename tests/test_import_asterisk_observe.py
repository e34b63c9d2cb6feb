"""The Asterisk importer on observed queues: the reproductions of the PBX's own facts.

Each log below is fed as a new user would import it, into queues with
``routing = "observe"``: Asterisk rang, paused and connected by itself, and
Linje classifies every call from what the log says happened.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from adapters.importers.asterisk import import_queue_log, parse_line, parse_member_aliases
from adapters.importers.common import DryRunSink, ImportSummary, parse_queue_map, read_lines
from router import HelplineConfig
from router.errors import BadInput
from router.records import ContactRecord, NoAnswerRecord
from router.stats import fold_for_config, stats_to_json
from tests.test_core_turned_away import figures

# One team owning two phone queues around the clock, both routed by the PBX.
CONFIG = {
    "id": "pbx",
    "holidays_country": None,
    "teams": {"staff": {}},
    "queues": {
        "first": {"channel": "phone", "default": "staff", "routing": "observe"},
        "second": {"channel": "phone", "default": "staff", "routing": "observe"},
    },
}
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]


@pytest.fixture
def config() -> HelplineConfig:
    return HelplineConfig.model_validate(CONFIG)


def run(
    config: HelplineConfig, text: str, aliases: dict[str, str] | None = None
) -> tuple[DryRunSink, ImportSummary]:
    from adapters.importers.common import parse_team_map

    sink = DryRunSink(config)
    summary = import_queue_log(
        text.splitlines(True),
        sink=sink,
        config=config,
        queue_map=parse_queue_map(["q00=first,q01=first,q02=second"], config),
        teams=parse_team_map([], "staff", config),
        member_aliases=aliases,
    )
    return sink, summary


def classes(sink: DryRunSink) -> list[tuple[str, str, str | None, str | None]]:
    return [
        (r.contact_id, r.outcome, r.unanswered, r.other_reason)
        for r in sink.records
        if isinstance(r, ContactRecord)
    ]


def log(lines: str) -> str:
    return "".join(line.strip() + "\n" for line in lines.strip().splitlines())


def test_r2_rings_that_ring_out_are_rang_unanswered_and_nobody_is_set_away(
    config: HelplineConfig,
) -> None:
    text = log("""
        1000|1000.1|q01|NONE|ENTERQUEUE||x|1
        1001|1000.1|q01|SIP/a|CONNECT|1|1001.2|1
        1005|1000.1|q01|SIP/a|COMPLETEAGENT|1|4|1
    """)
    for t in (2000, 3000, 4000, 5000):
        text += log(f"""
            {t}|{t}.1|q01|NONE|ENTERQUEUE||x|1
            {t + 15}|{t}.1|q01|SIP/a|RINGNOANSWER|15000
            {t + 45}|{t}.1|q01|NONE|ABANDON|1|1|45
        """)
    sink, s = run(config, text)
    assert classes(sink) == [
        ("aq-1000.1", "answered", None, None),
        ("aq-2000.1", "unanswered", "other", "rang_unanswered"),
        ("aq-3000.1", "unanswered", "other", "rang_unanswered"),
        ("aq-4000.1", "unanswered", "other", "rang_unanswered"),
        ("aq-5000.1", "unanswered", "other", "rang_unanswered"),
    ]
    assert [a for a in sink.router.alert_states() if a.kind == "agent_auto_away"] == []
    assert s.converted["agent.away"] + s.added["agent.away"] == 0
    assert len([r for r in sink.records if isinstance(r, NoAnswerRecord)]) == 4
    assert dict(s.refused) == {}


def test_r3_a_ring_for_another_caller_is_not_busy(config: HelplineConfig) -> None:
    sink, s = run(
        config,
        log("""
            990|MANAGER|q01|SIP/a|ADDMEMBER|
            1000|1000.1|q01|NONE|ENTERQUEUE||x|1
            1000|1000.2|q01|NONE|ENTERQUEUE||x|2
            1004|1000.2|q01|SIP/a|RINGNOANSWER|4000
            1013|1000.2|q01|NONE|ABANDON|2|2|13
            1036|1000.1|q01|SIP/a|CONNECT|36|1036.3|36
            1044|1000.1|q01|SIP/a|COMPLETEAGENT|36|8|1
        """),
    )
    assert classes(sink) == [
        ("aq-1000.2", "unanswered", "other", "rang_unanswered"),
        ("aq-1000.1", "answered", None, None),
    ]
    assert dict(s.refused) == {}


def test_r5_an_end_line_in_another_queue_is_a_move_and_complete_without_connect_is_answered(
    config: HelplineConfig,
) -> None:
    config = HelplineConfig.model_validate(
        {**CONFIG, "queues": {**CONFIG["queues"], "third": {"channel": "phone",  # type: ignore[dict-item]
                                                           "default": "staff",
                                                           "routing": "observe"}}}
    )  # fmt: skip
    sink = DryRunSink(config)
    from adapters.importers.common import parse_team_map

    s = import_queue_log(
        log("""
            990|MANAGER|q01|SIP/a|ADDMEMBER|
            2000|2000.1|q00|NONE|ENTERQUEUE||x|1
            2300|2000.1|q01|SIP/a|COMPLETEAGENT|12|6|1
        """).splitlines(True),
        sink=sink,
        config=config,
        queue_map=parse_queue_map(["q00=third,q01=first"], config),
        teams=parse_team_map([], "staff", config),
    )
    [rec] = [r for r in sink.records if isinstance(r, ContactRecord)]
    assert (rec.outcome, rec.queue, rec.agent_id) == ("answered", "first", "SIP-a")
    assert (s.problems()) == [
        "line 3: warning: COMPLETEAGENT without a CONNECT: counted answered by its agent"
    ]
    assert dict(s.refused) == {}


def test_r6_waits_of_an_hour_and_more_that_the_log_closes_are_not_missing_data(
    config: HelplineConfig,
) -> None:
    sink, _ = run(
        config,
        log("""
            1000|1000.1|q01|NONE|ENTERQUEUE||x|1
            1000|1000.2|q01|NONE|ENTERQUEUE||x|2
            4600|1000.1|q01|NONE|ABANDON|1|1|3600
            4700|1000.2|q01|NONE|ABANDON|1|1|3700
        """),
    )
    recs = [r for r in sink.records if isinstance(r, ContactRecord)]
    assert [(r.contact_id, r.unanswered, r.wait_s, r.end_reconciled) for r in recs] == [
        ("aq-1000.1", "no_agent", 3600.0, False),
        ("aq-1000.2", "no_agent", 3700.0, False),
    ]


def test_r7_membership_is_per_queue(config: HelplineConfig) -> None:
    sink, s = run(
        config,
        log("""
            990|MANAGER|q01|SIP/a|ADDMEMBER|
            990|MANAGER|q02|SIP/b|ADDMEMBER|
            1000|1000.1|q01|NONE|ENTERQUEUE||x|1
            1002|1002.1|q02|NONE|ENTERQUEUE||x|1
            1005|1002.1|q02|SIP/b|CONNECT|3|1005.2|3
            1030|1000.1|q01|NONE|ABANDON|1|1|30
            1065|1002.1|q02|SIP/b|COMPLETECALLER|3|60|1
        """),
    )
    recs = {r.contact_id: r for r in sink.records if isinstance(r, ContactRecord)}
    q02, q01 = recs["aq-1002.1"], recs["aq-1000.1"]
    assert (q02.outcome, q02.agent_id, q02.queue) == ("answered", "SIP-b", "second")
    # q01's own member SIP/a was logged in and free; SIP/b (busy on q02) is not counted.
    assert (
        q01.outcome,
        q01.unanswered,
        q01.other_reason,
        q01.agents_rung,
        q01.logged_in_at_end,
        q01.busy_at_end,
    ) == ("unanswered", "other", "agents_away", 0, 1, 0)
    assert dict(s.refused) == {}


def test_r9_exitempty_is_nobody_logged_in(config: HelplineConfig) -> None:
    sink, s = run(
        config,
        log("""
            1000|1000.1|q01|NONE|ENTERQUEUE||x|1
            1002|1000.1|q01|SIP/a|CONNECT|2|1002.2|2
            1060|1000.1|q01|SIP/a|COMPLETEAGENT|2|58|1
            2000|2000.1|q01|NONE|ENTERQUEUE||x|1
            2030|2000.1|q01|NONE|EXITEMPTY|1|1|30
        """),
    )
    assert classes(sink) == [
        ("aq-1000.1", "answered", None, None),
        ("aq-2000.1", "unanswered", "no_agent", None),
    ]
    assert dict(s.classes) == {"left an empty queue (EXITEMPTY, JOINEMPTY, LEAVEEMPTY)": 1}


def test_an_interface_and_its_member_name_are_one_agent(config: HelplineConfig) -> None:
    text = log("""
        990|MANAGER|q01|SIP/1001|ADDMEMBER|
        995|NONE|q01|Anne|PAUSE|lunch
        1000|1000.1|q01|NONE|ENTERQUEUE||x|1
        1030|1000.1|q01|NONE|ABANDON|1|1|30
        1100|NONE|q01|Anne|UNPAUSE|
        1200|1200.1|q01|NONE|ENTERQUEUE||x|1
        1203|1200.1|q01|1001|CONNECT|3|1203.2|3
        1260|1200.1|q01|1001|COMPLETEAGENT|3|57|1
        1300|MANAGER|q01|SIP/1001|REMOVEMEMBER|
        1400|1400.1|q01|NONE|ENTERQUEUE||x|1
        1440|1400.1|q01|NONE|ABANDON|1|1|40
    """)
    # 1001 is learnt from the log (SIP/1001's own name); Anne needs the option.
    sink, s = run(config, text, parse_member_aliases(["Anne=SIP/1001"]))
    assert classes(sink) == [
        ("aq-1000.1", "unanswered", "other", "agents_away"),  # the one member at lunch
        ("aq-1200.1", "answered", None, None),
        ("aq-1400.1", "unanswered", "no_agent", None),  # removed: nobody left logged in
    ]
    assert [a.id for a in sink.router.agent_states()] == ["SIP-1001"]
    assert dict(s.refused) == {}
    # Without the option Anne is a second agent, logged in by her pause for ever and
    # no member of q01: still logged in after the member was removed.
    sink, _ = run(config, text)
    assert [(a.id, a.presence.value) for a in sink.router.agent_states()] == [
        ("Anne", "ready"),
        ("SIP-1001", "logged_out"),
    ]
    with pytest.raises(BadInput, match="MEMBERNAME=INTERFACE"):
        parse_member_aliases(["Anne"])


def test_a_malformed_line_is_reported_by_number_without_its_content(
    config: HelplineConfig,
) -> None:
    number = "004791234567"
    text = (
        log(f"""
        1000|1000.1|q01|NONE|ENTERQUEUE||x|1
        {number}x|1000.1|q01|NONE|ABANDON|1|1|3
        1001|1000.1|q01|NONE|{number}|1
        1002|{number} 1|q01|NONE|ABANDON|1|1|3
        1003|1000.1|q01|NONE|ABANDON|{number}z|1|3
        1004|1000.1|{number}|NONE|ENTERQUEUE||x|1
    """)
        + f"1005|1000.1|q01|NONE|ABANDON|1|1|{number}x"
    )
    _, s = run(config, text)
    problems = s.problems()
    assert problems == [
        "line 2: skipped: the timestamp (field 1) is not a UNIX time",
        "line 3: skipped: the event name (field 5) is not an upper-case word",
        "line 4: skipped: ABANDON needs a call id (field 2) of letters, digits and ._-",
        "line 5: skipped: ABANDON data1 (field 6) must be a whole number",
        "line 7: skipped: the last line is cut short: ABANDON data3 (field 8) must be a whole "
        "number",
    ]
    assert not [x for x in problems + s.lines() if "4791" in x]
    assert dict(s.unmapped) == {"a queue not in --queue-map": 1}


def test_out_of_order_lines_are_reported_by_number(config: HelplineConfig) -> None:
    _, s = run(
        config,
        log("""
            1000|1000.1|q01|NONE|ENTERQUEUE||x|1
            1040|1000.1|q01|NONE|ABANDON|1|1|40
            1010|1010.1|q01|NONE|ENTERQUEUE||x|1
            1050|1010.1|q01|NONE|ABANDON|1|1|40
        """),
    )
    assert s.problems() == ["line 3: warning: out of time order by 30 s: fed at its own time"]


def test_closed_full_and_divert_lines_are_the_pbx_turning_callers_away(
    config: HelplineConfig,
) -> None:
    sink, s = run(
        config,
        log("""
            1000|1000.1|q01|NONE|FULL|
            1100|1100.1|q01|NONE|ENTERQUEUE||x|1
            1160|1100.1|q01|NONE|DIVERT_HOLDTIME|1|1|60
            1200|1200.1|q01|NONE|JOINEMPTY|1|1|1
            1300|1300.1|q01|NONE|CLOSED|
            1400|1400.1|q02|NONE|ENTERQUEUE||x|1
            1405|1400.1|q02|NONE|DIVERT_CA_RATIO|1|1|5
        """),
    )
    assert dict(s.unknown) == {}
    assert dict(s.classes) == {
        "turned away by the PBX (FULL, DIVERT_*)": 3,
        "left an empty queue (EXITEMPTY, JOINEMPTY, LEAVEEMPTY)": 1,
        "closed by the PBX (CLOSED)": 1,
    }
    # The plan has the queue open around the clock: the PBX's CLOSED is what counts.
    assert s.problems() == []
    assert s.converted["contact.turned_away"] == 4
    assert [
        (r.contact_id, r.outcome, r.unanswered, r.turned_away, r.team, r.wait_s)
        for r in sink.records
        if isinstance(r, ContactRecord)
    ] == [
        ("aq-1000.1", "turned_away", None, "full", "staff", 0.0),
        ("aq-1100.1", "turned_away", None, "diverted", "staff", 60.0),
        ("aq-1200.1", "unanswered", "no_agent", None, "staff", 0.0),
        ("aq-1300.1", "rejected_closed", None, "closed", "closed", 0.0),
        ("aq-1400.1", "turned_away", None, "diverted", "staff", 5.0),
    ]
    stats = fold_for_config(sink.records, config, group_by=("queue",))
    assert figures(stats_to_json(stats)["groups"], "queue") == {
        "first": (4, 0, 1, 2, {"full": 1, "diverted": 1}, 1, 0.0),
        "second": (1, 0, 0, 1, {"full": 0, "diverted": 1}, 0, None),
    }


def test_in_decide_mode_closed_full_and_divert_keep_the_plan_s_word() -> None:
    config = HelplineConfig.model_validate(
        {**CONFIG, "queues": {"first": {"channel": "phone", "default": "staff"}}}
    )
    from adapters.importers.common import parse_team_map

    sink = DryRunSink(config)
    s = import_queue_log(
        log("""
            1000|1000.1|q01|NONE|FULL|
            1300|1300.1|q01|NONE|CLOSED|
        """).splitlines(True),
        sink=sink,
        config=config,
        queue_map=parse_queue_map(["q01=first"], config),
        teams=parse_team_map([], "staff", config),
    )
    # Linje routes this queue: the PBX's closed line is only reported, and no turned_away
    # fact is sent (the core refuses one on a queue it decides).
    assert s.problems() == ["line 2: warning: CLOSED while the coverage plan has the queue "
                            "open: counted as it ended"]  # fmt: skip
    assert [
        (r.outcome, r.unanswered, r.turned_away)
        for r in sink.records
        if isinstance(r, ContactRecord)
    ] == [("unanswered", "no_agent", None), ("unanswered", "no_agent", None)]
    assert dict(s.refused) == {}


def test_a_closed_line_during_the_plan_s_open_hours_is_rejected_closed() -> None:
    # KSS owns the queue on weekdays 08:30-15:30 (Oslo); the PBX closed the line at 10:00.
    config = HelplineConfig.model_validate(
        {
            **CONFIG,
            "timezone": "Europe/Oslo",
            "teams": {"kss": {}},
            "queues": {
                "first": {
                    "channel": "phone",
                    "routing": "observe",
                    "rules": [{"team": "kss", "days": WEEKDAYS, "start": "08:30", "end": "15:30"}],
                }
            },
        }
    )
    from adapters.importers.common import parse_team_map

    at = 1636966800  # Monday 2021-11-15 10:00 in Oslo
    sink = DryRunSink(config)
    s = import_queue_log(
        log(f"{at}|{at}.1|q01|NONE|CLOSED|").splitlines(True),
        sink=sink,
        config=config,
        queue_map=parse_queue_map(["q01=first"], config),
        teams=parse_team_map([], "kss", config),
    )
    assert sink.router.config.queues["first"].routing == "observe"
    assert [
        (r.outcome, r.team, r.turned_away, r.arrived_at, r.ended_at)
        for r in sink.records
        if isinstance(r, ContactRecord)
    ] == [("rejected_closed", "closed", "closed", float(at), float(at))]
    assert s.problems() == []
    total = stats_to_json(fold_for_config(sink.records, config))["groups"][0]
    assert (
        total["rejected_closed"],
        total["rejected_closed_by_hour"][10],
        total["answer_rate"],
    ) == (
        1,
        1,
        None,
    )


def test_a_closed_line_while_the_plan_is_closed_is_rejected_closed() -> None:
    config = HelplineConfig.model_validate(
        {**CONFIG, "queues": {"first": {"channel": "phone", "routing": "observe"}}}
    )
    from adapters.importers.common import parse_team_map

    sink = DryRunSink(config)
    s = import_queue_log(
        log("1300|1300.1|q01|NONE|CLOSED|").splitlines(True),
        sink=sink,
        config=config,
        queue_map=parse_queue_map(["q01=first"], config),
        teams=parse_team_map([], "staff", config),
    )
    assert [r.outcome for r in sink.records if isinstance(r, ContactRecord)] == ["rejected_closed"]
    assert s.problems() == []


def test_a_gzip_file_reads_as_its_text(tmp_path: Path, config: HelplineConfig) -> None:
    text = log("""
        1000|1000.1|q01|NONE|ENTERQUEUE||x|1
        1040|1000.1|q01|NONE|ABANDON|1|1|40
    """)
    path = tmp_path / "queue_log.1.gz"
    path.write_bytes(gzip.compress(text.encode()))
    assert text.splitlines(True) == read_lines(str(path))
    plain = tmp_path / "queue_log"
    plain.write_text(text)
    assert read_lines(str(plain)) == read_lines(str(path))
    cut = tmp_path / "cut.gz"
    cut.write_bytes(gzip.compress(text.encode())[:-6])
    with pytest.raises(OSError, match="not a complete gzip file"):
        read_lines(str(cut))


def test_parse_line_still_reads_a_good_line() -> None:
    ok = parse_line("1000|1000.1|q01|SIP/a|RINGNOANSWER|15000", 9)
    assert not isinstance(ok, str)
    assert (
        ok.line,
        ok.at,
        ok.agent,
        ok.event,
        ok.data,
    ) == (9, 1000.0, "SIP/a", "RINGNOANSWER", ("15000",))


def test_the_cli_reads_a_gzip_queue_log_with_member_aliases(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from adapters.cli import main

    conf = tmp_path / "pbx.toml"
    conf.write_text(
        'id = "pbx"\nholidays_country = "NO"\n[teams.staff]\n'
        '[queues.first]\nchannel = "phone"\ndefault = "staff"\nrouting = "observe"\n'
    )
    log_file = tmp_path / "queue_log.1.gz"
    log_file.write_bytes(
        gzip.compress(
            log("""
                990|MANAGER|q01|SIP/1001|ADDMEMBER|
                995|NONE|q01|Anne|PAUSE|lunch
                1000|1000.1|q01|NONE|ENTERQUEUE||x|1
                1030|1000.1|q01|NONE|ABANDON|1|1|30
            """).encode()
        )
    )
    args = ["import", "asterisk-queue-log", str(log_file), "--data", str(tmp_path / "data"),
            "--config", str(conf), "--queue-map", "q01=first", "--default-team", "staff",
            "--member-alias", "Anne=SIP/1001", "--dry-run"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "  lines read: 4" in out
    assert "  events converted: 5 (agent.away 1, agent.joined_queue 1, agent.logged_in 1, " in out
    assert main([*args[:-3], "--member-alias", "Anne", "--dry-run"]) == 2
    assert capsys.readouterr().err.strip().endswith("--member-alias: expected MEMBERNAME=INTERFACE")


def test_a_wait_field_that_disagrees_with_the_lines_is_reported(config: HelplineConfig) -> None:
    sink, s = run(
        config,
        log("""
            1000|1000.1|q01|NONE|ENTERQUEUE||x|1
            1040|1000.1|q01|NONE|ABANDON|1|1|10
            2000|2000.1|q01|NONE|ENTERQUEUE||x|1
            2003|2000.1|q01|SIP/a|CONNECT|3|2003.2|3
            2063|2000.1|q01|SIP/a|COMPLETEAGENT|3|60|1
        """),
    )
    assert s.problems() == [
        "line 2: warning: ABANDON's wait (data3) differs from the time since ENTERQUEUE by "
        "+30 s: the lines' times are used"
    ]
    assert [r.wait_s for r in sink.records if isinstance(r, ContactRecord)] == [40.0, 3.0]
