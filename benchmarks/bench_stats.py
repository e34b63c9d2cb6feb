"""Statistics fold throughput: the records of a busy helpline's weeks through ``router.stats``.

The records come from routing the seeded realistic event mix
(``benchmarks.workload``) through ``Router.apply`` and a final ``advance``. Reported as records/s, and as a ratio against a
baseline measured in the same run on the same records: the least any fold
must do, one pass counting outcomes per (month, channel) with a Counter and
one local-time conversion per contact. Both sides run A/B interleaved
(baseline, fold, baseline, fold, ...; 5 rounds), CPU time, medians. Run:
``.venv/bin/python benchmarks/bench_stats.py`` or ``make bench``.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.config_file import load_config
from benchmarks._ab import cpu, interleave, median
from benchmarks.workload import realistic_events
from router import ContactRecord, Router
from router.records import Record
from router.stats import fold_for_config

CONFIG = Path(__file__).resolve().parent.parent / "config" / "vo-linjen.toml"
N_EVENTS = int(__import__("os").environ.get("LINJE_BENCH_EVENTS", "100000"))
GROUP_BY = ("month", "channel")
ROUNDS = 5


def records_of(config, n_events: int) -> list[Record]:  # type: ignore[no-untyped-def]
    router = Router(config)
    out: list[Record] = []
    events = realistic_events(config, n_events)
    for ev in events:
        out += router.apply(ev).records
    return out + router.advance(events[-1].at + 86400).records


def baseline(records: list[Record], tz: ZoneInfo) -> Counter[tuple[str, str, str]]:
    counts: Counter[tuple[str, str, str]] = Counter()
    for r in records:
        if isinstance(r, ContactRecord):
            month = dt.datetime.fromtimestamp(r.arrived_at, tz).strftime("%Y-%m")
            counts[(month, r.channel, r.unanswered or r.outcome)] += 1
    return counts


def measure() -> dict[str, float]:
    config = load_config(CONFIG)
    records = records_of(config, N_EVENTS)
    tz = ZoneInfo(config.timezone)
    times = interleave(
        [
            ("baseline", lambda: baseline(records, tz)),
            ("fold", lambda: fold_for_config(records, config, group_by=GROUP_BY)),
        ],
        ROUNDS,
    )
    t_base, t_fold = median(times["baseline"]), median(times["fold"])
    contacts = sum(1 for r in records if isinstance(r, ContactRecord))
    return {
        "records": len(records),
        "contacts": contacts,
        "fold_records_per_s": len(records) / t_fold,
        "baseline_records_per_s": len(records) / t_base,
        "fold_to_baseline_time_ratio": t_fold / t_base,
    }


def test_stats_fold_throughput(benchmark) -> None:  # type: ignore[no-untyped-def]
    config = load_config(CONFIG)
    records = records_of(config, N_EVENTS)
    tz = ZoneInfo(config.timezone)
    base = median([cpu(lambda: baseline(records, tz))[0] for _ in range(ROUNDS)])
    benchmark.pedantic(
        fold_for_config, args=(records, config), kwargs={"group_by": GROUP_BY}, rounds=3
    )
    benchmark.extra_info["baseline_s"] = base
    benchmark.extra_info["ratio_fold_to_baseline"] = benchmark.stats.stats.mean / base


if __name__ == "__main__":
    for k, v in measure().items():
        print(f"{k:30} {v:,.2f}")
