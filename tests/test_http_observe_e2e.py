"""End to end over HTTP: a carrier queue that rings by itself, in front of Linje.

The phone queue is routed by the carrier (``routing = "observe"``). The carrier
adapter posts what its queue did (calls queued, rings started and rung out,
pick-ups, hang-ups) to the live service; Linje offers nothing and sends the
ring group's members instead: ``set_members`` switches from KSS to OK at the
15:30 handover, and to OK at 10:00 the next morning when KSS declares itself
absent. The statistics classify every call from the observed facts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

from adapters.http.app import ENGINES
from router import HelplineConfig
from tests.http_helpers import Events, ManualClock, bearer, iso, local_ts
from tests.service_client import start


def observed(config: HelplineConfig) -> HelplineConfig:
    data = config.model_dump()
    data["queues"]["phone"]["routing"] = "observe"
    return HelplineConfig.model_validate(data)


class Carrier:
    def __init__(self, client: TestClient, clock: ManualClock) -> None:
        self.client, self.clock, self.n = client, clock, 0

    async def __call__(self, event: str, **fields: Any) -> None:
        self.n += 1
        body = {"event": event, "timestamp": iso(self.clock.t), "delivery_id": f"d-{self.n}",
                **fields}  # fmt: skip
        r = await self.client.post("/v1/adapters/carrier", json=body, headers=bearer("carrier"))
        assert r.status == 200, await r.text()
        assert [x["status"] for x in (await r.json())["results"]] == ["accepted"]

    def at(self, local: str) -> None:
        self.clock.t = local_ts(local)


async def rosters_until(
    ws: aiohttp.ClientWebSocketResponse, seen: list[dict[str, Any]], members: list[str]
) -> dict[str, Any]:
    """Commands off the carrier's stream until the phone roster is ``members``."""
    while True:
        msg = json.loads((await ws.receive(timeout=10)).data)
        seen.append(msg)
        if msg.get("type") == "set_members" and msg["agent_ids"] == members:
            return msg  # type: ignore[no-any-return]


async def test_a_carrier_queue_in_observe_mode_follows_the_schedule_by_set_members(
    aiohttp_client: Any, vo_config: HelplineConfig, tmp_path: Path
) -> None:
    clock = ManualClock("2021-11-15 15:20")
    client = await start(aiohttp_client, observed(vo_config), tmp_path, clock)
    carrier = Carrier(client, clock)
    ws = await client.ws_connect("/v1/commands", headers=bearer("carrier"))
    assert json.loads((await ws.receive()).data)["type"] == "hello"
    seen: list[dict[str, Any]] = []

    for ext, team in (("kss-1", "kss"), ("kss-2", "kss"), ("ok-1", "ok")):
        await carrier("member_login", extension=ext, team=team)
    first = await rosters_until(ws, seen, ["kss-1", "kss-2"])
    # A call the carrier rang at both KSS phones, picked up by kss-1.
    carrier.at("2021-11-15 15:21")
    await carrier("call_queued", call_id="c1", caller_number="+4791234567")
    await carrier("ring_started", call_id="c1", extensions=["kss-1", "kss-2"])
    await carrier("answered", call_id="c1", extension="kss-1")
    # One rang at kss-2 only, rang out, and the caller hung up after 40 s.
    carrier.at("2021-11-15 15:25")
    await carrier("call_queued", call_id="c2")
    await carrier("ring_started", call_id="c2", extension="kss-2")
    carrier.at("2021-11-15 15:25:20")
    await carrier("ring_no_answer", call_id="c2", extension="kss-2")
    carrier.at("2021-11-15 15:25:40")
    await carrier("caller_hangup", call_id="c2")
    carrier.at("2021-11-15 15:28")
    await carrier("call_completed", call_id="c1")

    # 15:30: the ring group becomes OK's, sent by Linje, not switched by hand.
    carrier.at("2021-11-15 15:30:01")
    client.app[ENGINES]["vo_linjen"].poke()
    handover = await rosters_until(ws, seen, ["ok-1"])
    assert (handover["queue"], handover["version"]) == ("phone", first["version"] + 1)
    assert local_ts("2021-11-15 15:30") == handover["at"]
    carrier.at("2021-11-15 15:31")
    await carrier("call_queued", call_id="c3")
    await carrier("ring_started", call_id="c3", extension="ok-1")
    await carrier("answered", call_id="c3", extension="ok-1")
    carrier.at("2021-11-15 15:40")
    await carrier("call_completed", call_id="c3")

    # Tuesday: KSS's again from 08:30, until KSS declares an absence at 10:00.
    carrier.at("2021-11-16 09:59")
    client.app[ENGINES]["vo_linjen"].poke()
    morning = await rosters_until(ws, seen, ["kss-1", "kss-2"])
    assert local_ts("2021-11-16 08:30") == morning["at"]
    carrier.at("2021-11-16 10:00")
    absent = {"event_id": "abs-1", "type": "team.absent", "at": iso(clock.t), "source": "supervisor",
              "team": "kss", "from": iso(clock.t), "to": iso(local_ts("2021-11-16 16:00"))}  # fmt: skip
    r = await client.post("/v1/events", json=absent, headers=bearer("supervisor"))
    assert r.status == 200, await r.text()
    absence = await rosters_until(ws, seen, ["ok-1"])
    assert (absence["version"], absence["at"]) == (morning["version"] + 1, clock.t)
    carrier.at("2021-11-16 10:05")
    await carrier("call_queued", call_id="c4")
    await carrier("ring_started", call_id="c4", extension="ok-1")
    await carrier("answered", call_id="c4", extension="ok-1")
    carrier.at("2021-11-16 10:15")
    await carrier("call_completed", call_id="c4")
    await ws.close()

    # Every roster the carrier got, in order, and never an offer of Linje's own.
    r = await client.get("/v1/commands?cursor=0", headers=bearer("carrier"))
    commands = (await r.json())["commands"]
    assert [(c["version"], c["agent_ids"]) for c in commands if c["type"] == "set_members"] == [
        (1, ["kss-1"]),
        (2, ["kss-1", "kss-2"]),
        (3, ["ok-1"]),
        (4, ["kss-1", "kss-2"]),
        (5, ["ok-1"]),
    ]
    assert set() == {c["type"] for c in commands} & {"offer", "cancel_offer"}
    stats = await client.get("/v1/stats?group_by=channel", headers=bearer("planner"))
    (phone,) = [g for g in (await stats.json())["groups"] if g["channel"] == "phone"]
    assert (phone["contacts"], phone["answered"], phone["unanswered"]) == (4, 3, {"missing_data": 0, "no_agent": 0, "short_abandon": 0, "agents_busy": 0,
                   "other": 1})  # fmt: skip
    assert phone["other_reasons"] == {"rang_unanswered": 1, "agents_away": 0}
    blob = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert b"4791234567" not in blob


async def test_an_observed_fact_on_a_queue_linje_routes_is_refused(
    aiohttp_client: Any, vo_config: HelplineConfig, tmp_path: Path
) -> None:
    clock = ManualClock("2021-11-15 10:00")
    client = await start(aiohttp_client, vo_config, tmp_path, clock)
    ev = Events(clock)
    for e in (ev("agent.logged_in", agent_id="kss-1", team="kss", channels=["phone"]),
              ev("contact.arrived", contact_id="c1", channel="phone", queue="phone")):  # fmt: skip
        assert (await client.post("/v1/events", json=e, headers=bearer("carrier"))).status == 200
    r = await client.post(
        "/v1/events",
        json=ev("contact.rang", contact_id="c1", agent_ids=["kss-1"]),
        headers=bearer("carrier"),
    )
    body = await r.json()
    assert (r.status, body["type"]) == (409, "urn:linje:problem:invalid-transition"), body
    assert "queue phone is routed in decide mode" in body["detail"]
