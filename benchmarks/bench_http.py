"""POST /v1/events with durable acks against a bare aiohttp endpoint, same run.

Both servers run as their own processes on loopback with uvloop; the same
load generator (64 keep-alive connections, fixed count, time cap) posts the
same events to each. Linje acknowledges each event only after its log record
is fsynced (group commit). Reported: events/s, p50/p99 ack latency, and the
ratio Linje / bare (target >= 0.6).

Run: ``.venv/bin/python benchmarks/bench_http.py`` (env LINJE_BENCH_REQUESTS).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.loadgen import run_load
from tests.http_helpers import bearer
from tests.serve_process import Server, free_port, write_auth

TOTAL = int(os.environ.get("LINJE_BENCH_REQUESTS", "20000"))
CONNECTIONS = int(os.environ.get("LINJE_BENCH_CONNECTIONS", "64"))


def body(w: int, i: int) -> dict[str, object]:
    """Arrivals then abandons, alternating, each with its own contact per worker."""
    n = i // 2
    at = dt.datetime.now(dt.UTC).isoformat()
    base = {"event_id": f"w{w}-{i}", "at": at, "source": "carrier", "contact_id": f"w{w}-c{n}"}
    if i % 2 == 0:
        return {**base, "type": "contact.arrived", "channel": "phone", "queue": "phone"}
    return {**base, "type": "contact.abandoned"}


def wait_http(url: str, timeout: float = 30) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(url)


def main() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        auth = write_auth(tmpdir / "auth.toml")
        port = free_port()
        bare = subprocess.Popen(
            [sys.executable, str(ROOT / "benchmarks" / "bare_server.py"), str(port)]
        )
        # No adapter rate limit: this measures how fast one node acknowledges.
        linje = Server(tmpdir / "data", auth, "--log-level", "warning", "--adapter-rate", "0")
        try:
            wait_http(f"http://127.0.0.1:{port}/readyz")
            linje.wait_ready()
            base = asyncio.run(run_load(f"http://127.0.0.1:{port}/v1/events", body,
                                        connections=CONNECTIONS, total=TOTAL))  # fmt: skip
            ours = asyncio.run(run_load(f"{linje.base}/v1/events", body, connections=CONNECTIONS,
                                        total=TOTAL, headers=bearer("carrier")))  # fmt: skip
        finally:
            bare.terminate()
            bare.wait()
            linje.stop()
    return {
        "bare": base.summary(),
        "linje": ours.summary(),
        "ratio_events_per_s": round(ours.per_s / base.per_s, 3),
    }


def test_http_ratio(benchmark) -> None:  # type: ignore[no-untyped-def]
    result = benchmark.pedantic(main, rounds=1, iterations=1)
    benchmark.extra_info.update(result)


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
