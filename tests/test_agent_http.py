"""The agent API: an agent sees and registers only its own answered contacts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from router import HelplineConfig
from tests.http_helpers import Events, ManualClock, bearer
from tests.service_client import last_seq, start

ANSWERS = {"who": "exposed", "target_group": "yes", "age": "age_31_40", "gender": "woman",
           "first_contact": "no", "ongoing": "yes", "violence": ["psychological"],
           "help": ["conversation"], "referrals": []}  # fmt: skip


@pytest.fixture
async def client(aiohttp_client: Any, vo_config: HelplineConfig, tmp_path: Path) -> TestClient:
    clock = ManualClock("2021-11-15 10:00")
    c = await start(aiohttp_client, vo_config, tmp_path, clock)
    ev = Events(clock)
    post = [
        ev("agent.logged_in", agent_id="kss-1", team="kss", channels=["phone"]),
        ev("agent.logged_in", agent_id="kss-2", team="kss", channels=["phone"]),
        ev("contact.arrived", contact_id="c1", channel="phone", queue="phone"),
        ev("contact.answered", contact_id="c1", agent_id="kss-1"),
        ev("contact.arrived", contact_id="c2", channel="phone", queue="phone"),
        ev("contact.answered", contact_id="c2", agent_id="kss-2"),
        ev("contact.ended", contact_id="c1"),
        ev("contact.arrived", contact_id="c3", channel="phone", queue="phone"),
    ]
    r = await c.post("/v1/events", json={"events": post}, headers=bearer("carrier"))
    assert r.status == 200, await r.text()
    return c


def registration(contact_id: str, n: int = 1, **extra: Any) -> dict[str, Any]:
    return {"event_id": f"reg-{contact_id}-{n}", "contact_id": contact_id, "form": "phone",
            "version": 4, "answers": ANSWERS, **extra}  # fmt: skip


async def test_an_agent_sees_only_its_own_answered_contacts(client: TestClient) -> None:
    r = await client.get("/v1/agent/contacts", headers=bearer("agent"))
    assert r.status == 200
    body = await r.json()
    assert body == {
        "agent": "kss-1",
        "contacts": [{"contact_id": "c1", "channel": "phone",
                      "arrived_at": "2021-11-15T09:00:00+00:00",
                      "answered_at": "2021-11-15T09:00:00+00:00",
                      "form": "phone", "version": 4}],
    }  # fmt: skip
    forms = (await (await client.get("/v1/agent/forms", headers=bearer("agent"))).json())["forms"]
    assert [(f["id"], len(f["versions"])) for f in forms] == [("chat", 1), ("phone", 4)]


async def test_a_registration_is_durable_and_leaves_the_list(client: TestClient) -> None:
    before = last_seq(client)
    r = await client.post("/v1/agent/registrations", json=registration("c1"),
                          headers=bearer("agent"))  # fmt: skip
    body = await r.json()
    assert (r.status, body["results"][0]["status"]) == (200, "accepted")
    assert last_seq(client) == before + 1
    todo = await (await client.get("/v1/agent/contacts", headers=bearer("agent"))).json()
    assert todo["contacts"] == []
    # The same body again is a duplicate, not a second registration.
    again = await client.post("/v1/agent/registrations", json=registration("c1"),
                              headers=bearer("agent"))  # fmt: skip
    assert (await again.json())["results"][0]["status"] == "duplicate"
    stats = await (await client.get("/v1/stats/content", headers=bearer("supervisor"))).json()
    assert stats["tables"][0]["groups"][0]["registered"] == "<5"


@pytest.mark.parametrize(
    ("body", "status", "kind", "field"),
    [
        (registration("c2"), 409, "registration-refused", "contact_id"),  # kss-2's contact
        (registration("c3"), 409, "registration-refused", "contact_id"),  # not answered
        (registration("nobody"), 422, "unknown-contact", "contact_id"),
        (registration("c1", by="kss-2"), 422, "invalid-event", "by"),
        (registration("c1", version=3), 422, "wrong-form-version", "version"),
        (registration("c1", answers={**ANSWERS, "who": "Kari Nordmann"}), 422,
         "invalid-event", "answers.who"),
        (registration("c1", note="free text"), 422, "invalid-event", "note"),
    ],
)  # fmt: skip
async def test_a_refused_registration_is_a_problem_and_changes_nothing(
    client: TestClient, body: dict[str, Any], status: int, kind: str, field: str
) -> None:
    before = last_seq(client)
    r = await client.post("/v1/agent/registrations", json=body, headers=bearer("agent"))
    problem = await r.json()
    assert (r.status, r.content_type, problem["type"], problem.get("field")) == (
        status, "application/problem+json", f"urn:linje:problem:{kind}", field)  # fmt: skip
    assert "Kari" not in problem["detail"]
    assert last_seq(client) == before


async def test_the_content_statistics_take_known_groups_only(client: TestClient) -> None:
    ok = await client.get("/v1/stats/content?by=team,month", headers=bearer("planner"))
    assert (ok.status, (await ok.json())["by"]) == (200, ["team", "month"])
    bad = await client.get("/v1/stats/content?by=queue", headers=bearer("planner"))
    assert (bad.status, (await bad.json())["detail"]) == (
        400, "by takes distinct keys among month, team")  # fmt: skip


async def test_the_agent_page_is_served_with_the_dashboards_policy(client: TestClient) -> None:
    r = await client.get("/agent")
    assert (r.status, r.content_type) == (200, "text/html")
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert 'src="/ui/agent.js"' in await r.text()
