"""Simulator throughput against a SimPy reference model, and a simulated year of the pilot.

The scenario is the same M/M/c+M line for both sides: c = 5 agents,
exponential handle times of mean 180 s, offered load 4.5 Erlangs (90 calls an
hour), exponential patience of mean 300 s. The two sides:

- ``simpy`` (the baseline): the textbook SimPy model (a ``Resource`` of c
  servers, each caller a process waiting for ``request() | timeout(patience)``);
- ``linje``: the project's simulator (``sim.stationary.mmn_simulation``), every
  caller through the full routing core (``router.Router``, fed with
  ``Router.apply`` / ``Router.advance``) by the driver of ``sim.driver``.

They run in the same process A/B interleaved (SimPy, Linje, SimPy, Linje, ...)
at 5k, 50k and 200k callers (9, 5 and 3 rounds), CPU time of this process
(``time.process_time``), medians. Reported per size: CPU microseconds per
caller for both, Linje's speed as a fraction of SimPy's (target at 200k: at
least ``REQUIRED_RATIO``), both models' P(abandon) and P(wait) with the
difference in binomial standard errors (``z``; they must agree within
``MAX_SE``), Erlang A's exact values, Linje's cost per caller at 200k over
that at 5k (flat is 1.0), the cost per caller week by week within one run of the
largest size (``run_windows``: the first simulated week, then the later weeks'
second half over their first half, flat is 1.0), and the CPU time of one simulated year of the pilot
scenario (2021, both channels).

Run: ``.venv/bin/python benchmarks/bench_sim.py [--customers N] [--no-pilot]
[--profile]`` (``--customers`` is the largest size), ``--validate`` for the
large version of ``tests/test_sim_validation.py``, or ``make bench``
(pytest-benchmark; ``test_simulator_against_simpy`` asserts the target and the
agreement).
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import simpy

from benchmarks._ab import core_build, cpu, interleave, median, verdict
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
REQUIRED_RATIO = 0.5  # Linje's speed as a fraction of SimPy's, at least
MAX_SE = 3.0  # P(abandon), P(wait): Linje minus SimPy within this many standard errors
SIZES = (5_000, 50_000, 200_000)
ROUNDS = {5_000: 9, 50_000: 5, 200_000: 3}
WINDOW_S = 7 * 86400.0  # the within-run windows: one simulated week each


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


def run_windows(
    customers: int, seed: int = 1, every_s: float = WINDOW_S
) -> list[tuple[int, float]]:
    """One Linje run of ``customers`` callers, cut into windows of ``every_s`` of simulated
    time: (callers who arrived within the window, CPU seconds it took), in order.

    The marks come from the driver's progress hook (one call per window), so the
    figures are of a single run: a cost that grew with the run's length (state
    that is never purged, a timer heap filling with dead entries) shows as later
    windows costing more than earlier ones, which comparing runs of different
    lengths cannot tell from a warm-up.
    """
    sim = mmn_simulation(
        servers=AGENTS,
        arrival_rate=RATE,
        mean_handle_s=AHT,
        mean_patience_s=PATIENCE,
        customers=customers,
        seed=seed,
    )
    marks: list[tuple[float, int]] = []
    stats = sim.stats
    sim.progress = lambda _t: marks.append((time.process_time(), stats.contacts))
    sim.progress_every_s = every_s
    start = time.process_time()
    sim.run()
    marks.append((time.process_time(), stats.contacts))
    out: list[tuple[int, float]] = []
    before = (start, 0)
    for at, done in marks:
        if done > before[1]:
            out.append((done - before[1], at - before[0]))
            before = (at, done)
    return out


def window_figures(windows: list[tuple[int, float]]) -> dict[str, float]:
    """Cost per caller in the first window, the median of the later ones, and the
    second half of the run over its first half after the first window (flat is 1.0)."""
    per = [cpu_s / n for n, cpu_s in windows]
    later = per[1:]
    half = len(later) // 2
    early, late = later[:half], later[half:]
    return {
        "windows": float(len(per)),
        "first_us": 1e6 * per[0],
        "later_median_us": 1e6 * statistics.median(later),
        "late_over_early": statistics.median(late) / statistics.median(early),
    }


def pilot_year() -> tuple[float, int]:
    """CPU seconds and contacts of one simulated year (2021) of the pilot scenario."""
    loaded = load_scenario(PILOT)
    seconds, result = cpu(
        lambda: simulate(loaded, first=dt.date(2021, 1, 1), last=dt.date(2021, 12, 31))
    )
    return seconds, result.stats.contacts


def agreement(ref: dict[str, float], ours: dict[str, float], customers: int) -> dict[str, float]:
    """Linje's P(abandon) and P(wait) minus SimPy's, in binomial standard errors of the difference."""
    out = {}
    for key in ("abandoned", "waited"):
        p1, p2 = ref[key] / customers, ours[key] / customers
        se = math.sqrt(p1 * (1 - p1) / customers + p2 * (1 - p2) / customers)
        out[key] = (p2 - p1) / se if se > 0 else 0.0
    return out


def compare(customers: int, rounds: int) -> dict[str, Any]:
    """SimPy and Linje on the same line, A/B interleaved (SimPy, Linje, ...), CPU time, medians."""
    results: dict[str, dict[str, float]] = {}

    def side(name: str, run: Callable[[int], dict[str, float]]) -> Callable[[], None]:
        def go() -> None:
            results[name] = run(customers)

        return go

    times = interleave(
        [("simpy", side("simpy", simpy_line)), ("linje", side("linje", linje_line))], rounds
    )
    t_simpy, t_linje = median(times["simpy"]), median(times["linje"])
    ref, ours = results["simpy"], results["linje"]
    z = agreement(ref, ours, customers)
    return {
        "customers": customers,
        "rounds": rounds,
        "simpy_s": t_simpy,
        "linje_s": t_linje,
        "ratio": t_simpy / t_linje,
        "simpy_p_abandon": ref["abandoned"] / customers,
        "linje_p_abandon": ours["abandoned"] / customers,
        "simpy_p_wait": ref["waited"] / customers,
        "linje_p_wait": ours["waited"] / customers,
        "z_abandon": z["abandoned"],
        "z_wait": z["waited"],
        "agree": abs(z["abandoned"]) <= MAX_SE and abs(z["waited"]) <= MAX_SE,
        "linje_router_events": ours["events"],
    }


def measure(customers: int = CUSTOMERS, pilot: bool = True) -> dict[str, Any]:
    sizes = sorted({s for s in SIZES if s < customers} | {customers})
    rows = [compare(n, ROUNDS.get(n, 3 if n >= 200_000 else 5)) for n in sizes]
    out: dict[str, Any] = {"rows": rows, "erlang": ErlangA(RATE, AHT, PATIENCE, AGENTS)}
    out["within_run"] = window_figures(run_windows(customers))
    if pilot:
        out["pilot_year_cpu_s"], out["pilot_year_contacts"] = pilot_year()
    return out


def report(r: dict[str, Any]) -> str:
    rows = r["rows"]
    erlang = r["erlang"]
    lines = [
        f"M/M/{AGENTS}+M line (AHT {AHT:.0f} s, {LOAD} Erlang, patience {PATIENCE:.0f} s):"
        " SimPy and Linje A/B interleaved, CPU time, medians",
        f"{'callers':>8} {'rounds':>6} {'SimPy us/caller':>16} {'Linje us/caller':>16}"
        f" {'Linje/SimPy speed':>18} {'P(abandon) S / L':>17} {'z':>5}"
        f" {'P(wait) S / L':>15} {'z':>5}",
    ]
    for row in rows:
        n = row["customers"]
        lines.append(
            f"{n:>8,} {row['rounds']:>6} {1e6 * row['simpy_s'] / n:16.2f}"
            f" {1e6 * row['linje_s'] / n:16.2f} {row['ratio']:17.2f}x"
            f" {row['simpy_p_abandon']:8.4f}/{row['linje_p_abandon']:.4f} {row['z_abandon']:5.1f}"
            f" {row['simpy_p_wait']:7.4f}/{row['linje_p_wait']:.4f} {row['z_wait']:5.1f}"
        )
    lines.append(
        f"{'Erlang A':>8} {'':>6} {'':>16} {'':>16} {'':>18}"
        f" {erlang.p_abandon():8.4f}        {'':>5} {erlang.p_wait():7.4f}"
    )
    big, small = rows[-1], rows[0]
    ratio = big["ratio"]
    lines.append(
        f"speed Linje/SimPy at {big['customers']:,} callers {ratio:.2f}x"
        f" (target at least {REQUIRED_RATIO:g}x): {verdict(ratio >= REQUIRED_RATIO)}"
    )
    lines.append(
        f"agreement at {big['customers']:,}: |z| <= {MAX_SE:g} binomial SE of the difference"
        f" for P(abandon) and P(wait): {'yes' if big['agree'] else 'NO'}"
    )
    if len(rows) > 1:
        flat = (big["linje_s"] / big["customers"]) / (small["linje_s"] / small["customers"])
        lines.append(
            f"Linje cost per caller {big['customers']:,}/{small['customers']:,}: {flat:.2f}x"
            " (flat is 1.0)"
        )
    w = r["within_run"]
    lines.append(
        f"within one run of {big['customers']:,} callers, by simulated week ({w['windows']:.0f}):"
        f" first week {w['first_us']:.2f} us/caller, later weeks median"
        f" {w['later_median_us']:.2f}; second half / first half of the later weeks"
        f" {w['late_over_early']:.2f}x (flat is 1.0)"
    )
    if "pilot_year_cpu_s" in r:
        lines.append(
            f"one simulated year of the pilot (2021): {r['pilot_year_cpu_s']:.1f} CPU s,"
            f" {r['pilot_year_contacts']:,} contacts"
        )
    return "\n".join(lines)


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
        if file.endswith(os.path.join("router", "core.py")) and name in ("apply", "advance")
    )
    print(f"router apply+advance: {100 * core / total:.0f} % of the run (cProfile)")
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
    row = compare(CUSTOMERS, ROUNDS.get(CUSTOMERS, 3))
    benchmark.pedantic(linje_line, args=(CUSTOMERS,), rounds=1, iterations=1)
    benchmark.extra_info.update({k: v for k, v in row.items() if isinstance(v, float | int)})
    assert row["agree"], f"Linje and SimPy disagree: z {row['z_abandon']:.1f}, {row['z_wait']:.1f}"
    ratio = row["ratio"]
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
    parser.add_argument("--customers", type=int, default=CUSTOMERS, help="the largest size")
    parser.add_argument("--profile", action="store_true", help="cProfile the simulator")
    parser.add_argument("--validate", action="store_true", help="large validation against Erlang")
    parser.add_argument("--no-pilot", action="store_true", help="skip the simulated pilot year")
    args = parser.parse_args()
    print(core_build())
    if args.profile:
        profile()
        sys.exit(0)
    if args.validate:
        sys.exit(0 if validate_large() else 1)
    result = measure(args.customers, pilot=not args.no_pilot)
    print(report(result))
    last = result["rows"][-1]
    sys.exit(0 if last["ratio"] >= REQUIRED_RATIO and last["agree"] else 1)
