"""Per-adapter limits: a token bucket on each adapter's events, and a cap on its command streams.

An adapter stuck in a retry loop, or replaying a long backlog without pause,
must not starve the other adapters nor the routing of live calls. Each
adapter (an authenticated ``adapter`` principal, so the set of buckets is
bounded by the auth file) has its own bucket of ``burst`` events refilled at
``events_per_s``; a request costs one token per event it carries. A request
the bucket cannot pay for is refused whole with 429 and ``Retry-After`` (the
whole seconds until it could be paid, RFC 9110 section 10.2.3) and changes
nothing, so the adapter simply retries it: event ids make that safe.

The defaults are far above a helpline's traffic (VO-linjen's busiest day had
23 calls, a few events each) and far below what one node acknowledges, so
they only ever stop a runaway client. ``burst`` is at least ``MAX_BATCH`` so
that one full batch always fits.

Command streams (WebSocket) hold a connection each for as long as they live;
``command_streams`` caps how many one adapter may hold at once (a reconnect
loop that never closes its old sockets). Over the cap the upgrade is refused
with 503 and ``Retry-After``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from adapters.http.problems import Problem
from adapters.http.wire import MAX_BATCH

__all__ = ["Limiter", "Limits"]


@dataclass(frozen=True, slots=True)
class Limits:
    """How much one adapter may send; ``events_per_s`` 0 turns the rate limit off."""

    events_per_s: float = 200.0
    burst: int = 2_000
    command_streams: int = 8

    def __post_init__(self) -> None:
        if not (self.events_per_s >= 0 and math.isfinite(self.events_per_s)):
            raise ValueError("the adapter rate must be a finite number >= 0 (0 turns it off)")
        if self.events_per_s > 0 and self.burst < MAX_BATCH:
            raise ValueError(f"the adapter burst must be at least one full batch ({MAX_BATCH})")
        if self.command_streams < 1:
            raise ValueError("an adapter must be allowed at least one command stream")


class _Bucket:
    __slots__ = ("stamp", "tokens")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp


class Limiter:
    """The limits in force for one service; all state lives on the event loop's thread."""

    def __init__(
        self, limits: Limits | None = None, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits or Limits()
        self._monotonic = monotonic
        self._buckets: dict[str, _Bucket] = {}
        self._streams: dict[str, int] = {}

    def charge(self, adapter: str, events: int) -> None:
        """Take ``events`` tokens from the adapter's bucket, or raise 429 and take none."""
        rate = self.limits.events_per_s
        if rate == 0:
            return
        cost = max(1, events)
        now = self._monotonic()
        burst = float(self.limits.burst)
        bucket = self._buckets.get(adapter)
        if bucket is None:
            bucket = self._buckets[adapter] = _Bucket(burst, now)
        bucket.tokens = min(burst, bucket.tokens + (now - bucket.stamp) * rate)
        bucket.stamp = now
        if bucket.tokens >= cost:
            bucket.tokens -= cost
            return
        retry = max(1, math.ceil((cost - bucket.tokens) / rate))
        raise Problem(
            429,
            "rate-limited",
            f"adapter {adapter!r} is over its limit of {rate:g} events/s "
            f"(burst {self.limits.burst}); retry after {retry} s",
            headers={"Retry-After": str(retry)},
        )

    @contextmanager
    def command_stream(self, adapter: str) -> Iterator[None]:
        """Hold one of the adapter's command-stream slots while the stream lives."""
        held = self._streams.get(adapter, 0)
        if held >= self.limits.command_streams:
            raise Problem(
                503,
                "too-many-streams",
                f"adapter {adapter!r} already holds {held} command streams "
                f"(at most {self.limits.command_streams}); close one first",
                headers={"Retry-After": "5"},
            )
        self._streams[adapter] = held + 1
        try:
            yield
        finally:
            left = self._streams[adapter] - 1
            if left:
                self._streams[adapter] = left
            else:
                del self._streams[adapter]
