"""Escalation figures: the fold over escalation records, and `linje report`'s table and JSON.

Per local month and owning team: raised, acknowledged, escalated past the
first level, legal holds asked for and confirmed, closed per reason, open,
and the time to the first acknowledgement.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console

from adapters.report import Report, render_tables, to_json
from router import Router
from router.config import HelplineConfig
from router.escalation_stats import fold_escalations
from router.events_escalation import EscalationClosed, LegalHoldAcknowledged
from router.testing import Script


def a_month_of_flags(config: HelplineConfig) -> Script:
    """Three escalations: KSS in November (acknowledged after 30 s and after 250 s,
    the second past level 1), OK in December (still open)."""
    s = Script(Router(config))
    s.at("2021-11-15 10:00")
    s.login("kss-1", "kss")
    s.login("ok-1", "ok")
    for cid, wait in (("c1", 30), ("c2", 250)):
        s.arrive(cid)
        s.after(2)
        s.answer(cid, "kss-1")
        [alert, *_] = s.flag(cid, "duty_to_avert")
        s.after(wait)
        s.advance()
        s.ack(alert.alert_id, "sup-kss")  # type: ignore[attr-defined]
        s.end(cid)
    s.send(LegalHoldAcknowledged(**s._env(None), contact_id="c1"))
    s.send(EscalationClosed(**s._env(None), escalation_id="esc-2", reason="police_notified",
                            by="sup-kss"))  # fmt: skip
    s.at("2021-12-01 02:00")
    s.arrive("c3")
    s.after(2)
    s.answer("c3", "ok-1")
    s.flag("c3", "self_harm_risk")
    return s


def test_the_fold_per_month_and_team(vo_config: HelplineConfig) -> None:
    s = a_month_of_flags(vo_config)
    result = fold_escalations(s.records, tz=s.router.plan.tz)
    expected: list[dict[str, Any]] = [
        {"month": "2021-11", "team": "kss", "raised": 2, "flags": {"duty_to_avert": 2},
         "acknowledged": 2, "escalated_past_first_level": 1, "legal_holds_requested": 2,
         "legal_holds_acknowledged": 1, "closed": {"police_notified": 1}, "open": 1,
         "steps_ticked": 0, "time_to_first_ack_s": {"avg": 140.0, "p90": 250.0, "max": 250.0}},
        {"month": "2021-12", "team": "ok", "raised": 1, "flags": {"self_harm_risk": 1},
         "acknowledged": 0, "escalated_past_first_level": 0, "legal_holds_requested": 0,
         "legal_holds_acknowledged": 0, "closed": {}, "open": 1, "steps_ticked": 0,
         "time_to_first_ack_s": {"avg": None, "p90": None, "max": None}},
    ]  # fmt: skip
    assert result == {"from": None, "to": None, "groups": expected}
    december = s.ts("2021-12-01 00:00")
    assert fold_escalations(s.records, tz=s.router.plan.tz, start=december)["groups"] == [
        expected[1]
    ]


def test_linje_report_shows_them(vo_config: HelplineConfig) -> None:
    s = a_month_of_flags(vo_config)
    report = Report(vo_config, s.records)
    assert [(g["month"], g["team"], g["raised"]) for g in to_json(report, ())["escalations"]] == [
        ("2021-11", "kss", 2),
        ("2021-12", "ok", 1),
    ]
    console = Console(width=120, record=True, color_system=None)
    render_tables(report, console)
    rows = [line for line in console.export_text().splitlines() if "2021-1" in line]
    assert [" ".join(r.replace("│", " ").split()) for r in rows[-2:]] == [
        "2021-11 kss 2 2 1 2 1 1 1 140 250",
        "2021-12 ok 1 0 0 0 0 0 1 - -",
    ]
