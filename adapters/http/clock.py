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
