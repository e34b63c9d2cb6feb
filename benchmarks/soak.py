"""Bounded soak: 1,000 events/s for 2 minutes against one node on loopback.

``linje serve`` runs as its own process (uvloop, real clock, durable acks,
the adapter rate limit on at 2,000 events/s). Ten agents are logged in; then
a paced, open-loop stream of arrivals and, two seconds later, their callers
hanging up: each arrival rings the free agents, nobody answers, rings time out
and agents go away on no-answer, as in a flood. Reported: events/s reached,
ack latency (p50/p99/p99.9/max, from sending and from when each event was
due), errors, and the server's resident memory sampled every 5 s (growth after
a 10 s warm-up, per 10,000 events), and the log's size on disk.

Run: ``.venv/bin/python benchmarks/soak.py`` (env LINJE_SOAK_RATE, LINJE_SOAK_SECONDS).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.paced import run_paced
from tests.http_helpers import bearer
from tests.serve_process import Server, write_auth

RATE = float(os.environ.get("LINJE_SOAK_RATE", "1000"))
SECONDS = float(os.environ.get("LINJE_SOAK_SECONDS", "120"))
HANG_UP_AFTER = 200  # events: the caller of arrival i hangs up about 0.2 s later


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def body(i: int) -> dict[str, Any]:
    at = dt.datetime.now(dt.UTC).isoformat()
    base = {"event_id": f"s-{i}", "at": at, "source": "carrier"}
    if i % 2 == 0 or i < HANG_UP_AFTER:
        return {**base, "type": "contact.arrived", "contact_id": f"k{i}", "channel": "phone",
                "queue": "phone"}  # fmt: skip
    return {**base, "type": "contact.abandoned", "contact_id": f"k{i - HANG_UP_AFTER - 1}"}


def post(base: str, event: dict[str, Any]) -> None:
    req = urllib.request.Request(f"{base}/v1/events", data=json.dumps(event).encode(),
                                 headers={**bearer("carrier"), "Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200


def main() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        server = Server(tmpdir / "data", write_auth(tmpdir / "auth.toml"), "--log-level",
                        "warning", "--adapter-rate", "2000", "--adapter-burst", "4000")  # fmt: skip
        samples: list[tuple[float, float]] = []
        stop = threading.Event()
        try:
            server.wait_ready()
            now = dt.datetime.now(dt.UTC).isoformat()
            for n in range(10):
                post(server.base, {"event_id": f"login-{n}", "type": "agent.logged_in", "at": now,
                                   "source": "carrier", "agent_id": f"kss-{n}", "team": "kss",
                                   "channels": ["phone"]})  # fmt: skip
            t0 = time.monotonic()

            def sample() -> None:
                while not stop.is_set():
                    samples.append((time.monotonic() - t0, rss_mb(server.proc.pid)))
                    stop.wait(5)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            result = asyncio.run(run_paced(f"{server.base}/v1/events", body, rate=RATE,
                                           seconds=SECONDS, connections=128,
                                           headers=bearer("carrier")))  # fmt: skip
            stop.set()
            sampler.join()
            samples.append((time.monotonic() - t0, rss_mb(server.proc.pid)))
            log_bytes = sum(p.stat().st_size for p in (tmpdir / "data").rglob("*") if p.is_file())
        finally:
            stop.set()
            server.stop()
    warm = [mb for t, mb in samples if t >= 10] or [samples[-1][1]]
    events_after_warmup = RATE * max(1.0, SECONDS - 10)
    return {
        "target_per_s": RATE,
        "seconds": SECONDS,
        **result.summary(),
        "rss_mb_start": round(samples[0][1], 1),
        "rss_mb_after_warmup": round(warm[0], 1),
        "rss_mb_end": round(samples[-1][1], 1),
        "rss_mb_peak": round(max(mb for _, mb in samples), 1),
        "rss_growth_mb_per_10k_events": round(
            (samples[-1][1] - warm[0]) / events_after_warmup * 10_000, 3
        ),
        "rss_series_mb": [round(mb, 1) for _, mb in samples],
        "data_dir_mb": round(log_bytes / 2**20, 1),
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
