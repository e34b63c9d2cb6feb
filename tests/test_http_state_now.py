"""``/v1/state`` measures every duration to the service's clock, not to the last event."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from tests import http_stores
from tests.http_helpers import Events, ManualClock, bearer

# the service on both stores, and its clock (tests/http_stores.py)
client, clock = http_stores.client, http_stores.clock


async def test_a_wait_with_no_event_since_is_measured_to_the_service_clock(
    client: TestClient, clock: ManualClock
) -> None:
    ev = Events(clock)
    r = await client.post(
        "/v1/events",
        json={"events": [
            ev("agent.logged_in", agent_id="kss-c", team="kss", channels=["chat"]),
            # Nobody on the phone: the caller waits, and nothing happens for 939 s.
            ev("contact.arrived", contact_id="tn-1", channel="phone", queue="phone"),
        ]},
        headers=bearer("carrier"),
    )  # fmt: skip
    assert [x["status"] for x in (await r.json())["results"]] == ["accepted", "accepted"]
    clock.t += 939.0  # no event, no poke: the core's last step stays at 10:00
    state = await (await client.get("/v1/state", headers=bearer("supervisor"))).json()
    phone = next(q for q in state["queues"] if q["queue"] == "phone")
    assert [(w["contact_id"], w["wait_s"]) for w in phone["waiting"]] == [("tn-1", 939.0)]
    assert phone["oldest_wait_s"] == 939.0
    agent = next(a for a in state["agents"] if a["agent_id"] == "kss-c")
    assert (agent["channels"]["chat"]["state"], agent["channels"]["chat"]["time_in_state_s"]) == (
        "ready",
        939.0,
    )
    assert state["server_time"] == round(clock.t, 3)
    assert state["local_time"] == "2021-11-15T10:15:39+01:00"
