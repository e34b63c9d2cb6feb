"""The engine's timer task: timers due close together fire in one tick (one log entry,
one write), and one that is behind lets requests in between its ticks."""

from __future__ import annotations

import asyncio
from pathlib import Path

from adapters.http.engine import TIMER_SPAN_S, Engine
from adapters.store.entries import read_entries
from router import HelplineConfig
from router.commands import Alert
from router.events import ContactArrived
from tests.http_helpers import ManualClock

MONDAY = "2021-11-15 10:00"  # KSS on duty, nobody logged in: each arrival's long wait alerts


async def long_wait_ticks(config: HelplineConfig, data: Path, gap_s: float) -> list[list[str]]:
    """Three arrivals ``gap_s`` apart, then the clock past their long-wait deadlines:
    the contact ids of the long-wait alerts of each tick entry in the log."""
    clock = ManualClock(MONDAY)
    engine = Engine(config, data, clock)
    await engine.open()
    try:
        for n in range(3):
            event = ContactArrived(event_id=f"e{n}", at=clock.now(), source="carrier",
                                   contact_id=f"c{n}", channel="phone", queue="phone")  # fmt: skip
            (result,) = await engine.submit([event])
            assert result.status == "accepted"
            clock.t += gap_s
        clock.t += 3600  # every long wait is due
        engine.poke()
        router = engine.store.router  # type: ignore[union-attr]
        for _ in range(500):  # until every due timer has fired
            due = router.next_deadline()
            if due is None or due > clock.t:
                break
            await asyncio.sleep(0.01)
        for _ in range(200):  # the last tick's write
            if not engine._in_flight:
                break
            await asyncio.sleep(0.01)
    finally:
        await engine.close()
    ticks = []
    for entry in read_entries(data):
        alerts = [c.details["contact_id"] for c in entry.commands
                  if isinstance(c, Alert) and c.kind == "long_wait"]  # fmt: skip
        if entry.kind == "tick" and alerts:
            ticks.append(alerts)
    return ticks


async def test_long_waits_due_within_the_span_fire_in_one_tick(
    vo_config: HelplineConfig, tmp_path: Path
) -> None:
    assert await long_wait_ticks(vo_config, tmp_path, TIMER_SPAN_S / 10) == [["c0", "c1", "c2"]]


async def test_long_waits_further_apart_fire_in_ticks_of_their_own(
    vo_config: HelplineConfig, tmp_path: Path
) -> None:
    assert await long_wait_ticks(vo_config, tmp_path, TIMER_SPAN_S * 2) == [["c0"], ["c1"], ["c2"]]
