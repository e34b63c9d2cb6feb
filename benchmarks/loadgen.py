"""A bounded HTTP load generator for loopback benchmarks (aiohttp client, keep-alive).

N connections each post events one at a time until a fixed count is reached or a
time cap passes; every request's latency (send to acknowledged response) is kept.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

__all__ = ["LoadResult", "run_load"]


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def per_s(self) -> float:
        return self.requests / self.seconds

    def pct(self, q: float) -> float:
        lat = sorted(self.latencies_ms)
        return lat[min(len(lat) - 1, int(len(lat) * q))] if lat else float("nan")

    def summary(self) -> dict[str, float]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "per_s": round(self.per_s, 1),
            "p50_ms": round(statistics.median(self.latencies_ms), 3),
            "p99_ms": round(self.pct(0.99), 3),
        }


async def run_load(
    url: str | Sequence[str],
    make_body: Callable[[int, int], dict[str, Any]],
    *,
    connections: int = 16,
    total: int = 20_000,
    time_cap_s: float = 30.0,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    """``url`` may list several servers (one deployment): worker ``w`` posts to ``url[w % n]``."""
    urls = [url] if isinstance(url, str) else list(url)
    if not urls or not all(
        u.startswith(("http://127.0.0.1", "http://[::1]", "http://localhost")) for u in urls
    ):
        raise ValueError("load tests only target loopback")
    latencies: list[float] = []
    errors = 0
    sent = 0
    deadline = time.monotonic() + time_cap_s

    async def worker(session: aiohttp.ClientSession, w: int) -> None:
        nonlocal sent, errors
        target = urls[w % len(urls)]
        i = 0
        while sent < total and time.monotonic() < deadline:
            sent += 1
            body = make_body(w, i)
            i += 1
            t0 = time.perf_counter()
            async with session.post(target, json=body, headers=headers) as r:
                await r.read()
                if r.status >= 300:
                    errors += 1
            latencies.append((time.perf_counter() - t0) * 1000)

    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(session, w) for w in range(connections)))
        seconds = time.perf_counter() - t0
    return LoadResult(len(latencies), errors, seconds, latencies)
