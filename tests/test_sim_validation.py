"""The simulator, with the full routing core, agrees with Erlang C and Erlang A where they hold.

Stationary lines (one team, no schedule changes, instant pick-up, exponential
handle times and patience): one long run per line; the first tenth of its
contacts (the line starts empty, far from its stationary state) is dropped as
warm-up, and the rest is cut into consecutive batches whose means give the
standard error (batch means, which allow for the correlation between
neighbouring contacts). The simulated P(wait), share answered within 20 s and
P(abandon) must lie within three standard errors of the formulas. The run
sizes are bounded so the suite stays fast; ``benchmarks/bench_sim.py
--validate`` runs the same check with far larger runs.
"""

from __future__ import annotations

import functools
import math
import statistics
from dataclasses import dataclass

import pytest

from router import ContactRecord
from sim.erlang import ErlangA
from sim.stationary import mmn_simulation

CUSTOMERS = 8800
WARMUP = 800  # the first customers meet an empty line: not stationary yet
BATCHES = 20  # of 400 contacts each, long against the line's relaxation time


@dataclass(frozen=True)
class Line:
    name: str
    agents: int
    calls_per_hour: float
    handle_s: float
    patience_s: float  # math.inf: nobody hangs up (Erlang C)

    def formula(self) -> ErlangA:
        return ErlangA(self.calls_per_hour / 3600, self.handle_s, self.patience_s, self.agents)


LINES = [
    Line("one agent, 1 call an hour, nobody hangs up", 1, 1, 1200, math.inf),
    Line("one agent, 1 call an hour, short patience", 1, 1, 1200, 60),
    Line("three agents, short patience", 3, 12, 600, 60),
    Line("five agents, 4.5 Erlangs, 5 minutes patience", 5, 90, 180, 300),
    Line("14 agents, 200 calls an hour, short patience", 14, 200, 216, 60),
    Line("14 agents, 200 calls an hour, long patience", 14, 200, 216, 1800),
    Line("14 agents, 200 calls an hour, nobody hangs up", 14, 200, 216, math.inf),
]


@functools.cache
def measure(line: Line) -> list[tuple[float, float, float]]:
    """(P(wait > 0), share answered within 20 s, P(abandon)) of each batch of one run."""
    sim = mmn_simulation(
        servers=line.agents,
        arrival_rate=line.calls_per_hour / 3600,
        mean_handle_s=line.handle_s,
        mean_patience_s=line.patience_s,
        customers=CUSTOMERS,
        seed=f"validation/{line.name}",
    )
    records = [r for r in sim.run() if isinstance(r, ContactRecord)]
    records.sort(key=lambda r: r.arrived_at)
    kept = records[WARMUP:]
    size = len(kept) // BATCHES
    out = []
    for b in range(BATCHES):
        batch = kept[b * size : (b + 1) * size]
        out.append(
            (
                sum(1 for r in batch if r.wait_s > 0) / size,
                sum(1 for r in batch if r.outcome == "answered" and r.wait_s <= 20) / size,
                sum(1 for r in batch if r.outcome == "unanswered") / size,
            )
        )
    return out


def test_the_run_is_cut_into_equal_batches_after_the_warm_up() -> None:
    assert (CUSTOMERS - WARMUP) % BATCHES == 0
    assert len(measure(LINES[0])) == BATCHES


@pytest.mark.parametrize("line", LINES, ids=[line.name for line in LINES])
def test_simulated_line_agrees_with_erlang_within_three_standard_errors(line: Line) -> None:
    runs = measure(line)
    q = line.formula()
    expected = (q.p_wait(), q.service_level(20), q.p_abandon())
    for name, i in (("P(wait)", 0), ("answered within 20 s", 1), ("P(abandon)", 2)):
        values = [run[i] for run in runs]
        mean = statistics.fmean(values)
        se = statistics.stdev(values) / math.sqrt(len(values))
        if expected[i] == 0.0:  # Erlang C: nobody abandons, and nobody may in the simulation
            assert max(values) == 0.0, name
            continue
        assert se > 0, name
        assert abs(mean - expected[i]) <= 3 * se, (
            f"{name}: simulated {mean:.4f} +/- {se:.4f}, Erlang {expected[i]:.4f}"
        )


def test_the_check_is_sharp_enough_to_catch_one_agent_too_many() -> None:
    # The same run judged against a formula with an extra agent fails: the
    # tolerance is tight enough to tell staffing levels apart.
    line = LINES[3]
    runs = measure(line)
    wrong = ErlangA(line.calls_per_hour / 3600, line.handle_s, line.patience_s, line.agents + 1)
    values = [run[0] for run in runs]
    se = statistics.stdev(values) / math.sqrt(len(values))
    assert abs(statistics.fmean(values) - wrong.p_wait()) > 3 * se
