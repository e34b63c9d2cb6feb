"""Routing core throughput: 100k events of a realistic mix through handle/advance.

Reported as events/s and per-event p50/p99 latency, and as a ratio against a
baseline measured in the same run on the same events: rebuilding each event
from its wire dict (``event_from_dict``, the validation every event already
pays at the edge). Run: ``.venv/bin/python benchmarks/bench_core.py`` or
``make bench`` (pytest-benchmark).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.config_file import load_config
from benchmarks.workload import realistic_events
from router import Router, event_from_dict, event_to_dict

CONFIG = Path(__file__).resolve().parent.parent / "config" / "vo-linjen.toml"
N_EVENTS = int(__import__("os").environ.get("LINJE_BENCH_EVENTS", "100000"))


def route_all(config, events) -> Router:  # type: ignore[no-untyped-def]
    router = Router(config)
    for ev in events:
        try:
            router.handle(ev)
        except Exception:
            pass
        router.take_records()
    router.advance(events[-1].at + 86400)
    return router


def parse_all(dicts) -> None:  # type: ignore[no-untyped-def]
    for d in dicts:
        event_from_dict(d)


def per_event_latencies(config, events) -> list[float]:  # type: ignore[no-untyped-def]
    router = Router(config)
    out = []
    clock = time.perf_counter_ns
    for ev in events:
        t0 = clock()
        try:
            router.handle(ev)
        except Exception:
            pass
        out.append((clock() - t0) / 1000)
    return out


def measure() -> dict[str, float]:
    config = load_config(CONFIG)
    events = realistic_events(config, N_EVENTS)
    dicts = [event_to_dict(e) for e in events]
    t0 = time.perf_counter()
    parse_all(dicts)
    t_parse = time.perf_counter() - t0
    t0 = time.perf_counter()
    route_all(config, events)
    t_route = time.perf_counter() - t0
    lat = sorted(per_event_latencies(config, events))
    return {
        "events": len(events),
        "route_events_per_s": len(events) / t_route,
        "parse_events_per_s": len(events) / t_parse,
        "route_to_parse_time_ratio": t_route / t_parse,
        "p50_us": statistics.median(lat),
        "p99_us": lat[int(len(lat) * 0.99)],
    }


def test_core_throughput(benchmark) -> None:  # type: ignore[no-untyped-def]
    config = load_config(CONFIG)
    events = realistic_events(config, N_EVENTS)
    dicts = [event_to_dict(e) for e in events]
    t0 = time.perf_counter()
    parse_all(dicts)
    baseline = time.perf_counter() - t0
    benchmark.pedantic(route_all, args=(config, events), rounds=3, iterations=1)
    benchmark.extra_info["baseline_parse_s"] = baseline
    benchmark.extra_info["ratio_route_to_parse"] = benchmark.stats.stats.mean / baseline


if __name__ == "__main__":
    for k, v in measure().items():
        print(f"{k:28} {v:,.2f}")
