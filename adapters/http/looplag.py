"""How late the event loop runs: a task that sleeps a short interval and measures the overshoot.

Anything that holds the loop's thread (a long computation, a blocking call)
delays every request, timer and stream behind it; this task wakes every
``INTERVAL_S`` and records how much later than asked it woke. The maximum
since the service started is the ``linje_event_loop_lag_max_seconds`` gauge;
the benchmarks read it to show that snapshots and batches never stall the loop.

A lag has two causes: the loop's thread computing (a stall of our own) or the
thread not running at all (other processes on the CPUs, another thread
holding the GIL). ``busy_max_s`` tells them apart: the most CPU time the
loop's thread used within one sample (``time.thread_time``), the
``linje_event_loop_busy_max_seconds`` gauge. A lag far above it was the
machine, not the service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

__all__ = ["INTERVAL_S", "STALL_S", "LoopLagMonitor"]

log = logging.getLogger("linje.http")

INTERVAL_S = 0.01
# A lag this long is logged (a warning: every request waited as long).
STALL_S = 0.1


class LoopLagMonitor:
    """Samples the running loop's lag until stopped; ``max_s`` is the worst seen."""

    def __init__(self, interval_s: float = INTERVAL_S) -> None:
        self.interval_s = interval_s
        self.max_s = 0.0
        self.busy_max_s = 0.0
        self.samples = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="loop-lag")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.interval_s
        while True:
            asked = loop.time() + interval
            cpu = time.thread_time()
            await asyncio.sleep(interval)
            lag = loop.time() - asked
            busy = time.thread_time() - cpu
            self.samples += 1
            self.max_s = max(self.max_s, lag)
            self.busy_max_s = max(self.busy_max_s, busy)
            if lag >= STALL_S:
                log.warning(
                    "the event loop was %.0f ms late (its thread computed %.0f ms of it)",
                    lag * 1000,
                    busy * 1000,
                )
