"""An open-loop, paced HTTP load generator for soak tests (aiohttp client, keep-alive).

Request ``i`` is due at ``t0 + i / rate`` whatever happened to the previous
ones, so a slow server cannot slow the load down (no coordinated omission).
Two latencies per request: from sending it, and from when it was due.
"""

from __future__ import annotations

import asyncio
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
