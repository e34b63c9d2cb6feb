"""``linje import``: files on disk into the durable log, as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.cli import main
from adapters.store import read_entries
from tests.conftest import VO_LINJEN
from tests.test_import_asterisk import QUEUE_LOG
from tests.test_import_carrier_csv import CSV

ASTERISK = [
    "import",
    "asterisk-queue-log",
    "--config",
    str(VO_LINJEN),
    "--queue-map",
    "vo=phone",
    "--agent-team",
    "SIP/kss*=kss,SIP/ok*=ok",
]


@pytest.fixture
def queue_log(tmp_path: Path) -> Path:
    path = tmp_path / "queue_log"
    path.write_text(QUEUE_LOG, encoding="utf-8")
    return path


def _total(data: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    args = ["report", "--data", str(data), "--config", str(VO_LINJEN), "--format", "json"]
    assert main([*args, "--group-by", ""]) == 0
    total: dict[str, object] = json.loads(capsys.readouterr().out)["groups"][0]
    return total


def test_an_asterisk_queue_log_lands_in_the_log_and_the_report(
    tmp_path: Path, queue_log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    assert main([*ASTERISK, str(queue_log), "--data", str(data)]) == 0
    out, err = capsys.readouterr()
    # A new data directory is laid out as `linje serve` lays it: one folder per helpline.
    helpline = data / "vo_linjen"
    assert out.splitlines()[0] == f"{queue_log}: asterisk queue_log imported into {helpline}"
    assert "  lines read: 38" in out
    assert "  lines skipped as malformed: 4 (lines 11, 35, 36, 37)" in out
    assert "  unknown events: 1 (FOOBAR 1)" in out
    assert err.splitlines()[0] == (
        "line 11: skipped: expected at least 5 |-separated fields, got 1"
    )
    events = [e.event for e in read_entries(helpline) if e.kind == "event"]
    assert len(events) == 29  # 28 converted + 1 login added for the static member
    assert not [e for e in events if "479" in repr(e)]  # no caller id anywhere
    total = _total(data, capsys)
    assert (total["contacts"], total["answered"]) == (9, 4)
    assert total["unanswered"] == {
        "missing_data": 0,
        "no_agent": 1,
        "short_abandon": 1,
        "agents_busy": 1,
        "other": 2,
    }

    # Importing the same file again adds nothing.
    assert main([*ASTERISK, str(queue_log), "--data", str(data)]) == 0
    out = capsys.readouterr().out
    assert "  events converted: 0" in out
    assert "  events already in the log (duplicates): 29" in out
    assert len([e for e in read_entries(helpline) if e.kind == "event"]) == 29


def test_a_dry_run_checks_without_writing(
    tmp_path: Path, queue_log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    assert main([*ASTERISK, str(queue_log), "--data", str(data), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "checked (dry run, nothing written)" in out
    assert "  events converted: 28 (" in out
    assert not data.exists()


def test_a_carrier_csv_lands_in_the_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "november.csv"
    path.write_text(CSV, encoding="utf-8")
    data = tmp_path / "data"
    assert (
        main(["import", "carrier-csv", str(path), "--data", str(data), "--config", str(VO_LINJEN)])
        == 0
    )
    out, err = capsys.readouterr()
    assert "  lines skipped as malformed: 6 (lines 10, 11, 13, 14, 15, 17)" in out
    assert "line 11: skipped: arrived has no UTC offset" in err
    total = _total(data, capsys)
    assert (total["contacts"], total["answered"]) == (9, 4)
    assert total["unanswered"] == {
        "missing_data": 1,
        "no_agent": 2,
        "short_abandon": 1,
        "agents_busy": 1,
        "other": 0,
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--queue-map", "vo=voice"], "--queue-map: 'voice' is not a queue of helpline vo_linjen"),
        (["--queue-map", "vo=phone", "--default-team", "sales"], "unknown team 'sales'"),
        (["--queue-map", "vo=phone", "--agent-team", "SIP/1"], "expected AGENTPATTERN=team"),
    ],
)
def test_bad_mappings_are_one_line_errors(
    tmp_path: Path,
    queue_log: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    cmd = ["import", "asterisk-queue-log", str(queue_log), "--data", str(tmp_path / "d")]
    assert main([*cmd, "--config", str(VO_LINJEN), *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert message in err
    assert not (tmp_path / "d").exists()


def test_a_missing_file_or_header_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cmd = ["import", "carrier-csv", "--data", str(tmp_path / "d"), "--config", str(VO_LINJEN)]
    assert main([*cmd, str(tmp_path / "nope.csv")]) == 2
    assert f"cannot read {tmp_path / 'nope.csv'}: no such file" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("id,when\n1,2021-11-15T10:00:00+01:00\n", encoding="utf-8")
    assert main([*cmd, str(bad)]) == 2
    assert "the header lacks column 'call_id'" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()  # a file refused as a whole changes nothing


def test_no_fsync_writes_the_same_events(
    tmp_path: Path, queue_log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fast, safe = tmp_path / "fast", tmp_path / "safe"
    assert main([*ASTERISK, str(queue_log), "--data", str(fast), "--no-fsync"]) == 0
    assert main([*ASTERISK, str(queue_log), "--data", str(safe)]) == 0
    capsys.readouterr()

    def events(data: Path) -> list[object]:
        return [e.event for e in read_entries(data / "vo_linjen") if e.kind == "event"]

    assert events(fast) == events(safe)
    assert len(events(fast)) == 29


def test_calls_the_carrier_turned_away_show_in_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.test_import_carrier_csv import REJECTED

    config = tmp_path / "observe.toml"
    text = VO_LINJEN.read_text(encoding="utf-8")
    config.write_text(
        text.replace("[queues.phone]\n", '[queues.phone]\nrouting = "observe"\n', 1),
        encoding="utf-8",
    )
    path = tmp_path / "rejected.csv"
    path.write_text(REJECTED, encoding="utf-8")
    data = tmp_path / "data"
    cmd = ["import", "carrier-csv", str(path), "--data", str(data), "--config", str(config)]
    assert main(cmd) == 0
    out = capsys.readouterr().out
    assert "  calls the vendor classed: 3 (turned away by the carrier (closed) 1, " in out
    report = ["report", "--data", str(data), "--config", str(config)]
    assert main([*report, "--format", "json", "--group-by", ""]) == 0
    total = json.loads(capsys.readouterr().out)["groups"][0]
    assert (
        total["contacts"],
        total["rejected_closed"],
        total["turned_away"],
        total["turned_away_reasons"],
        total["unanswered_total"],
        total["answer_rate"],
    ) == (4, 1, 2, {"full": 1, "diverted": 1}, 1, 0.0)
    assert main(report) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if "Turned away" in line]
    # Phone only (the file has no chats), then the total.
    assert [[cell.strip() for cell in row.split("│")[2:-1]] for row in rows] == [["2", "2"]]
