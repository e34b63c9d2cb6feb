"""End to end over real sockets: `linje serve` in its own process, killed and restarted.

The server runs on a virtual clock (Monday 2021-11-15 15:29:00, ten times real
speed) so the 15:30 handover happens within seconds; the test reads the
server's clock from /v1/state and stamps its vendor payloads with it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.http_helpers import TZ, bearer
from tests.serve_process import Server, write_auth

SPEED = 10.0


class VirtualTime:
    def __init__(self, server_time: float) -> None:
        self.base, self.mono = server_time, time.monotonic()

    def now(self) -> float:
        return self.base + (time.monotonic() - self.mono) * SPEED

    def iso(self) -> str:
        return dt.datetime.fromtimestamp(self.now(), TZ).isoformat()

    async def sleep(self, virtual_s: float) -> None:
        await asyncio.sleep(virtual_s / SPEED)

    async def until(self, local: str) -> None:
        target = dt.datetime.fromisoformat(local).replace(tzinfo=TZ).timestamp()
        await asyncio.sleep(max(0.0, (target - self.now()) / SPEED))


class Adapter:
    def __init__(self, session: aiohttp.ClientSession, base: str, clock: VirtualTime) -> None:
        self.s, self.base, self.clock = session, base, clock

    async def carrier(self, event: str, **fields: Any) -> list[dict[str, Any]]:
        body = {"event": event, "timestamp": self.clock.iso(), **fields}
        async with self.s.post(
            f"{self.base}/v1/adapters/carrier", json=body, headers=bearer("carrier")
        ) as r:
            assert r.status == 200, await r.text()
            return (await r.json())["results"]  # type: ignore[no-any-return]

    async def chat(self, event: str, **fields: Any) -> list[dict[str, Any]]:
        body = {"event": event, "timestamp": self.clock.iso(), **fields}
        async with self.s.post(
            f"{self.base}/v1/adapters/chat", json=body, headers=bearer("chat")
        ) as r:
            assert r.status == 200, await r.text()
            return (await r.json())["results"]  # type: ignore[no-any-return]

    async def get(self, path: str, who: str = "supervisor") -> Any:
        async with self.s.get(f"{self.base}{path}", headers=bearer(who)) as r:
            assert r.status == 200, await r.text()
            return await r.json()


async def server_clock(session: aiohttp.ClientSession, base: str) -> VirtualTime:
    async with session.get(f"{base}/v1/state", headers=bearer("supervisor")) as r:
        return VirtualTime((await r.json())["server_time"])


async def next_command(
    ws: aiohttp.ClientWebSocketResponse, kind: str, contact: str | None = None
) -> dict[str, Any]:
    """The next command of this type (for this contact); the stream carries every channel's."""
    while True:
        msg = json.loads((await ws.receive(timeout=10)).data)
        if msg.get("type") == kind and contact in (None, msg.get("contact_id")):
            return msg  # type: ignore[no-any-return]


def phone_figures(stats: dict[str, Any]) -> tuple[Any, ...]:
    (g,) = [g for g in stats["groups"] if g["channel"] == "phone" and g["contacts"]]
    return (
        g["contacts"],
        g["answered"],
        g["unanswered"]["short_abandon"],
        g["unanswered"]["agents_busy"],
    )


@pytest.mark.slow
async def test_a_shift_over_real_sockets_survives_sigkill(tmp_path: Path) -> None:
    auth = write_auth(tmp_path / "auth.toml")
    data = tmp_path / "data"
    server = Server(
        data, auth, "--clock-start", "2021-11-15T15:29:00+01:00", "--clock-speed", str(SPEED)
    )
    try:
        server.wait_ready()
        async with aiohttp.ClientSession() as session:
            clock = await server_clock(session, server.base)
            a = Adapter(session, server.base, clock)
            for ext, team in (("kss-1", "kss"), ("kss-2", "kss"), ("ok-1", "ok")):
                await a.carrier("member_login", extension=ext, team=team)
            for op, team in (("kss-c", "kss"), ("ok-c", "ok")):
                await a.chat("operator_online", operator=op, team=team)
            ws = await session.ws_connect(
                f"{server.base.replace('http', 'ws')}/v1/commands", headers=bearer("carrier")
            )
            await next_command(ws, "hello")
            # Two calls, answered by the two KSS phones.
            await a.carrier("call_queued", call_id="c1", caller_number="+4791234567")
            offer = await next_command(ws, "offer")
            assert (offer["contact_id"], offer["agent_ids"]) == ("c1", ["kss-1", "kss-2"])
            await a.carrier("answered", call_id="c1", extension="kss-1")
            await a.carrier("call_queued", call_id="c2")
            assert (await next_command(ws, "offer"))["agent_ids"] == ["kss-2"]
            await a.carrier("answered", call_id="c2", extension="kss-2")
            # Everyone busy: one caller leaves after 5 s, another after 15 s.
            await a.carrier("call_queued", call_id="c3")
            await clock.sleep(5)
            await a.carrier("caller_hangup", call_id="c3")
            await a.carrier("call_queued", call_id="c4")
            await clock.sleep(15)
            await a.carrier("caller_hangup", call_id="c4")
            # A chat, answered, closed and rated.
            await a.chat(
                "chat_requested", chat_id="ch1", visitor_nickname="Anonym", visitor_ip="10.0.0.7"
            )
            await a.chat(
                "operator_joined", chat_id="ch1", operator="ok-c"
            )  # OK has chat from 15:00
            await a.chat("chat_closed", chat_id="ch1")
            await a.chat("feedback", chat_id="ch1", rating=9)
            # Cross the 15:30 handover: the next caller rings the crisis centre.
            await clock.until("2021-11-15 15:30:02")
            state = await a.get("/v1/state")
            assert state["queues"][0]["owner"] == "ok"
            await a.carrier("call_queued", call_id="c5")
            offer = await next_command(ws, "offer", "c5")
            assert (offer["contact_id"], offer["agent_ids"]) == ("c5", ["ok-1"])
            await a.carrier("answered", call_id="c5", extension="ok-1")
            for call in ("c1", "c2", "c5"):
                await a.carrier("call_completed", call_id=call)
            stats = await a.get("/v1/stats?group_by=channel", who="planner")
            assert phone_figures(stats) == (5, 3, 1, 1)
            cursor = offer["seq"]
            await ws.close()
        before_state = state
        server.kill()

        # Restart after the crash: the log is the truth.
        restart_at = dt.datetime.fromtimestamp(clock.now() + 2, TZ).isoformat()
        server = Server(data, auth, "--clock-start", restart_at, "--clock-speed", str(SPEED))
        server.wait_ready()
        async with aiohttp.ClientSession() as session:
            a = Adapter(session, server.base, await server_clock(session, server.base))
            assert phone_figures(await a.get("/v1/stats?group_by=channel", who="planner")) == (
                5,
                3,
                1,
                1,
            )
            state = await a.get("/v1/state")
            assert (
                state["totals"]["arrived"] == before_state["totals"]["arrived"] + 1
            )  # c5 after the snapshot
            agents = {x["agent_id"]: x["channels"]["phone"]["state"] for x in state["agents"]}
            assert agents["ok-1"] == "ready" and agents["kss-1"] == "ready"
            ws = await session.ws_connect(f"{server.base.replace('http', 'ws')}/v1/commands?cursor={cursor - 1}",
                                          headers=bearer("carrier"))  # fmt: skip
            await next_command(ws, "hello")
            resumed = json.loads((await ws.receive(timeout=10)).data)
            assert (resumed["seq"], resumed["type"], resumed["contact_id"]) == (
                cursor,
                "offer",
                "c5",
            )
            await a.carrier("call_queued", call_id="c6")
            assert (await next_command(ws, "offer", "c6"))["agent_ids"] == ["ok-1"]
            await ws.close()
        blob = b"".join(p.read_bytes() for p in data.rglob("*") if p.is_file())
        for secret in (b"4791234567", b"Anonym", b"10.0.0.7"):
            assert secret not in blob
    finally:
        server.stop()
