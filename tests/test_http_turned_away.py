"""Over HTTP: a carrier that turns callers away itself (``call_rejected``), in observe mode.

A closed line is ``rejected_closed`` even in KSS's open hours; a full queue and
a diverted caller are ``turned_away`` with their reason, counted in ``/v1/stats``
beside ``rejected_closed`` and outside the answer rate. Where Linje routes the
queue, the same fact is refused (409) and nothing changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from adapters.http.schemas import StatsResponse
from router import HelplineConfig
from tests.http_helpers import ManualClock, bearer, iso, local_ts
from tests.service_client import start
from tests.test_core_turned_away import figures
from tests.test_http_observe_e2e import observed


async def post(client: TestClient, clock: ManualClock, *bodies: dict[str, Any]) -> Any:
    batch = [{"timestamp": iso(clock.t), "caller_number": "+4791234567", **b} for b in bodies]
    r = await client.post("/v1/adapters/carrier", json=batch, headers=bearer("carrier"))
    return r.status, await r.json()


async def post_one(client: TestClient, clock: ManualClock, **body: Any) -> Any:
    b = {"timestamp": iso(clock.t), "caller_number": "+4791234567", **body}
    r = await client.post("/v1/adapters/carrier", json=b, headers=bearer("carrier"))
    return r.status, await r.json()


async def test_the_carrier_s_rejections_are_rejected_closed_and_turned_away(
    aiohttp_client: Any, vo_config: HelplineConfig, tmp_path: Path
) -> None:
    clock = ManualClock("2021-11-15 10:00")  # a Monday: KSS's hours by the plan
    client = await start(aiohttp_client, observed(vo_config), tmp_path, clock)
    status, body = await post(
        client,
        clock,
        {"event": "member_login", "extension": "kss-1", "team": "kss"},
        {"event": "call_queued", "call_id": "c1"},
        {"event": "ring_started", "call_id": "c1", "extension": "kss-1"},
        {"event": "answered", "call_id": "c1", "extension": "kss-1"},
        {"event": "call_queued", "call_id": "c2"},
        {"event": "call_rejected", "call_id": "c2", "reason": "full"},
        {"event": "call_queued", "call_id": "c3"},
        {"event": "call_rejected", "call_id": "c3", "reason": "closed"},
    )
    assert (status, [x["status"] for x in body["results"]]) == (200, ["accepted"] * 8)
    clock.t = local_ts("2021-11-15 10:01")
    status, body = await post(
        client,
        clock,
        {"event": "call_queued", "call_id": "c4"},
        {"event": "call_completed", "call_id": "c1"},
    )
    assert status == 200, body
    clock.t = local_ts("2021-11-15 10:02")
    status, body = await post(client, clock, {"event": "call_rejected", "call_id": "c4",
                                              "reason": "diverted"})  # fmt: skip
    assert (status, body["results"][0]["status"]) == (200, "accepted")
    # Turned away once is ended: a later rejection of the same call is refused.
    clock.t = local_ts("2021-11-15 10:03")
    status, body = await post(client, clock, {"event": "call_rejected", "call_id": "c4",
                                              "reason": "full"})  # fmt: skip
    [result] = body["results"]
    assert (status, result["status"], result["problem"]["type"]) == (
        200,
        "rejected",
        "urn:linje:problem:contact-ended",
    ), body

    r = await client.get("/v1/stats?group_by=team", headers=bearer("planner"))
    stats = await r.json()
    StatsResponse.model_validate(stats)
    got = figures(stats["groups"], "team", "wait_max_s")
    assert got == {
        "closed": (1, 0, 1, 0, {"full": 0, "diverted": 0}, 0, None, 0.0),
        "kss": (3, 1, 0, 2, {"full": 1, "diverted": 1}, 0, 1.0, 60.0),
    }
    (closed,) = [g for g in stats["groups"] if g["team"] == "closed"]
    assert closed["rejected_closed_by_hour"][10] == 1
    blob = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert b"4791234567" not in blob


async def test_a_rejection_is_refused_where_linje_routes_and_needs_its_reason(
    aiohttp_client: Any, vo_config: HelplineConfig, tmp_path: Path
) -> None:
    clock = ManualClock("2021-11-15 10:00")
    client = await start(aiohttp_client, vo_config, tmp_path, clock)
    status, _ = await post(client, clock, {"event": "call_queued", "call_id": "c1"})
    assert status == 200
    status, body = await post_one(client, clock, event="call_rejected", call_id="c1", reason="full")
    assert (status, body["type"], body["detail"]) == (
        409,
        "urn:linje:problem:invalid-transition",
        "contact.turned_away is not allowed for contact c1: queue phone is routed in decide mode",
    ), body
    status, body = await post_one(client, clock, event="call_rejected", call_id="c1")
    assert (status, body["detail"]) == (422, "call_rejected needs reason"), body
    status, body = await post_one(
        client, clock, event="call_rejected", call_id="c1", reason="4791234567"
    )
    assert status == 422, body
    assert "4791234567" not in str(body)
    r = await client.get("/v1/state", headers=bearer("supervisor"))
    (phone,) = [q for q in (await r.json())["queues"] if q["queue"] == "phone"]
    assert [w["contact_id"] for w in phone["waiting"]] == ["c1"]  # still waiting: no change
