"""Routing core throughput: 100k events of a realistic mix through ``Router.apply``.

The two sides, timed in the same run on the same events, A/B interleaved
(parse, route, parse, route, ...; ``ROUNDS`` rounds), CPU time of this process
(``time.process_time``), medians:

- ``parse`` (the baseline): rebuild every event from its wire dict with
  ``event_from_dict``, the validation every event already pays at the edge;
- ``route``: a fresh ``Router`` applies every event (``Router.apply``) and a
  final ``Router.advance`` a day after the last one fires what is left.

The events are the seeded realistic mix of ``benchmarks.workload``
(``realistic_events``: agents of both teams, calls and chats, answers only by
agents the router offered, abandons, away/ready). Reported: both sides'
events/s, the ratio route/parse (target: at most ``TARGET_RATIO``), and the
per-event CPU latency of ``Router.apply`` (p50, p99; each figure includes the
cost of reading the CPU clock, printed beside it).

Run: ``.venv/bin/python benchmarks/bench_core.py [--events N] [--rounds R]``
or ``make bench`` (pytest-benchmark, ``test_core_throughput``, which asserts
the target). ``LINJE_BENCH_EVENTS`` sets the default event count.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.config_file import load_config
from benchmarks._ab import core_build, cpu, interleave, median, verdict
from benchmarks.workload import realistic_events
from router import Event, HelplineConfig, Router, event_from_dict, event_to_dict

CONFIG = Path(__file__).resolve().parent.parent / "config" / "vo-linjen.toml"
N_EVENTS = int(os.environ.get("LINJE_BENCH_EVENTS", "100000"))
ROUNDS = 5
TARGET_RATIO = 1.5  # route time / parse time, at most


def route_all(config: HelplineConfig, events: list[Event]) -> Router:
    """A fresh router applies every event, then a final advance a day after the last."""
    router = Router(config)
    apply = router.apply
    for ev in events:
        apply(ev)
    router.advance(events[-1].at + 86400)
    return router


def check_replay(config: HelplineConfig, events: list[Event]) -> None:
    """Every event of the workload is accepted on replay (untimed): the route side does real work."""
    router = Router(config)
    refused = [ev.event_id for ev in events if not router.apply(ev).accepted]
    assert not refused, f"{len(refused)} events not accepted on replay, first {refused[0]}"


def parse_all(dicts: list[dict[str, Any]]) -> None:
    """The baseline: rebuild every event from its wire dict."""
    for d in dicts:
        event_from_dict(d)


def per_event_latencies(config: HelplineConfig, events: list[Event]) -> list[float]:
    """CPU microseconds of each ``Router.apply`` (clock-read overhead included)."""
    router = Router(config)
    apply = router.apply
    clock = time.process_time_ns
    out = []
    for ev in events:
        t0 = clock()
        apply(ev)
        out.append((clock() - t0) / 1000)
    return out


def clock_overhead_us(n: int = 20000) -> float:
    clock = time.process_time_ns
    out = []
    for _ in range(n):
        t0 = clock()
        out.append(clock() - t0)
    return statistics.median(out) / 1000


def measure(n_events: int = N_EVENTS, rounds: int = ROUNDS) -> dict[str, float]:
    config = load_config(CONFIG)
    events = realistic_events(config, n_events)
    dicts = [event_to_dict(e) for e in events]
    check_replay(config, events)
    times = interleave(
        [("parse", lambda: parse_all(dicts)), ("route", lambda: route_all(config, events))],
        rounds,
    )
    t_parse, t_route = median(times["parse"]), median(times["route"])
    _, lat_raw = cpu(lambda: per_event_latencies(config, events))
    lat = sorted(lat_raw)
    return {
        "events": len(events),
        "rounds": rounds,
        "parse_s": t_parse,
        "route_s": t_route,
        "parse_events_per_s": len(events) / t_parse,
        "route_events_per_s": len(events) / t_route,
        "ratio_route_to_parse": t_route / t_parse,
        "p50_us": statistics.median(lat),
        "p99_us": lat[int(len(lat) * 0.99)],
        "clock_overhead_us": clock_overhead_us(),
    }


def report(r: dict[str, float]) -> str:
    n = int(r["events"])
    lines = [
        f"routing core: {n:,} events, {int(r['rounds'])} A/B rounds, CPU time, medians",
        f"{'side':36} {'CPU s':>8} {'events/s':>12} {'us/event':>9}",
    ]
    for label, key in (
        ("parse: event_from_dict (baseline)", "parse_s"),
        ("route: Router.apply + final advance", "route_s"),
    ):
        lines.append(f"{label:36} {r[key]:8.3f} {n / r[key]:12,.0f} {1e6 * r[key] / n:9.2f}")
    ratio = r["ratio_route_to_parse"]
    lines.append(
        f"ratio route/parse {ratio:.2f}x (target at most {TARGET_RATIO:g}x):"
        f" {verdict(ratio <= TARGET_RATIO)}"
    )
    lines.append(
        f"Router.apply CPU latency per event: p50 {r['p50_us']:.1f} us, p99 {r['p99_us']:.1f} us"
        f" (reading the clock costs {r['clock_overhead_us']:.2f} us of that)"
    )
    return "\n".join(lines)


def test_core_throughput(benchmark) -> None:  # type: ignore[no-untyped-def]
    config = load_config(CONFIG)
    events = realistic_events(config, N_EVENTS)
    dicts = [event_to_dict(e) for e in events]
    times = interleave(
        [("parse", lambda: parse_all(dicts)), ("route", lambda: route_all(config, events))],
        ROUNDS,
    )
    ratio = median(times["route"]) / median(times["parse"])
    benchmark.pedantic(route_all, args=(config, events), rounds=1, iterations=1)
    benchmark.extra_info["parse_cpu_s"] = median(times["parse"])
    benchmark.extra_info["route_cpu_s"] = median(times["route"])
    benchmark.extra_info["ratio_route_to_parse"] = ratio
    assert ratio <= TARGET_RATIO, f"routing is {ratio:.2f}x parsing, target {TARGET_RATIO}x"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=N_EVENTS)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()
    print(core_build())
    r = measure(args.events, args.rounds)
    print(report(r))
    return 0 if r["ratio_route_to_parse"] <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
