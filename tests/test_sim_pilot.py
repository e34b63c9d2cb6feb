"""The pilot scenario (Oct 2019 - Dec 2021) runs end to end through the routing core."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.cli import main
from sim.run import simulate
from sim.scenario import load_scenario
from sim.summary import run_stats

ROOT = Path(__file__).resolve().parent.parent
PILOT = ROOT / "config" / "scenarios" / "pilot-2019-2021.toml"


def test_the_pilot_runs_end_to_end_and_reports_next_to_the_recorded_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", str(PILOT), "--out", str(tmp_path), "--progress", "never"]) == 0
    assert "pilot-2019-2021: 2019-10-01 to 2021-12-31" in capsys.readouterr().out
    stats = json.loads((tmp_path / "stats.json").read_text())
    figures = stats["figures"]
    # Every recorded contact is simulated: 4499 phone, 695 chat (the pilot report).
    assert figures["phone"]["contacts"]["mean"] == 4499
    assert figures["chat"]["contacts"]["mean"] == 695
    assert figures["all"]["contacts"]["mean"] == 5194
    # Every contact ends in exactly one outcome.
    for g in stats["stats"]["groups"]:
        assert g["answered"] + g["unanswered_total"] + g["rejected_closed"] == g["contacts"]
    report = (tmp_path / "report.md").read_text()
    assert "## Compared with the recorded figures (phone)" in report
    assert "| answer rate |" in report
    assert "| 84 % |" in report
    assert "| 2021-11 | 110 |" in report  # counts as whole numbers
    # Why "nobody logged in" is rarer than recorded, from the scenario file.
    assert "- nobody logged in: the recorded calls fell in the gaps" in report
    # The chat opened in Apr 2021: its heat map covers only the hours it was open.
    chat = {(c["weekday"], c["hour"]): c for c in stats["heatmap"]["chat"]}
    assert chat[("mon", 3)] == {
        "weekday": "mon",
        "hour": 3,
        "open": False,
        "contacts_per_open_week": None,
        "answer_rate": None,
        "answer_rate_n": 0,
    }
    assert chat[("tue", 10)]["open"]
    assert chat[("tue", 10)]["contacts_per_open_week"] > 0.4  # not 0.1 a week
    for name in ("monthly.png", "heatmap-phone-answer-rate.png", "heatmap-chat-contacts.png"):
        assert (tmp_path / name).stat().st_size > 1000


def test_while_kss_is_absent_the_crisis_centre_owns_every_call() -> None:
    loaded = load_scenario(PILOT)
    result = simulate(loaded)
    by_team = {
        (dict(g.key)["month"], dict(g.key)["team"]): g.contacts
        for g in run_stats(result, ("month", "team")).groups
    }
    # The pilot's KSS summer break, 29 Jun - 9 Aug 2020, covers all of July.
    assert by_team.get(("2020-07", "kss"), 0) == 0
    assert by_team[("2020-07", "ok")] == 115
    # In an ordinary month KSS owns its office hours.
    assert by_team[("2020-10", "kss")] > 0
