"""What telemetry costs: the engine's durable ingest with and without it, same run.

One helpline ``Engine`` in-process (the live service's group-commit pipeline,
fsync on), 64 concurrent submitters posting one event at a time (arrivals and
abandons). The baseline engine keeps its no-op probe; the other is watched by
``Telemetry`` as ``linje serve`` sets it up (metrics on, spans not recorded
unless an exporter is configured), and once more with every span recorded
(in-memory exporter). Runs alternate (A, B, C, A, B, C, ...) so drift hits
all alike; the best of each is kept. Every other event ends a contact (a
worst case for the outcome counter). Reported: events/s for each, ratios to
the baseline, and the time one /metrics scrape takes.

Run: ``.venv/bin/python benchmarks/bench_telemetry.py`` (env LINJE_BENCH_EVENTS).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from adapters.config_file import load_config
from adapters.http.clock import Clock
from adapters.http.engine import Engine
from adapters.http.telemetry import Telemetry
from router.events import ContactAbandoned, ContactArrived, Event

TOTAL = int(os.environ.get("LINJE_BENCH_EVENTS", "20000"))
CONCURRENCY = 64
ROUNDS = 5


def events(worker: int, n: int, at: float) -> list[Event]:
    out: list[Event] = []
    for i in range(n):
        base = {"event_id": f"w{worker}-{i}", "at": at, "source": "carrier",
                "contact_id": f"w{worker}-c{i // 2}"}  # fmt: skip
        if i % 2 == 0:
            out.append(ContactArrived(**base, channel="phone", queue="phone"))
        else:
            out.append(ContactAbandoned(**base))
    return out


async def run(data: Path, telemetry: Telemetry | None) -> tuple[float, float]:
    """Events/s through submit (durable acks), and seconds per /metrics scrape."""
    config = load_config(ROOT / "config" / "vo-linjen.toml")
    engine = Engine(config, data, Clock())
    if telemetry is not None:
        telemetry.watch(engine)
    await engine.open()
    per_worker = TOTAL // CONCURRENCY
    batches = [events(w, per_worker, time.time()) for w in range(CONCURRENCY)]

    async def worker(evs: list[Event]) -> None:
        for ev in evs:
            (result,) = await engine.submit([ev])
            assert result.status == "accepted", result

    start = time.perf_counter()
    await asyncio.gather(*(worker(b) for b in batches))
    elapsed = time.perf_counter() - start
    scrape = 0.0
    if telemetry is not None:
        t0 = time.perf_counter()
        for _ in range(20):
            telemetry.exposition()
        scrape = (time.perf_counter() - t0) / 20
        telemetry.shutdown()
    await engine.close()
    return per_worker * CONCURRENCY / elapsed, scrape


def main() -> dict[str, object]:
    try:
        import uvloop

        new_loop = uvloop.new_event_loop  # as the service runs
    except ImportError:  # pragma: no cover
        new_loop = asyncio.new_event_loop
    rates: dict[str, list[float]] = {"baseline": [], "metrics": [], "metrics+spans": []}
    scrapes: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(ROUNDS):
            for name, got in rates.items():
                telemetry = {
                    "baseline": None,
                    "metrics": Telemetry(),
                    "metrics+spans": Telemetry(InMemorySpanExporter()),
                }[name]
                with asyncio.Runner(loop_factory=new_loop) as runner:
                    rate, scrape = runner.run(run(Path(tmp) / f"{name}-{r}", telemetry))
                got.append(rate)
                if scrape:
                    scrapes.append(scrape)
    best = {name: max(v) for name, v in rates.items()}
    return {
        "events": TOTAL // CONCURRENCY * CONCURRENCY,
        "events_per_s": {name: round(v) for name, v in best.items()},
        "ratio_metrics": round(best["metrics"] / best["baseline"], 3),
        "ratio_metrics_and_spans": round(best["metrics+spans"] / best["baseline"], 3),
        "scrape_ms": round(statistics.median(scrapes) * 1000, 2),
    }


def test_telemetry_ratio(benchmark) -> None:  # type: ignore[no-untyped-def]
    result = benchmark.pedantic(main, rounds=1, iterations=1)
    benchmark.extra_info.update(result)


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
