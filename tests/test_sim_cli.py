"""``linje simulate`` and ``linje plan`` as a planner uses them, and the golden determinism test.

The golden files in ``tests/golden/sim_small/`` are the exact output of the
small scenario there with its seed. After an intended change to routing or
to the simulator, regenerate them with ``LINJE_REGEN_GOLDEN=1 pytest
tests/test_sim_cli.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from adapters.cli import main

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden" / "sim_small"
SMALL = GOLDEN / "scenario.toml"


def test_simulate_writes_the_statistics_report_and_plots(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", str(SMALL), "--out", str(tmp_path), "--progress", "never"]) == 0
    out = capsys.readouterr().out
    assert "golden-small: 2021-11-08 to 2021-11-21, seed 7, 1 replication(s)" in out
    assert "  phone  contacts " in out
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "heatmap-chat-answer-rate.png",
        "heatmap-chat-contacts.png",
        "heatmap-phone-answer-rate.png",
        "heatmap-phone-contacts.png",
        "monthly.png",
        "report.md",
        "stats.json",
    ]
    for png in tmp_path.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    stats = json.loads((tmp_path / "stats.json").read_text())
    # The same statistics as the live service: the /v1/stats shape, by channel.
    groups = {g["channel"]: g for g in stats["stats"]["groups"]}
    phone = groups["phone"]
    assert phone["contacts"] == stats["figures"]["phone"]["contacts"]["mean"]
    assert (
        phone["answered"] + phone["unanswered_total"] + phone["rejected_closed"]
        == phone["contacts"]
    )
    assert set(groups["phone"]["unanswered"]) == {
        "missing_data",
        "no_agent",
        "short_abandon",
        "agents_busy",
        "other",
    }
    assert len(stats["heatmap"]["phone"]) == 7 * 24
    report = (tmp_path / "report.md").read_text()
    assert "## phone: answer rate by weekday and hour" in report
    assert "## Compared with the recorded figures (phone)" in report
    assert "![monthly.png](monthly.png)" in report


def test_the_same_scenario_and_seed_give_byte_identical_output(tmp_path: Path) -> None:
    args = ["simulate", str(SMALL), "--replications", "2", "--no-plots", "--progress", "never"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    for name in ("stats.json", "report.md"):
        produced = (tmp_path / "a" / name).read_bytes()
        assert produced == (tmp_path / "b" / name).read_bytes()
        if os.environ.get("LINJE_REGEN_GOLDEN"):
            (GOLDEN / name).write_bytes(produced)
        assert produced == (GOLDEN / name).read_bytes(), f"{name} differs from the golden copy"


def test_another_seed_gives_other_figures(tmp_path: Path) -> None:
    args = ["simulate", str(SMALL), "--no-plots", "--progress", "never"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--seed", "8", "--out", str(tmp_path / "b")]) == 0
    a = json.loads((tmp_path / "a" / "stats.json").read_text())
    b = json.loads((tmp_path / "b" / "stats.json").read_text())
    assert a["seed"] == 7
    assert b["seed"] == 8
    assert a["stats"] != b["stats"]


def test_replications_give_confidence_intervals(tmp_path: Path) -> None:
    args = ["simulate", str(SMALL), "--replications", "3", "--no-plots", "--progress", "never"]
    assert main([*args, "--out", str(tmp_path)]) == 0
    figures = json.loads((tmp_path / "stats.json").read_text())["figures"]
    rate = figures["phone"]["answer_rate"]
    assert rate["n"] == 3
    assert rate["ci95"] is not None
    assert rate["ci95"] > 0
    assert rate["se"] > 0
    # A month's total is exact, but two weeks of it get a random share.
    assert figures["phone"]["contacts"]["n"] == 3


def test_a_volume_multiplier_and_a_period_change_the_run(tmp_path: Path) -> None:
    args = ["simulate", str(SMALL), "--no-plots", "--progress", "never"]
    week = ["--from", "2021-11-08", "--to", "2021-11-14"]
    assert main([*args, *week, "--out", str(tmp_path / "once")]) == 0
    assert main([*args, *week, "--volume-multiplier", "2", "--out", str(tmp_path / "twice")]) == 0
    once = json.loads((tmp_path / "once" / "stats.json").read_text())
    twice = json.loads((tmp_path / "twice" / "stats.json").read_text())
    assert twice["period"] == {"from": "2021-11-08", "to": "2021-11-14"}
    assert twice["volume_multiplier"] == 2.0
    ratio = twice["figures"]["all"]["contacts"]["mean"] / once["figures"]["all"]["contacts"]["mean"]
    assert 1.6 <= ratio <= 2.4


def test_chat_hours_open_the_chat_around_the_clock(tmp_path: Path) -> None:
    args = ["simulate", str(SMALL), "--no-plots", "--progress", "never"]
    assert main([*args, "--chat-hours", "00:00-24:00", "--out", str(tmp_path)]) == 0
    cells = json.loads((tmp_path / "stats.json").read_text())["heatmap"]["chat"]
    night = [c for c in cells if c["hour"] in (1, 2, 3) and c["contacts_per_open_week"]]
    assert night  # chats now start at night, owned like the phone


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["simulate", "no-such-scenario.toml"], "no-such-scenario.toml: cannot read file"),
        (["simulate", str(SMALL), "--chat-hours", "20:00-09:00"], "--chat-hours"),
        (["simulate", str(SMALL), "--from", "2021-11-20", "--to", "2021-11-10"], "before"),
        (["plan", str(SMALL), "--target", "answered>0.95"], "is not a target"),
        (["plan", str(SMALL), "--target", "answered>=0.9", "--month", "2021-13"], "--month"),
        (["plan", str(SMALL), "--target", "answered>=0.9", "--month", "2020-01"], "no contacts"),
        (
            ["plan", str(SMALL), "--target", "answered>=0.9", "--day-types", "weekday=mon-fri"],
            "--day-types: no day type for sat, sun",
        ),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*args, "--progress", "never"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert message in err
    assert err.startswith(f"linje {args[0]}: error: ")


def test_plan_prints_a_staffing_table_and_what_the_current_rota_achieves(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "plan",
        str(SMALL),
        "--target",
        "answered>=0.9 excluding short_abandon",
        "--weeks",
        "4",
        "--replications",
        "1",
        "--progress",
        "never",
        "--out",
        str(tmp_path),
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "# Staffing plan: golden-small, regular weeks of 2021-11" in out
    assert "## weekday (mon-fri)" in out
    assert "| hour | team | channel | agents | current rota | with the plan " in out
    assert "| period | with the plan | with the current rota |" in out
    plan = json.loads((tmp_path / "plan.json").read_text())
    cells = {(c["day_type"], c["channel"], c["team"], c["hour"]): c for c in plan["cells"]}
    # KSS owns the phone 08:30-15:30 on weekdays, OK the rest of the week.
    assert ("weekday", "phone", "kss", 10) in cells
    assert ("weekday", "phone", "ok", 3) in cells
    assert ("saturday", "phone", "ok", 10) in cells
    assert ("saturday", "phone", "kss", 10) not in cells
    assert ("weekday", "phone", "kss", 3) not in cells
    # At least one agent whenever a queue is open.
    assert all(c["agents"] >= 1 for c in cells.values())
    # The current rota: two KSS agents on the phone, one OK agent at night from
    # Tuesday to Friday (its night entries start at 15:30 on weekdays, so nobody
    # covers Monday 00:00-08:30: a mean of 0.8 over the five weekdays).
    assert cells[("weekday", "phone", "kss", 10)]["current_agents"] == 2
    assert cells[("weekday", "phone", "ok", 3)]["current_agents"] == 0.8
    # ... and two early on Saturday, when Friday's night entry runs on beside the weekend's.
    assert cells[("saturday", "phone", "ok", 3)]["current_agents"] == 2
    # Every cell's figure comes with its interval and sample.
    fig = cells[("weekday", "phone", "kss", 10)]["achieved"]
    assert set(fig) == {"value", "low", "high", "judged", "contacts_per_week"}
    assert fig["low"] <= fig["value"] <= fig["high"]
    assert (tmp_path / "plan.png").exists()


def test_long_runs_show_a_progress_bar_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["simulate", str(SMALL), "--no-plots", "--out", str(tmp_path), "--progress", "always"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "simulating golden-small" in captured.err
    assert "simulating" not in captured.out
