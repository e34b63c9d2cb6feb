"""``linje plan``'s decisions: Erlang A's minimum on a stationary line, monotone in agents,
day types kept apart, and the same output for any ``--jobs``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.cli import main
from router.errors import BadInput
from sim.erlang import ErlangA
from sim.plan import (
    DEFAULT_DAY_TYPES,
    estimate,
    monotone,
    parse_day_types,
    parse_target,
    plan_staffing,
)
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT / "tests" / "golden" / "sim_small" / "scenario.toml"

# One team owning one phone queue around the clock, nothing else going on (the
# assumptions of Erlang A): instant pick-up, exponential handle time and patience.
ROUTING = """
id = "stationary"
timezone = "UTC"
short_abandon_s = 0
reconcile_wait_s = 1e12
reconcile_service_s = 1e12

[channels.phone]
capacity = 1
ring_timeout_s = 20
wrap_up_s = 0

[agents]
max_no_answer = 0

[teams.team]

[queues.phone]
channel = "phone"
default = "team"
long_wait_s = 1e12
"""

CALLS_PER_HOUR, HANDLE_S, PATIENCE_S = 20.0, 180.0, 120.0


def _scenario(tmp_path: Path, weekday: str = "[1, 1, 1, 1, 1, 1, 1]") -> Path:
    (tmp_path / "routing.toml").write_text(ROUTING)
    # 2021-11 has 30 days: 20 calls an hour is 30 x 24 x 20 contacts.
    total = 30 * 24 * CALLS_PER_HOUR
    path = tmp_path / "line.toml"
    path.write_text(
        f"""
name = "line"
routing = "routing.toml"
start = 2021-11-01
end = 2021-11-30
seed = 3

[arrivals.phone]
monthly = {{ "2021-11" = {total} }}
weekday = {weekday}

[callers.phone]
patience = {{ rest = {{ dist = "exponential", mean = {PATIENCE_S} }} }}
handle = {{ dist = "exponential", mean = {HANDLE_S} }}
"""
    )
    return path


def test_on_a_stationary_line_the_plan_is_erlang_a_minimum_staffing(tmp_path: Path) -> None:
    loaded = load_scenario(_scenario(tmp_path))
    target = parse_target("answered>=0.91")
    rate = CALLS_PER_HOUR / 3600
    minimum = next(
        n for n in range(1, 20) if ErlangA(rate, HANDLE_S, PATIENCE_S, n).p_answered() >= 0.91
    )
    assert minimum == 3
    result = plan_staffing(
        loaded,
        target,
        month="2021-11",
        weeks=2,
        replications=2,
        max_replications=2,
        day_types=parse_day_types("all=mon-sun"),
    )
    assert len(result.cells) == 24
    assert {c: result.staff[c] for c in result.cells} == dict.fromkeys(result.cells, minimum)
    # Where two agents' interval still reaches the target, three are kept and the
    # cell says it is undecided; none is below the target.
    assert {result.decisions[c].status for c in result.cells} <= {"met", "undecided"}
    assert result.below == []
    # Achieved never falls as agents are added, cell by cell, over the ladder tried:
    # as simulated (common random numbers: each contact's draws are the same for
    # every candidate) and, by construction, after the monotone fit.
    for c in result.cells:
        d = result.decisions[c]
        agents = [n for n, _ in d.ladder]
        assert agents == sorted(agents)
        simulated = [f.value for f in d.raw]
        assert simulated == sorted(simulated), c
        assert [f.value for _, f in d.ladder] == simulated


def test_day_types_are_planned_apart(tmp_path: Path) -> None:
    # Saturdays get four times the weekday demand, Sundays none at all.
    loaded = load_scenario(_scenario(tmp_path, weekday="[1, 1, 1, 1, 1, 4, 0.001]"))
    result = plan_staffing(
        loaded,
        parse_target("answered>=0.9"),
        month="2021-11",
        weeks=1,
        replications=1,
        max_replications=1,
    )
    kinds = {c[0] for c in result.cells}
    assert kinds == {"weekday", "saturday", "sunday_holiday"}
    noon = {kind: result.staff[(kind, "phone", "team", 12)] for kind in kinds}
    assert noon["saturday"] > noon["weekday"] > noon["sunday_holiday"] == 1
    assert result.decisions[("sunday_holiday", "phone", "team", 12)].status == "low_volume"


def test_the_monotone_fit_pools_adjacent_violators() -> None:
    assert monotone([0.5, 0.75, 0.25, 0.875], [1, 1, 1, 1]) == [0.5, 0.5, 0.5, 0.875]
    assert monotone([0.5, 0.75, 0.5, 1.0], [1, 1, 1, 1]) == [0.5, 0.625, 0.625, 1.0]
    assert monotone([0.75, 0.5, None, 0.875], [3, 1, 0, 1]) == [0.6875, 0.6875, None, 0.875]
    assert monotone([], []) == []


def test_a_small_sample_without_failures_is_not_certain() -> None:
    f = estimate([(3, 3, 3), (2, 2, 2)])
    assert (f.value, f.judged, f.contacts_per_week) == (1.0, 5, 2.5)
    assert f.high == 1.0
    assert f.low is not None
    assert f.low < 0.8
    assert estimate([(0, 0, 1)]).value is None


def test_day_types_parse_and_bad_ones_are_one_clear_error() -> None:
    assert parse_day_types("weekday=mon-fri,saturday=sat,sunday_holiday=sun") == (DEFAULT_DAY_TYPES)
    assert parse_day_types("work=mon-thu,long=fri+sat,rest=sun") == (
        ("work", (0, 1, 2, 3)),
        ("long", (4, 5)),
        ("rest", (6,)),
    )
    for bad, message in [
        ("weekday=mon-fri,weekend=sat", "no day type for sun"),
        ("a=mon-sun,b=sun", "in two day types"),
        ("a=fri-mon", "runs backwards"),
        ("a=funday", "not a weekday"),
        ("mon-sun", "not name=days"),
    ]:
        with pytest.raises(BadInput, match=message):
            parse_day_types(bad)


def _plan_args(out: Path, jobs: int) -> list[str]:
    return [
        "plan",
        str(SMALL),
        "--target",
        "answered>=0.9 excluding short_abandon",
        "--weeks",
        "1",
        "--replications",
        "2",
        "--max-replications",
        "2",
        "--no-plots",
        "--progress",
        "never",
        "--jobs",
        str(jobs),
        "--out",
        str(out),
    ]


def test_plan_gives_the_same_bytes_with_one_or_two_jobs(tmp_path: Path) -> None:
    assert main(_plan_args(tmp_path / "one", 1)) == 0
    assert main(_plan_args(tmp_path / "two", 2)) == 0
    for name in ("plan.json", "plan.md"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    plan = json.loads((tmp_path / "one" / "plan.json").read_text())
    assert plan["day_types"] == {"weekday": [0, 1, 2, 3, 4], "saturday": [5], "sunday_holiday": [6]}
    text = (tmp_path / "one" / "plan.md").read_text()
    assert "## weekday (mon-fri)" in text
    assert "## saturday (sat)" in text
    assert "## sunday_holiday (sun, public holidays)" in text


def test_simulate_gives_the_same_bytes_with_one_or_two_jobs(tmp_path: Path) -> None:
    args = ["simulate", str(SMALL), "--replications", "2", "--no-plots", "--progress", "never"]
    assert main([*args, "--jobs", "1", "--out", str(tmp_path / "one")]) == 0
    assert main([*args, "--jobs", "2", "--out", str(tmp_path / "two")]) == 0
    for name in ("stats.json", "report.md"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
