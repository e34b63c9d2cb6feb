"""``linje report --content`` and ``GET /v1/stats/content`` on a generated year."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapters.cli import main
from adapters.store import EmbeddedStore
from router import HelplineConfig
from sim.registrations import allocate, registration_year
from tests.conftest import VO_LINJEN

# Input shares shaped like the pilot report's 2021 phone charts (chapter 11), each
# question's adding up to 1 (help and violence: several answers per contact).
SHARES: dict[str, dict[str, float]] = {
    "who": {"exposed": 0.70, "relative": 0.18, "professional": 0.02, "unknown": 0.09,
            "other": 0.01},
    "target_group": {"yes": 0.82, "no": 0.06, "dont_know": 0.12},
    "age": {"under_18": 0.03, "age_18_30": 0.21, "age_31_40": 0.22, "age_41_60": 0.19,
            "over_60": 0.05, "dont_know": 0.30},
    "gender": {"woman": 0.80, "man": 0.14, "other_identity": 0.0, "dont_know": 0.06},
    "first_contact": {"yes": 0.23, "no": 0.52, "dont_know": 0.18, "not_relevant": 0.07},
    "ongoing": {"yes": 0.39, "no": 0.42, "other": 0.0, "dont_know": 0.12,
                "not_relevant": 0.07},
    "violence": {"physical_psychological": 0.29, "psychological": 0.23, "sexual": 0.21,
                 "material": 0.03, "digital": 0.02, "economic": 0.03, "upbringing": 0.13,
                 "dont_know_not_relevant": 0.13},
    "help": {"conversation": 0.35, "advice": 0.35, "information": 0.20, "other": 0.0,
             "unknown": 0.03, "acute": 0.03, "place_to_stay": 0.01, "not_relevant": 0.03},
    "referrals": {"crisis_centre": 0.30, "police": 0.15, "legal_help": 0.10,
                  "doctor_psychologist": 0.10, "nok": 0.05, "other": 0.30},
}  # fmt: skip
N = 1000


@pytest.fixture(scope="module")
def year_log(tmp_path_factory: pytest.TempPathFactory, vo_config: HelplineConfig) -> Path:
    data = tmp_path_factory.mktemp("content-year")
    events = registration_year(vo_config, 2021, "phone", N, SHARES, seed=7)
    with EmbeddedStore.open(data, vo_config, fsync=False) as store:
        for ev in events:
            store.tick(ev.at)
            (result,) = store.ingest([ev])
            assert result.status == "accepted", (ev, result.error)
    return data


def test_allocation_is_exact_and_adds_up() -> None:
    assert allocate({"a": 0.335, "b": 0.335, "c": 0.33}, 10) == {"a": 4, "b": 3, "c": 3}
    assert sum(allocate(SHARES["age"], N).values()) == N


def test_the_generated_year_gives_back_its_shares_in_the_report(
    year_log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["report", "--data", str(year_log), "--config", str(VO_LINJEN), "--content"]
    assert main([*args, "--format", "json"]) == 0
    stats: dict[str, Any] = json.loads(capsys.readouterr().out)
    (table,) = stats["tables"]
    assert (table["year"], table["channel"], table["version"]) == (2021, "phone", 4)
    (total,) = table["groups"]
    assert total["registered"] == N
    off = {
        (name, code): (fld["shares"][code], p)
        for name, fld in total["fields"].items()
        for code, p in SHARES[name].items()
        if fld["shares"][code] is None or abs(fld["shares"][code] - p) > 0.0005
    }
    assert off == {}
    # The table shows the same shares, as whole percents like the pilot report's charts.
    assert main([*args, "--lang", "nb"]) == 0
    text = capsys.readouterr().out
    assert "│ Voldsutsatt" in text and "700 (70 %)" in text and "180 (18 %)" in text


def test_the_content_charts_are_written_per_year(
    year_log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["report", "--data", str(year_log), "--config", str(VO_LINJEN), "--content", "team"]
    assert main([*args, "--plots", str(tmp_path)]) == 0
    assert capsys.readouterr().err == f"wrote {tmp_path / 'content-2021-phone.png'}\n"
    assert (tmp_path / "content-2021-phone.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--content", "queue"], "--content takes distinct groups among month, team"),
        (["--content", "team,team"], "--content takes distinct groups among month, team"),
        (["--content", "", "--month", "2021-03"],
         "--content reports whole years; leave out --from, --to and --month"),
        (["--content", "", "--format", "csv"], "--content prints a table or json, not csv"),
    ],
)  # fmt: skip
def test_bad_content_options_are_one_line_errors(
    year_log: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    assert main(["report", "--data", str(year_log), "--config", str(VO_LINJEN), *extra]) == 2
    assert capsys.readouterr().err == f"linje report: error: {message}\n"
