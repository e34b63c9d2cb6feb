"""The OpenAPI document's response schemas hold the service's real answers.

``/v1/state``, ``/v1/stats`` and ``/v1/commands`` name real schemas (strict:
no unknown property), and real responses of both stores validate against the
document the service serves, with a JSON Schema (2020-12) validator.
"""

from __future__ import annotations

from typing import Any

import jsonschema_rs
from aiohttp.test_utils import TestClient

from tests import http_stores
from tests.http_helpers import Events, ManualClock, bearer

# the service on both stores, and its clock (tests/http_stores.py)
client, clock = http_stores.client, http_stores.clock


def validator(doc: dict[str, Any], path: str) -> Any:
    schema = doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    return jsonschema_rs.Draft202012Validator({**schema, "components": doc["components"]})


def errors(v: Any, instance: Any) -> list[str]:
    return [f"{list(e.instance_path)}: {e.message}" for e in v.iter_errors(instance)]


async def busy_helpline(client: TestClient, clock: ManualClock) -> None:
    """Contacts waiting, ringing, in service, ended, refused; a gap; feedback; agents."""
    phone, chat = Events(clock, "carrier"), Events(clock, "chat")
    batches = [
        ("chat", [chat("agent.logged_in", agent_id="kss-c", team="kss", channels=["chat"]),
                  chat("contact.arrived", contact_id="ch-1", channel="chat", queue="chat"),
                  chat("contact.answered", contact_id="ch-1", agent_id="kss-c"),
                  chat("contact.ended", contact_id="ch-1"),
                  chat("chat.feedback", contact_id="ch-1", rating=8),
                  chat("contact.arrived", contact_id="ch-2", channel="chat", queue="chat")]),
        ("carrier", [phone("contact.arrived", contact_id="tn-1", channel="phone", queue="phone"),
                     phone("agent.logged_in", agent_id="kss-1", team="kss", channels=["phone"]),
                     phone("contact.arrived", contact_id="tn-2", channel="phone", queue="phone"),
                     phone("agent.away", agent_id="kss-1", reason="break")]),
    ]  # fmt: skip
    for who, events in batches:
        r = await client.post("/v1/events", json={"events": events}, headers=bearer(who))
        assert {x["status"] for x in (await r.json())["results"]} == {"accepted"}
    clock.t += 75.0


async def test_state_stats_and_commands_have_real_schemas_that_their_answers_meet(
    client: TestClient, clock: ManualClock
) -> None:
    doc = await (await client.get("/v1/openapi.json")).json()
    for path, model in (("/v1/state", "StateResponse"), ("/v1/stats", "StatsResponse"),
                        ("/v1/commands", "CommandsResponse")):  # fmt: skip
        ok = doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        assert ok["schema"] == {"$ref": f"#/components/schemas/{model}"}
        assert doc["components"]["schemas"][model]["additionalProperties"] is False
    await busy_helpline(client, clock)
    state = await (await client.get("/v1/state", headers=bearer("supervisor"))).json()
    answers: list[tuple[str, Any]] = [("/v1/state", state)]
    for query in ("", "?group_by=channel,hour", "?group_by=team,weekday&from=2021-11-15"):
        r = await client.get(f"/v1/stats{query}", headers=bearer("planner"))
        answers.append(("/v1/stats", await r.json()))
    for who in ("carrier", "chat"):
        r = await client.get("/v1/commands?cursor=0", headers=bearer(who))
        answers.append(("/v1/commands", await r.json()))
    for path, answer in answers:
        assert errors(validator(doc, path), answer) == [], path
    # The answers are not vacuous, and the schemas are strict.
    assert {w["state"] for q in state["queues"] for w in q["waiting"]} == {"waiting", "offered"}
    assert {c["type"] for _, a in answers[-2:] for c in a["commands"]} == {
        "offer", "cancel_offer", "alert", "set_members"
    }  # fmt: skip
    assert errors(validator(doc, "/v1/state"), {**state, "caller": "x"}) != []
    assert errors(validator(doc, "/v1/stats"), {**answers[1][1], "groups": [{}]}) != []
    bad_command = {"commands": [{"type": "offer", "seq": 1, "at": 0.0}]}
    assert errors(validator(doc, "/v1/commands"), bad_command) != []
