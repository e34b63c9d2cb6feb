"""An open-loop, paced HTTP load generator (aiohttp client on uvloop, keep-alive).

Request ``i`` is due at ``t0 + i / rate`` whatever happened to the previous
ones, so a slow server cannot slow the load down (no coordinated omission
while fewer than ``connections`` requests are outstanding).
Two latencies per request: from sending it, and from when it was due.

Also a program, so that the client runs in its own process beside the server
(``benchmarks/bench_paced.py`` drives it)::

    python benchmarks/paced.py URL --rate 2000 --seconds 20 [--token T] [--run R]

posts one unique, valid event per request (the events of
``benchmarks/wrk/events.lua``: arrivals, and abandons of contacts that
arrived 512 earlier) and prints the summary as one JSON line.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

__all__ = ["PacedResult", "pct", "run_paced"]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


@dataclass
class PacedResult:
    sent: int = 0
    errors: int = 0
    seconds: float = 0.0
    latency_ms: list[float] = field(default_factory=list)  # send -> acknowledged
    delay_ms: list[float] = field(default_factory=list)  # due -> acknowledged
    statuses: dict[int, int] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "errors": self.errors,
            "statuses": dict(sorted(self.statuses.items())),
            "per_s": round(self.sent / self.seconds, 1) if self.seconds else None,
            "ack_p50_ms": round(pct(self.latency_ms, 0.50), 2),
            "ack_p99_ms": round(pct(self.latency_ms, 0.99), 2),
            "ack_p999_ms": round(pct(self.latency_ms, 0.999), 2),
            "ack_max_ms": round(max(self.latency_ms), 2) if self.latency_ms else None,
            "from_due_p99_ms": round(pct(self.delay_ms, 0.99), 2),
        }


async def run_paced(
    url: str,
    make_body: Callable[[int], dict[str, Any]],
    *,
    rate: float,
    seconds: float,
    connections: int = 64,
    headers: dict[str, str] | None = None,
) -> PacedResult:
    """POST ``make_body(i)`` for i = 0, 1, ... at ``rate`` per second for ``seconds``."""
    if not url.startswith(("http://127.0.0.1", "http://[::1]", "http://localhost")):
        raise ValueError("soak tests only target loopback")
    result = PacedResult()
    total = int(rate * seconds)
    next_i = 0

    async def worker(session: aiohttp.ClientSession, t0: float) -> None:
        nonlocal next_i
        while next_i < total:
            i = next_i
            next_i += 1
            due = t0 + i / rate
            wait = due - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            sent = time.perf_counter()
            try:
                async with session.post(url, json=make_body(i), headers=headers) as r:
                    await r.read()
                    status = r.status
            except aiohttp.ClientError:
                status = 0
            done = time.perf_counter()
            result.sent += 1
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if status != 200:
                result.errors += 1
            result.latency_ms.append((done - sent) * 1000)
            result.delay_ms.append((done - due) * 1000)

    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(session, t0) for _ in range(connections)))
        result.seconds = time.perf_counter() - t0
    return result


def wrk_like_event(run: str, i: int) -> dict[str, Any]:
    """Event ``i`` of run ``run``: as ``benchmarks/wrk/events.lua`` makes them."""
    k = i // 2
    base = {"event_id": f"{run}e{i}", "source": "carrier",
            "at": _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")}  # fmt: skip
    if i % 2 == 1 and k > 512:
        return {**base, "type": "contact.abandoned", "contact_id": f"{run}c{k - 512}"}
    cid = f"{run}c{k}" if i % 2 == 0 else f"{run}x{k}"
    return {**base, "type": "contact.arrived", "contact_id": cid, "channel": "phone",
            "queue": "phone"}  # fmt: skip


def _main() -> None:
    import argparse
    import json

    import uvloop

    p = argparse.ArgumentParser(description="open-loop paced POST /v1/events")
    p.add_argument("url")
    p.add_argument("--rate", type=float, required=True)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--token", default=None)
    p.add_argument("--run", default="p")
    a = p.parse_args()
    headers = {"Authorization": f"Bearer {a.token}"} if a.token else None
    result = uvloop.run(run_paced(a.url, lambda i: wrk_like_event(a.run, i), rate=a.rate,
                                  seconds=a.seconds, connections=a.connections,
                                  headers=headers))  # fmt: skip
    print(json.dumps(result.summary()))


if __name__ == "__main__":
    _main()
