"""Wall-clock time for the live service, optionally accelerated for the demo.

The core never reads a clock; the service does, here, in one place.
"""

from __future__ import annotations

import time

__all__ = ["Clock", "ScaledClock"]


class Clock:
    """Real time."""

    speed = 1.0

    def now(self) -> float:
        return time.time()

    def real_seconds_until(self, t: float) -> float:
        return t - self.now()

    def latest_accepted(self, skew: float) -> float:
        """The latest ``at`` an adapter's event may carry now: the clock plus ``skew``.

        A clock that follows the events instead of driving them (a test harness
        replaying a stream as fast as it can) has no future to refuse and says so
        by returning infinity.
        """
        return self.now() + skew


class ScaledClock(Clock):
    """Virtual time that starts at ``start`` and runs ``speed`` times faster than real time."""

    def __init__(self, start: float, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.start = start
        self.speed = speed
        self._t0 = time.monotonic()

    def now(self) -> float:
        return self.start + (time.monotonic() - self._t0) * self.speed

    def real_seconds_until(self, t: float) -> float:
        return (t - self.now()) / self.speed
