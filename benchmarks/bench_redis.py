"""Ingest through a 2-node Redis deployment against one embedded node, same run, same load.

Every server is its own `linje serve` process on loopback (uvloop); the same
load generator (``benchmarks/loadgen.py``: 64 keep-alive connections, fixed
count, time cap) posts the same kind of events (arrivals then abandons, one
contact per worker at a time). For the deployment, half the connections go
to each node; each event is acknowledged once it is in Redis and folded by the
node that took it (docs/REDIS.md). Measured, in this order:

* ``embedded``: one node, every ack after an fsync of its log (the baseline);
* ``redis_aof_always``: two nodes on a private redis-server with
  ``appendfsync always`` (an ack means fsynced, as for the baseline);
* ``redis_no_aof``: two nodes on a private redis-server without AOF
  (acknowledged = in Redis's memory: see docs/REDIS.md for what that promises).

Reported: events/s, p50/p99 ack latency, and the ratios against the baseline.
Run: ``.venv/bin/python benchmarks/bench_redis.py`` (env LINJE_BENCH_REQUESTS).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.loadgen import LoadResult, run_load
from tests.http_helpers import bearer
from tests.redis_helpers import OwnRedis
from tests.serve_process import Server, write_auth

TOTAL = int(os.environ.get("LINJE_BENCH_REQUESTS", "20000"))
CONNECTIONS = int(os.environ.get("LINJE_BENCH_CONNECTIONS", "64"))
COMMON = ("--log-level", "warning", "--adapter-rate", "0")


def body(w: int, i: int) -> dict[str, object]:
    """Arrivals then abandons, alternating, each with its own contact per worker."""
    n = i // 2
    at = dt.datetime.now(dt.UTC).isoformat()
    base = {"event_id": f"w{w}-{i}", "at": at, "source": "carrier", "contact_id": f"w{w}-c{n}"}
    if i % 2 == 0:
        return {**base, "type": "contact.arrived", "channel": "phone", "queue": "phone"}
    return {**base, "type": "contact.abandoned"}


def load(urls: list[str]) -> LoadResult:
    return asyncio.run(run_load([f"{u}/v1/events" for u in urls], body, connections=CONNECTIONS,
                                total=TOTAL, headers=bearer("carrier")))  # fmt: skip


def redis_pair(tmp: Path, auth: Path, own: OwnRedis) -> list[Server]:
    servers = [
        Server(tmp / "data", auth, *COMMON, "--store", own.url, "--lease-ttl", "5",
               "--node-name", f"bench{i}")
        for i in range(2)
    ]  # fmt: skip
    for s in servers:
        s.wait_ready()
    return servers


def main() -> dict[str, Any]:
    results: dict[str, LoadResult] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        (tmpdir / "data").mkdir()
        auth = write_auth(tmpdir / "auth.toml")
        embedded = Server(tmpdir / "embedded", auth, *COMMON)
        try:
            embedded.wait_ready()
            results["embedded"] = load([embedded.base])
        finally:
            embedded.stop()
        for name, fsync in (("redis_aof_always", "always"), ("redis_no_aof", "off")):
            own = OwnRedis(tmpdir / name, appendfsync=fsync)
            own.start()
            servers: list[Server] = []
            try:
                servers = redis_pair(tmpdir, auth, own)
                results[name] = load([s.base for s in servers])
            finally:
                for s in servers:
                    s.stop()
                own.stop()
    base = results["embedded"]
    out: dict[str, Any] = {name: r.summary() for name, r in results.items()}
    for name in ("redis_aof_always", "redis_no_aof"):
        r = results[name]
        out[f"ratio_events_per_s_{name}"] = round(r.per_s / base.per_s, 3)
        out[f"ratio_p99_{name}"] = round(r.pct(0.99) / base.pct(0.99), 3)
    return out


def test_redis_ratio(benchmark) -> None:  # type: ignore[no-untyped-def]
    result = benchmark.pedantic(main, rounds=1, iterations=1)
    benchmark.extra_info.update(result)


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
