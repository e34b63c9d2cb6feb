"""Simulator throughput against a SimPy reference model, and a simulated year of the pilot.

The scenario is the same M/M/c+M line for both, in the same run: c = 5 agents,
exponential handle times of mean 180 s, offered load 4.5 Erlangs (90 calls an
hour), exponential patience of mean 300 s, 200 000 callers. The SimPy model is
the textbook one (a ``Resource`` of c servers, each caller a process waiting
for ``request() | timeout(patience)``); the project's simulator runs every
caller through the full routing core (``router.Router``) with the driver of
``sim.driver``. Reported: callers per second for both and their ratio (the
project's must be at least 2x SimPy's), both models' P(abandon) next to Erlang
A's (they must model the same line), and the wall time of one simulated year
of the pilot scenario (2021, both channels).

Run: ``.venv/bin/python benchmarks/bench_sim.py [--customers N] [--profile]``,
``--validate`` for the large version of ``tests/test_sim_validation.py``, or
``make bench`` (pytest-benchmark).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import math
import os
import pstats
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import simpy

from router import ContactRecord
from sim.erlang import ErlangA
from sim.run import simulate
from sim.scenario import load_scenario
from sim.stationary import mmn_simulation

ROOT = Path(__file__).resolve().parent.parent
PILOT = ROOT / "config" / "scenarios" / "pilot-2019-2021.toml"
CUSTOMERS = int(os.environ.get("LINJE_BENCH_CUSTOMERS", "200000"))
AGENTS, AHT, LOAD, PATIENCE = 5, 180.0, 4.5, 300.0
RATE = LOAD / AHT
REQUIRED_RATIO = 2.0


def simpy_line(customers: int, seed: int = 1) -> dict[str, float]:
    """The reference M/M/c+M model in SimPy; returns its counts."""
    rng = random.Random(seed)
    env = simpy.Environment()
    agents = simpy.Resource(env, capacity=AGENTS)
    counts = {"answered": 0, "abandoned": 0, "waited": 0}

    def caller(env: simpy.Environment):  # type: ignore[no-untyped-def]
        arrived = env.now
        patience = rng.expovariate(1.0 / PATIENCE)
        with agents.request() as req:
            got = yield req | env.timeout(patience)
            if req in got:
                counts["waited"] += env.now > arrived
                counts["answered"] += 1
                yield env.timeout(rng.expovariate(1.0 / AHT))
            else:
                counts["waited"] += 1
                counts["abandoned"] += 1

    def source(env: simpy.Environment):  # type: ignore[no-untyped-def]
        for _ in range(customers):
            yield env.timeout(rng.expovariate(RATE))
            env.process(caller(env))

    env.process(source(env))
    env.run()
    return {k: float(v) for k, v in counts.items()}


def linje_line(customers: int, seed: int = 1) -> dict[str, float]:
    """The same line through the routing core; returns its counts and the run's counters."""
    sim = mmn_simulation(
        servers=AGENTS,
        arrival_rate=RATE,
        mean_handle_s=AHT,
        mean_patience_s=PATIENCE,
        customers=customers,
        seed=seed,
    )
    records = [r for r in sim.run() if isinstance(r, ContactRecord)]
    return {
        "answered": float(sum(r.outcome == "answered" for r in records)),
        "abandoned": float(sum(r.outcome == "unanswered" for r in records)),
        "waited": float(sum(r.wait_s > 0 for r in records)),
        "events": float(sim.stats.events),
        "ticks": float(sim.stats.ticks),
    }


def pilot_year() -> tuple[float, int]:
    """Wall seconds and contacts of one simulated year (2021) of the pilot scenario."""
    loaded = load_scenario(PILOT)
    t0 = time.perf_counter()
    result = simulate(loaded, first=dt.date(2021, 1, 1), last=dt.date(2021, 12, 31))
    return time.perf_counter() - t0, result.stats.contacts


def measure(customers: int = CUSTOMERS) -> dict[str, float]:
    t0 = time.perf_counter()
    ref = simpy_line(customers)
    t_simpy = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours = linje_line(customers)
    t_linje = time.perf_counter() - t0
    year_s, year_contacts = pilot_year()
    erlang = ErlangA(RATE, AHT, PATIENCE, AGENTS)
    return {
        "customers": customers,
        "simpy_customers_per_s": customers / t_simpy,
        "linje_customers_per_s": customers / t_linje,
        "ratio_linje_to_simpy": t_simpy / t_linje,
        "linje_router_events": ours["events"],
        "simpy_p_abandon": ref["abandoned"] / customers,
        "linje_p_abandon": ours["abandoned"] / customers,
        "erlang_a_p_abandon": erlang.p_abandon(),
        "simpy_p_wait": ref["waited"] / customers,
        "linje_p_wait": ours["waited"] / customers,
        "erlang_a_p_wait": erlang.p_wait(),
        "pilot_year_wall_s": year_s,
        "pilot_year_contacts": year_contacts,
    }


def profile(customers: int = 20000) -> None:
    """Where the project's simulator spends its time: the router's share and its top functions."""
    sim = mmn_simulation(
        servers=AGENTS,
        arrival_rate=RATE,
        mean_handle_s=AHT,
        mean_patience_s=PATIENCE,
        customers=customers,
        seed=1,
    )
    prof = cProfile.Profile()
    prof.enable()
    sim.run()
    prof.disable()
    stats = pstats.Stats(prof)
    raw = stats.stats  # type: ignore[attr-defined]
    total = max(ct for (_, _, _), (_, _, _, ct, _) in raw.items())
    core = sum(
        ct
        for (file, _, name), (_, _, _, ct, _) in raw.items()
        if file.endswith(os.path.join("router", "core.py")) and name in ("handle", "advance")
    )
    print(f"router handle+advance: {100 * core / total:.0f} % of the run (cProfile)")
    stats.sort_stats("tottime").print_stats(15)


def validate_large(replications: int = 40, customers: int = 5000) -> bool:
    """The validation of ``tests/test_sim_validation.py`` with far larger runs."""
    sys.path.insert(0, str(ROOT))
    from tests import test_sim_validation as v

    ok = True
    for line in v.LINES:
        q = line.formula()
        expected = (q.p_wait(), q.service_level(20), q.p_abandon())
        runs = []
        for rep in range(replications):
            sim = mmn_simulation(
                servers=line.agents,
                arrival_rate=line.calls_per_hour / 3600,
                mean_handle_s=line.handle_s,
                mean_patience_s=line.patience_s,
                customers=customers,
                seed=f"large/{line.name}/{rep}",
            )
            recs = sorted(
                (r for r in sim.run() if isinstance(r, ContactRecord)), key=lambda r: r.arrived_at
            )[customers // 10 :]
            n = len(recs)
            runs.append(
                (
                    sum(r.wait_s > 0 for r in recs) / n,
                    sum(r.outcome == "answered" and r.wait_s <= 20 for r in recs) / n,
                    sum(r.outcome == "unanswered" for r in recs) / n,
                )
            )
        for i, name in enumerate(("P(wait)", "within 20 s", "P(abandon)")):
            values = [r[i] for r in runs]
            mean = statistics.fmean(values)
            se = statistics.stdev(values) / math.sqrt(len(values))
            good = abs(mean - expected[i]) <= 3 * se if se > 0 else mean == expected[i]
            ok &= good
            print(
                f"{line.name:48} {name:12} sim {mean:.4f} +/- {se:.4f}  "
                f"Erlang {expected[i]:.4f}  {'ok' if good else 'OUTSIDE 3 SE'}"
            )
    return ok


def test_simulator_against_simpy(benchmark) -> None:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    simpy_line(CUSTOMERS)
    baseline = time.perf_counter() - t0
    benchmark.pedantic(linje_line, args=(CUSTOMERS,), rounds=1, iterations=1)
    ratio = baseline / benchmark.stats.stats.mean
    benchmark.extra_info["simpy_s"] = baseline
    benchmark.extra_info["ratio_linje_to_simpy"] = ratio
    benchmark.extra_info["linje_customers_per_s"] = CUSTOMERS / benchmark.stats.stats.mean
    benchmark.extra_info["simpy_customers_per_s"] = CUSTOMERS / baseline
    assert ratio >= REQUIRED_RATIO, f"the simulator is {ratio:.2f}x SimPy, needs {REQUIRED_RATIO}x"


def test_one_simulated_year_of_the_pilot(benchmark) -> None:  # type: ignore[no-untyped-def]
    loaded = load_scenario(PILOT)
    result = benchmark.pedantic(
        simulate,
        args=(loaded,),
        kwargs={"first": dt.date(2021, 1, 1), "last": dt.date(2021, 12, 31)},
        rounds=3,
        iterations=1,
    )
    benchmark.extra_info["contacts"] = result.stats.contacts
    benchmark.extra_info["router_events"] = result.stats.events


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=CUSTOMERS)
    parser.add_argument("--profile", action="store_true", help="cProfile the simulator")
    parser.add_argument("--validate", action="store_true", help="large validation against Erlang")
    args = parser.parse_args()
    if args.profile:
        profile()
        sys.exit(0)
    if args.validate:
        sys.exit(0 if validate_large() else 1)
    result = measure(args.customers)
    for k, v in result.items():
        print(f"{k:28} {v:,.4f}" if isinstance(v, float) and v < 10 else f"{k:28} {v:,.0f}")
    ratio = result["ratio_linje_to_simpy"]
    verdict = "meets" if ratio >= REQUIRED_RATIO else "does NOT meet"
    print(f"the simulator {verdict} the required {REQUIRED_RATIO:g}x SimPy ({ratio:.2f}x)")
    sys.exit(0 if ratio >= REQUIRED_RATIO else 1)
