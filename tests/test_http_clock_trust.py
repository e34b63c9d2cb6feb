"""One adapter's clock cannot move the helpline's time: the service's own clock drives it.

Reproduction: an event stamped 290 s ahead (inside the old 300 s horizon) was
accepted and moved the helpline's clock: the 15:30 handover fired at 15:26 and
every correctly timed event from the other adapters was refused as time going
backwards for about five minutes.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from adapters.http.app import ENGINES
from router import HelplineConfig
from tests.http_helpers import Events, ManualClock, bearer, iso
from tests.service_client import start

BEFORE_HANDOVER = "2021-11-15 15:25:50"  # a Monday: KSS owns the phone until 15:30


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(BEFORE_HANDOVER)


@pytest.fixture
async def client(
    aiohttp_client, vo_config: HelplineConfig, tmp_path: Path, clock: ManualClock
) -> TestClient:  # type: ignore[no-untyped-def]
    return await start(aiohttp_client, vo_config, tmp_path, clock)


async def owner(client: TestClient) -> str:
    state = await (await client.get("/v1/state", headers=bearer("supervisor"))).json()
    return str(state["queues"][0]["owner"])


async def post(client: TestClient, body: dict[str, Any], who: str) -> tuple[int, Any]:
    r = await client.post("/v1/events", json=body, headers=bearer(who))
    return r.status, await r.json()


async def test_an_event_from_a_fast_clock_is_refused_and_moves_nobodys_time(
    client: TestClient, clock: ManualClock
) -> None:
    carrier, chat = Events(clock, "carrier"), Events(clock, "chat")
    login = carrier("agent.logged_in", agent_id="kss-1", team="kss", channels=["phone"])
    assert (await post(client, login, "carrier"))[0] == 200
    fast = carrier("contact.arrived", contact_id="c1", channel="phone", queue="phone")
    fast["at"] = iso(clock.now() + 290)
    status, problem = await post(client, fast, "carrier")
    assert (
        status,
        problem["type"],
        problem["field"],
    ) == (422, "urn:linje:problem:time-in-future", "at")
    assert await owner(client) == "kss"  # no handover at 15:26
    # The chat vendor's correctly timed events are not refused as late.
    right = chat("agent.logged_in", agent_id="kss-c", team="kss", channels=["chat"])
    status, body = await post(client, right, "chat")
    assert (status, [r["status"] for r in body["results"]]) == (200, ["accepted"])
    # The handover comes when the service's clock says 15:30, not before.
    clock.t += 250  # 15:30:00
    client.app[ENGINES]["vo_linjen"].poke()
    for _ in range(200):
        if await owner(client) == "ok":
            break
        await asyncio.sleep(0.01)
    assert await owner(client) == "ok"


async def test_a_small_skew_either_way_is_accepted_from_both_adapters(
    client: TestClient, clock: ManualClock
) -> None:
    carrier, chat = Events(clock, "carrier"), Events(clock, "chat")
    ahead = carrier("agent.logged_in", agent_id="kss-1", team="kss", channels=["phone"])
    ahead["at"] = iso(clock.now() + 0.9)  # a clock running a little fast: within future_skew_s
    late = chat("agent.logged_in", agent_id="kss-c", team="kss", channels=["chat"])
    late["at"] = iso(clock.now() - 0.9)  # and one a little late: within the tolerance
    for body, who in ((ahead, "carrier"), (late, "chat")):
        status, answer = await post(client, body, who)
        assert (status, [r["status"] for r in answer["results"]]) == (200, ["accepted"])
