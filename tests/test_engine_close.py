"""Closing a helpline's engine right after it acknowledged an event does not wait for its timers."""

from __future__ import annotations

import asyncio
from pathlib import Path

from adapters.http.engine import Engine
from router import HelplineConfig
from router.events import ContactArrived
from tests.http_helpers import ManualClock

MONDAY = "2021-11-15 10:00"


async def ack_then_close(config: HelplineConfig, data: Path) -> None:
    clock = ManualClock(MONDAY)
    engine = Engine(config, data, clock)
    await engine.open()
    for n in (1, 2):
        event = ContactArrived(event_id=f"e{n}", at=clock.now(), source="carrier",
                               contact_id=f"c{n}", channel="phone", queue="phone")  # fmt: skip
        (result,) = await engine.submit([event])
        assert result.status == "accepted"
    deadline = engine.store.router.next_deadline()  # type: ignore[union-attr]
    assert deadline is not None and deadline - clock.now() >= 60  # the long-wait timer
    # In the same task as the ack (as the service's shutdown does): the ack's
    # wake-up of the timer task and the cancel arrive together.
    await engine.close()


async def test_close_right_after_an_ack_returns_before_the_next_deadline(
    vo_config: HelplineConfig, tmp_path: Path
) -> None:
    # The next deadline is a minute away and this clock never moves: close() must
    # not wait for it. (Not wait_for: close() swallows a cancel while it waits for
    # its timer task, so a timed-out wait_for would look like success.)
    for i in range(5):
        task = asyncio.create_task(ack_then_close(vo_config, tmp_path / str(i)))
        done, _ = await asyncio.wait({task}, timeout=10)
        assert task in done, "close() waited for the timer task's next deadline"
        task.result()
