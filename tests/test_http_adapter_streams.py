"""Each adapter's command stream carries the commands of the channels it serves.

The carrier serves ``phone`` and the chat vendor ``chat`` (the default for
those names); offers, cancels and rejects follow their contact's channel, an
alert the channel it names. ``seq`` stays the helpline-wide command number:
an adapter's stream has gaps, and resumes from any cursor. Both stores.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from adapters.http.app import build_app
from adapters.http.auth import AuthConfig, Authenticator
from router import HelplineConfig
from router.errors import ConfigError
from tests import http_stores
from tests.http_helpers import Events, ManualClock, bearer
from tests.service_client import start

client = http_stores.client  # the service on both stores (tests/http_stores.py)

# KSS owns the phone from 08:30; the chat is closed until 09:00 (config/vo-linjen.toml).
MONDAY_EARLY = "2021-11-15 08:58"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY_EARLY)


def brief(command: dict[str, Any]) -> tuple[Any, ...]:
    if command["type"] == "set_members":
        return (command["seq"], "set_members", command["queue"], command["agent_ids"])
    if command["type"] == "alert":
        return (command["seq"], "alert", command["kind"], command["details"]["channel"])
    who = command.get("agent_ids", command.get("reason"))
    return (command["seq"], command["type"], command["contact_id"], who)


async def commands(client: TestClient, who: str, cursor: int = 0) -> list[tuple[Any, ...]]:
    r = await client.get(f"/v1/commands?cursor={cursor}", headers=bearer(who))
    assert r.status == 200, await r.text()
    return [brief(c) for c in (await r.json())["commands"]]


async def post(client: TestClient, who: str, *events: dict[str, Any]) -> None:
    r = await client.post("/v1/events", json={"events": list(events)}, headers=bearer(who))
    assert [x["status"] for x in (await r.json())["results"]] == ["accepted"] * len(events)


async def test_each_adapter_gets_only_its_channels_commands_in_order_and_resumes(
    client: TestClient, clock: ManualClock
) -> None:
    phone, chat = Events(clock, "carrier"), Events(clock, "chat")
    await post(client, "chat", chat("agent.logged_in", agent_id="kss-c", team="kss",
                                    channels=["chat"]))  # fmt: skip
    # Nobody on the phone: the caller waits and the phone queue has a gap (alert 1).
    await post(client, "carrier", phone("contact.arrived", contact_id="tn-1", channel="phone",
                                        queue="phone"))  # fmt: skip
    # The chat is closed until 09:00: refused (2).
    await post(client, "chat", chat("contact.arrived", contact_id="ch-1", channel="chat",
                                    queue="chat"))  # fmt: skip
    # A phone agent: the waiting caller rings (3), the phone queue's roster is theirs (4,
    # the carrier's ring group only), then the caller hangs up (5).
    await post(client, "carrier", phone("agent.logged_in", agent_id="kss-1", team="kss",
                                        channels=["phone"]))  # fmt: skip
    await post(client, "carrier", phone("contact.abandoned", contact_id="tn-1"))
    carrier = [
        (1, "alert", "handover_gap", "phone"),
        (3, "offer", "tn-1", ["kss-1"]),
        (4, "set_members", "phone", ["kss-1"]),
        (5, "cancel_offer", "tn-1", ["kss-1"]),
    ]
    assert await commands(client, "carrier") == carrier
    assert await commands(client, "chat") == [(2, "reject", "ch-1", "closed")]
    assert await commands(client, "carrier", cursor=1) == carrier[1:]
    assert await commands(client, "carrier", cursor=2) == carrier[1:]
    assert await commands(client, "chat", cursor=2) == []

    # The WebSocket streams: the backlog after the cursor, then live commands.
    ws_carrier = await client.ws_connect("/v1/commands?cursor=1", headers=bearer("carrier"))
    ws_chat = await client.ws_connect("/v1/commands?cursor=0", headers=bearer("chat"))
    hello = json.loads((await ws_carrier.receive()).data)
    assert (hello["type"], hello["cursor"], hello["channels"]) == ("hello", 1, ["phone"])
    hello = json.loads((await ws_chat.receive()).data)
    assert (hello["type"], hello["cursor"], hello["channels"]) == ("hello", 0, ["chat"])
    assert [brief(json.loads((await ws_carrier.receive()).data)) for _ in range(3)] == carrier[1:]
    assert brief(json.loads((await ws_chat.receive()).data)) == (2, "reject", "ch-1", "closed")
    # A chat refused (6), then a caller ringing (7): each stream gets only its own.
    await post(client, "chat", chat("contact.arrived", contact_id="ch-2", channel="chat",
                                    queue="chat"))  # fmt: skip
    await post(client, "carrier", phone("contact.arrived", contact_id="tn-2", channel="phone",
                                        queue="phone"))  # fmt: skip
    assert brief(json.loads((await ws_carrier.receive()).data)) == (7, "offer", "tn-2", ["kss-1"])
    assert brief(json.loads((await ws_chat.receive()).data)) == (6, "reject", "ch-2", "closed")
    await ws_carrier.close()
    await ws_chat.close()
    assert await commands(client, "carrier", cursor=5) == [(7, "offer", "tn-2", ["kss-1"])]
    assert await commands(client, "chat", cursor=2) == [(6, "reject", "ch-2", "closed")]


def test_an_adapter_serves_its_named_channels_or_the_default_for_its_name(
    vo_config: HelplineConfig, tmp_path: Path
) -> None:
    def principal(entry: dict[str, Any]) -> Any:
        token = "a-token-of-sixteen-chars"
        auth = Authenticator(AuthConfig.model_validate({"tokens": [{**entry, "token": token}]}))
        return auth, auth.bearer(f"Bearer {token}")

    cases = [
        ({"role": "adapter", "name": "carrier"}, frozenset({"phone"})),
        ({"role": "adapter", "name": "chat"}, frozenset({"chat"})),
        ({"role": "adapter", "name": "pbx"}, None),  # any other adapter: every channel
        ({"role": "adapter", "name": "carrier", "channels": ["phone", "chat"]},
         frozenset({"phone", "chat"})),
        ({"role": "supervisor", "name": "sup"}, None),
    ]  # fmt: skip
    assert [principal(entry)[1].channels for entry, _ in cases] == [want for _, want in cases]
    auth, _ = principal({"role": "adapter", "name": "pbx", "channels": ["fax"]})
    with pytest.raises(ConfigError) as err:
        build_app([vo_config], tmp_path, auth)
    assert (err.value.field, str(err.value).endswith("(known: chat, phone)")) == (
        "tokens.channels",
        True,
    )


async def test_after_a_restart_each_adapter_resumes_with_only_its_commands(
    aiohttp_client: Any, vo_config: HelplineConfig, tmp_path: Path
) -> None:
    clock = ManualClock(MONDAY_EARLY)
    phone, chat = Events(clock, "carrier"), Events(clock, "chat")
    client = await start(aiohttp_client, vo_config, tmp_path, clock)
    await post(client, "carrier", phone("contact.arrived", contact_id="tn-1", channel="phone",
                                        queue="phone"))  # fmt: skip
    await post(client, "chat", chat("contact.arrived", contact_id="ch-1", channel="chat",
                                    queue="chat"))  # fmt: skip
    await post(client, "carrier", phone("contact.abandoned", contact_id="tn-1"))
    await client.close()
    # Both contacts ended before the restart: their channels come from the log.
    client = await start(aiohttp_client, vo_config, tmp_path, clock)
    assert await commands(client, "carrier") == [(1, "alert", "handover_gap", "phone")]
    assert await commands(client, "chat") == [(2, "reject", "ch-1", "closed")]
