"""``linje report``: golden outputs from a fixed scripted log, charts, terminal rendering.

The golden files live in ``tests/golden/``. After an intended change to the
report's output, regenerate them and review the diff::

    LINJE_REGEN_GOLDEN=1 .venv/bin/pytest tests/test_report.py tests/test_replay.py
    git diff tests/golden/
"""

from __future__ import annotations

import io
import json
import os
import struct
from pathlib import Path

import pytest
from rich.console import Console

from adapters.cli import main
from adapters.config_file import load_config
from adapters.report import Report, load_records, parse_window, render_tables, to_csv, to_json
from adapters.report_plots import (
    contacts_per_month,
    hour_weekday_heat_map,
    unanswered_per_month,
    write_plots,
)
from router import HelplineConfig
from tests.conftest import VO_LINJEN
from tests.golden_events import OSLO, build_log

GOLDEN = Path(__file__).resolve().parent / "golden"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def check_golden(name: str, text: str) -> None:
    """Compare with ``tests/golden/name``; ``LINJE_REGEN_GOLDEN=1`` rewrites it instead."""
    path = GOLDEN / name
    if os.environ.get("LINJE_REGEN_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run LINJE_REGEN_GOLDEN=1 pytest {__file__}"
    assert text == path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def golden_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("golden") / "data"
    build_log(data, load_config(VO_LINJEN))
    return data


@pytest.fixture
def report(golden_log: Path, vo_config: HelplineConfig) -> Report:
    return Report(vo_config, load_records(golden_log))


def _plain(report: Report, width: int = 100) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, force_terminal=False)
    render_tables(report, console)
    return out.getvalue()


def test_the_table_report_matches_the_golden_text(report: Report) -> None:
    check_golden("report.txt", _plain(report))


def test_csv_and_json_match_their_golden_files(report: Report) -> None:
    check_golden("report.csv", to_csv(report, ("month", "channel")))
    check_golden(
        "report.json",
        json.dumps(to_json(report, ("channel", "team")), indent=2, ensure_ascii=False) + "\n",
    )


def test_the_golden_figures_are_the_hand_checked_ones(report: Report) -> None:
    (total,) = to_json(report, ())["groups"]
    assert (total["contacts"], total["answered"], total["rejected_closed"]) == (20, 10, 3)
    assert total["unanswered"] == {
        "missing_data": 1,  # p15
        "no_agent": 1,  # p11
        "short_abandon": 2,  # p2, p14
        "agents_busy": 1,  # p9
        "other": 2,  # p5 rang, p6 away
    }
    assert total["other_reasons"] == {"rang_unanswered": 1, "agents_away": 1}
    assert total["answer_rate"] == 0.5882  # 10 / 17: closed chats are outside
    assert total["answer_rate_excl_short"] == 0.6667  # 10 / 15
    assert total["feedback"]["average"] == 7.5  # 9 and 6
    assert total["rejected_closed_by_hour"][21] == 1
    assert total["rejected_closed_by_hour"][23] == 1
    assert total["rejected_closed_by_hour"][11] == 1
    assert total["no_answer_by_agent"] == {
        "kss-1": {"team": "kss", "no_answer": 2, "declined": 0},  # p4, p5
        "kss-2": {"team": "kss", "no_answer": 1, "declined": 0},  # p5
        "ok-1": {"team": "ok", "no_answer": 1, "declined": 0},  # p10
        "ok-2": {"team": "ok", "no_answer": 1, "declined": 1},  # p13
    }
    csv_rows = to_csv(report, ("month", "channel")).splitlines()
    assert csv_rows[0].startswith(
        "month,channel,contacts,answered,rejected_closed,turned_away,turned_away_full,"
        "turned_away_diverted,unanswered,"
    )
    assert [r.split(",")[:4] for r in csv_rows[1:]] == [
        ["2021-10", "chat", "4", "2"],
        ["2021-10", "phone", "11", "6"],
        ["2021-11", "chat", "1", "0"],
        ["2021-11", "phone", "4", "2"],
    ]


def test_the_cli_prints_the_same_json_and_honours_the_window(
    golden_log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["report", "--data", str(golden_log), "--config", str(VO_LINJEN)]
    assert main([*args, "--format", "json", "--group-by", "channel,team"]) == 0
    assert capsys.readouterr().out == (GOLDEN / "report.json").read_text(encoding="utf-8")
    assert main([*args, "--format", "json", "--group-by", "", "--month", "2021-11"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["period"] == "2021-11"
    assert out["groups"][0]["contacts"] == 5  # the Saturday: p12-p15 and c5
    assert main([*args, "--format", "json", "--group-by", "", "--from", "2021-10-29"]) == 0
    assert json.loads(capsys.readouterr().out)["groups"][0]["contacts"] == 20
    assert main([*args, "--format", "csv", "--group-by", "", "--to", "2021-10-29"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("15,8,")  # the Friday


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--month", "2021-13"], "--month: '2021-13' is not a month YYYY-MM"),
        (["--from", "2021-11-02", "--to", "2021-11-01"], "--to 2021-11-01 is before --from"),
        (["--month", "2021-11", "--from", "2021-11-01"], "--month cannot be combined"),
        (["--from", "29.10.2021"], "--from: '29.10.2021' is not a date YYYY-MM-DD"),
        (["--group-by", "agent"], "--group-by: unknown key 'agent'"),
    ],
)
def test_bad_options_are_one_line_errors(
    golden_log: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    assert main(["report", "--data", str(golden_log), "--config", str(VO_LINJEN), *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("linje report: error: ")
    assert message in err


def test_a_directory_without_a_log_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--data", str(tmp_path), "--config", str(VO_LINJEN)]) == 2
    assert f"{tmp_path}: no event log here" in capsys.readouterr().err


def test_the_report_renders_in_a_colour_terminal(report: Report) -> None:
    out = io.StringIO()
    console = Console(file=out, width=80, force_terminal=True, color_system="truecolor")
    render_tables(report, console)
    text = out.getvalue()
    assert "\x1b[" in text
    for title in (
        "Contacts per month by channel",
        "Unanswered contacts by cause",
        "Answer rate and service level",
        "Chat feedback",
        "Handover gaps",
    ):
        assert title in text


def test_the_empty_window_still_renders(golden_log: Path, vo_config: HelplineConfig) -> None:
    start, end, label = parse_window(OSLO, start=None, end=None, month="2020-01")
    text = _plain(Report(vo_config, load_records(golden_log), start, end, label))
    assert "statistics for 2020-01" in text
    assert "Answer rate" in text


# ------------------------------------------------------------------- charts
def test_the_charts_say_what_they_show(report: Report) -> None:
    fig = contacts_per_month(report)
    (ax,) = fig.axes
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == (
        "Contacts per month by channel",
        "Month",
        "Contacts",
    )
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["phone", "chat"]
    # Bars: phone for each month, then chat stacked on top.
    heights = [p.get_height() for p in ax.patches]
    assert heights == [11, 4, 4, 1]

    fig = unanswered_per_month(report)
    (ax,) = fig.axes
    assert ax.get_title() == "Unanswered contacts by cause per month"
    assert ax.get_ylabel() == "Unanswered contacts"
    assert sum(p.get_height() for p in ax.patches) == 7
    assert [t.get_text() for t in ax.get_legend().get_texts()][1] == (
        "Unanswered, waited under 10 s"
    )

    fig = hour_weekday_heat_map(report)
    ax = fig.axes[0]
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == (
        "Contacts by hour of day and weekday",
        "Weekday",
        "Hour of day (local time)",
    )
    grid = ax.images[0].get_array()
    assert grid.shape == (24, 7)
    assert grid.sum() == 20
    assert grid[14][4] == 3  # Friday 14:00-15:00: p7, p8, p9
    assert fig.axes[1].get_ylabel() == "Contacts"  # the colour bar


def test_plots_are_valid_png_files(report: Report, tmp_path: Path) -> None:
    paths = write_plots(report, tmp_path / "plots")
    assert [p.name for p in paths] == [
        "contacts-per-month.png",
        "unanswered-per-month.png",
        "hour-weekday.png",
    ]
    sizes = []
    for p in paths:
        data = p.read_bytes()
        assert data[:8] == PNG_SIGNATURE
        assert data[12:16] == b"IHDR"
        sizes.append(struct.unpack(">II", data[16:24]))
        assert len(data) > 5000
    assert sizes == [(1000, 450), (1000, 450), (600, 800)]


def test_the_cli_writes_the_plots_beside_the_report(
    golden_log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "charts"
    args = ["report", "--data", str(golden_log), "--config", str(VO_LINJEN), "--plots", str(out)]
    assert main([*args, "--format", "csv"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("month,channel,")  # stdout stays a clean CSV
    assert captured.err.count("wrote ") == 3
    assert sorted(p.name for p in out.iterdir()) == [
        "contacts-per-month.png",
        "hour-weekday.png",
        "unanswered-per-month.png",
    ]
