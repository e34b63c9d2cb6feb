"""End to end over HTTP, on both stores: a flag from the chat adapter reaches a person.

The chat vendor's adapter flags a chat (duty to avert); the alert is on the
supervisors' live state stream and on the chat adapter's command stream with
a ``legal_hold``; the carrier's stream gets neither. Acknowledging stops the
chain; the checklist and the close go through the supervisors' routes; the
figures are at ``/v1/stats/escalations`` (supervisors only).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp import ClientResponse, ClientWebSocketResponse
from aiohttp.test_utils import TestClient

from adapters.http.app import AUTH, ENGINES
from tests import http_stores
from tests.http_helpers import Events, ManualClock, bearer

client = http_stores.client  # the service on both stores


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock("2021-11-15 10:00")  # a Monday: KSS owns the chat 09:00-15:00


async def post(client: TestClient, who: str, *events: dict[str, Any]) -> list[dict[str, Any]]:
    r = await client.post("/v1/events", json={"events": list(events)}, headers=bearer(who))
    body = await r.json()
    assert [x["status"] for x in body["results"]] == ["accepted"] * len(events), body
    return body["results"]  # type: ignore[no-any-return]


async def next_state(sse: ClientResponse, want: Any) -> dict[str, Any]:
    """The first pushed state for which ``want(state)`` holds."""
    while True:
        line = (await asyncio.wait_for(sse.content.readline(), 5)).decode()
        if line.startswith("data: "):
            state = json.loads(line[6:])
            if want(state):
                return state  # type: ignore[no-any-return]


async def pushed(ws: ClientWebSocketResponse, n: int) -> list[dict[str, Any]]:
    return [json.loads((await ws.receive(timeout=5)).data) for _ in range(n)]


async def in_chat(client: TestClient, clock: ManualClock) -> Events:
    chat = Events(clock, "chat")
    await post(client, "chat", chat("agent.logged_in", agent_id="kss-c", team="kss",
                                    channels=["chat"]))  # fmt: skip
    await post(client, "chat", chat("contact.arrived", contact_id="ch-1", channel="chat",
                                    queue="chat"))  # fmt: skip
    clock.t += 5
    await post(client, "chat", chat("contact.answered", contact_id="ch-1", agent_id="kss-c"))
    clock.t += 120
    return chat


async def commands(client: TestClient, who: str, cursor: int) -> list[dict[str, Any]]:
    r = await client.get(f"/v1/commands?cursor={cursor}", headers=bearer(who))
    return (await r.json())["commands"]  # type: ignore[no-any-return]


async def test_a_chat_flag_alerts_the_supervisors_asks_the_chat_vendor_and_stops_on_ack(
    client: TestClient, clock: ManualClock
) -> None:
    chat = await in_chat(client, clock)
    sse = await client.get("/v1/state/stream", headers=bearer("supervisor"))
    chat_ws = await client.ws_connect("/v1/commands", headers=bearer("chat"))
    hello = json.loads((await chat_ws.receive(timeout=5)).data)
    results = await post(client, "chat", chat("contact.flagged", contact_id="ch-1",
                                              flag="duty_to_avert", category="risk_to_life"))  # fmt: skip
    assert [c["type"] for c in results[0]["commands"]] == ["alert", "legal_hold"]
    alert, hold = await pushed(chat_ws, 2)
    assert (alert["type"], alert["kind"], alert["details"]["level"]) == ("alert", "escalation", 1)
    assert (alert["details"]["to"], alert["details"]["channel"]) == (["kss", "ok"], "chat")
    assert {k: hold[k] for k in ("type", "contact_id", "channel", "escalation_id")} == {
        "type": "legal_hold", "contact_id": "ch-1", "channel": "chat", "escalation_id": "esc-1"
    }  # fmt: skip
    # The carrier's stream carries neither: the contact is a chat.
    assert [c["type"] for c in await commands(client, "carrier", hello["cursor"])] == []
    state = await next_state(sse, lambda s: s["escalations"])
    [esc] = state["escalations"]
    assert (esc["escalation_id"], esc["alert_id"], esc["channel"], esc["queue"], esc["team"],
            esc["agent_id"], esc["level"], esc["acknowledged_by"]) == (
        "esc-1", alert["alert_id"], "chat", "chat", "kss", "kss-c", 1, None)  # fmt: skip
    r = await client.post(
        f"/v1/alerts/{alert['alert_id']}/acknowledge", headers=bearer("supervisor")
    )
    assert r.status == 200, await r.text()
    state = await next_state(sse, lambda s: s["escalations"][0]["acknowledged_by"])
    assert state["escalations"][0]["acknowledged_by"] == "supervisor"
    # An hour on, nobody further was alerted: the acknowledgement stopped the chain.
    clock.t += 3600
    client.app[ENGINES]["vo_linjen"].poke()
    await asyncio.sleep(0.05)
    later = await commands(client, "chat", hold["seq"])
    assert [c for c in later if c.get("kind") == "escalation"] == []
    # The vendor confirms the hold; the checklist is ticked, the escalation closes.
    await post(client, "chat", chat("legal_hold.acknowledged", contact_id="ch-1"))
    for step in ("assess", "police", "document"):
        r = await client.post(f"/v1/escalations/esc-1/steps/{step}", headers=bearer("supervisor"))
        assert (r.status, (await r.json())["results"][0]["status"]) == (200, "accepted")
    state = await (await client.get("/v1/state", headers=bearer("supervisor"))).json()
    assert state["escalations"] == []
    r = await client.get("/v1/stats/escalations?from=2021-11-01", headers=bearer("supervisor"))
    [group] = (await r.json())["groups"]
    assert group == {
        "month": "2021-11", "team": "kss", "raised": 1, "flags": {"duty_to_avert": 1},
        "acknowledged": 1, "escalated_past_first_level": 0, "legal_holds_requested": 1,
        "legal_holds_acknowledged": 1, "closed": {"checklist_complete": 1}, "open": 0,
        "steps_ticked": 3, "time_to_first_ack_s": {"avg": 0.0, "p90": 0.0, "max": 0.0},
    }  # fmt: skip
    r = await client.get("/v1/stats/escalations", headers=bearer("planner"))
    assert r.status == 403
    sse.close()
    await chat_ws.close()


async def test_unacknowledged_the_next_level_is_alerted_and_a_close_needs_a_known_reason(
    client: TestClient, clock: ManualClock
) -> None:
    chat = await in_chat(client, clock)
    await post(client, "chat", chat("contact.flagged", contact_id="ch-1", flag="duty_to_avert"))
    seq = client.app[ENGINES]["vo_linjen"].last_command_seq
    clock.t += 120
    client.app[ENGINES]["vo_linjen"].poke()
    for _ in range(100):
        level2 = [c for c in await commands(client, "chat", seq) if c.get("kind") == "escalation"]
        if level2:
            break
        await asyncio.sleep(0.02)
    assert [(c["details"]["level"], c["details"]["addressed"]) for c in level2] == [(2, ["kss"])]
    r = await client.post(
        "/v1/escalations/esc-1/close", json={"reason": "bored"}, headers=bearer("supervisor")
    )
    problem = await r.json()
    assert (r.status, problem["type"], problem["field"]) == (
        409, "urn:linje:problem:escalation-refused", "reason")  # fmt: skip
    assert "bored" not in problem["detail"]
    r = await client.post("/v1/escalations/esc-1/close", json={"reason": "not_triggered"},
                          headers=bearer("chat"))  # fmt: skip
    assert r.status == 403
    r = await client.post("/v1/escalations/esc-1/close", json={"reason": "not_triggered"},
                          headers=bearer("supervisor"))  # fmt: skip
    assert r.status == 200
    state = await (await client.get("/v1/state", headers=bearer("supervisor"))).json()
    assert state["escalations"] == []


async def test_a_flag_on_a_chat_ended_longer_ago_than_the_window_is_refused(
    client: TestClient, clock: ManualClock
) -> None:
    chat = await in_chat(client, clock)
    await post(client, "chat", chat("contact.ended", contact_id="ch-1"))
    clock.t += 3601
    r = await client.post("/v1/events", headers=bearer("chat"), json=chat(
        "contact.flagged", contact_id="ch-1", flag="duty_to_avert"))  # fmt: skip
    problem = await r.json()
    assert (r.status, problem["type"], problem["field"]) == (
        409, "urn:linje:problem:flag-refused", "contact_id")  # fmt: skip
    state = await (await client.get("/v1/state", headers=bearer("supervisor"))).json()
    assert state["escalations"] == []


async def test_a_supervisor_token_may_name_its_team_and_the_page_learns_it(
    client: TestClient,
) -> None:
    client.app[AUTH].add_token("supervisor", "kss-lead", "kss-lead-token-000000001", team="kss")
    r = await client.get("/ui/helplines.json",
                         headers={"Authorization": "Bearer kss-lead-token-000000001"})  # fmt: skip
    body = await r.json()
    assert body["you"] == {"name": "kss-lead", "team": "kss"}
    assert [s["code"] for s in body["helplines"]["vo_linjen"]["escalations"]["checklist"]] == [
        "assess", "police", "trace", "document"
    ]  # fmt: skip


def test_only_a_supervisor_token_names_a_team_and_it_must_be_a_helplines_team(
    tmp_path: Any, vo_config: Any
) -> None:
    from pydantic import ValidationError

    from adapters.http.app import build_app
    from adapters.http.auth import AuthConfig, Authenticator
    from router.errors import ConfigError

    with pytest.raises(ValidationError, match="team is for supervisor tokens only"):
        AuthConfig.model_validate(
            {"tokens": [{"role": "adapter", "name": "chat", "token": "x" * 20, "team": "kss"}]}
        )
    auth = Authenticator(
        AuthConfig.model_validate(
            {
                "tokens": [
                    {"role": "supervisor", "name": "lead", "token": "y" * 20, "team": "police"}
                ]
            }
        ),
        source="auth.toml",
    )
    with pytest.raises(ConfigError) as caught:
        build_app([vo_config], tmp_path, auth)
    assert str(caught.value) == (
        "auth.toml: tokens.team: supervisor teams police are no helpline's teams"
    )
    principal = Authenticator(
        AuthConfig.model_validate(
            {"tokens": [{"role": "supervisor", "name": "lead", "token": "y" * 20, "team": "ok"}]}
        )
    ).bearer("Bearer " + "y" * 20)
    assert principal is not None and (principal.name, principal.team) == ("lead", "ok")
