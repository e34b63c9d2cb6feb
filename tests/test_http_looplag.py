"""The loop-lag monitor sees a loop held by its own thread, and says the thread computed."""

from __future__ import annotations

import asyncio
import time

from adapters.http.looplag import LoopLagMonitor


def spin(cpu_seconds: float) -> None:
    """Hold the loop's thread computing for ``cpu_seconds`` of its own CPU time."""
    start = time.thread_time()
    while time.thread_time() - start < cpu_seconds:
        pass


async def test_a_loop_held_by_computation_shows_as_lag_and_as_busy_time() -> None:
    monitor = LoopLagMonitor(interval_s=0.01)
    monitor.start()
    await asyncio.sleep(0.05)  # a few samples first
    started = time.monotonic()
    spin(0.06)
    held = time.monotonic() - started
    await asyncio.sleep(0.03)
    await monitor.stop()
    # The sample in which the loop was held covers all of it: at least the CPU
    # time spun, and a wake-up at least as late as the hold minus the interval.
    assert monitor.busy_max_s >= 0.06
    assert monitor.max_s >= held - 0.01
    assert monitor.samples >= 3
