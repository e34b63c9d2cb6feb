"""The live service through aiohttp's test client: every endpoint, role and bad input."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient

from adapters.http.app import ENGINES, MAX_BODY, build_app
from adapters.http.auth import Authenticator
from router import HelplineConfig
from tests.http_helpers import WEBHOOK_SECRET, Events, ManualClock, auth, bearer

MONDAY = "2021-11-15 10:00"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY)


@pytest.fixture
async def client(
    aiohttp_client, vo_config: HelplineConfig, tmp_path: Path, clock: ManualClock
) -> TestClient:  # type: ignore[no-untyped-def]
    app = build_app([vo_config], tmp_path, auth(), clock=clock)
    c: TestClient = await aiohttp_client(app)
    for _ in range(200):  # recovery runs in the background
        if (await c.get("/readyz")).status == 200:
            break
        await asyncio.sleep(0.01)
    return c


async def post(
    client: TestClient, body: Any, who: str = "carrier", path: str = "/v1/events"
) -> Any:
    return await client.post(path, json=body, headers=bearer(who))


async def staff(client: TestClient, ev: Events) -> None:
    for agent, team, ch in (("kss-1", "kss", "phone"), ("kss-2", "kss", "phone"),
                            ("ok-1", "ok", "phone"), ("kss-c", "kss", "chat")):  # fmt: skip
        r = await post(client, ev("agent.logged_in", agent_id=agent, team=team, channels=[ch]))
        assert r.status == 200, await r.text()


async def test_an_arrival_is_acknowledged_with_the_ring_command(
    client: TestClient, clock: ManualClock
) -> None:
    ev = Events(clock)
    await staff(client, ev)
    r = await post(client, ev("contact.arrived", contact_id="tn-1", channel="phone", queue="phone"))
    assert r.status == 200
    (result,) = (await r.json())["results"]
    assert result["status"] == "accepted"
    assert [(c["type"], c["contact_id"], c["agent_ids"]) for c in result["commands"]] == [
        ("offer", "tn-1", ["kss-1", "kss-2"])
    ]
    assert result["log_seq"] >= 1


async def test_a_batch_is_applied_in_order_and_duplicates_are_marked(
    client: TestClient, clock: ManualClock
) -> None:
    ev = Events(clock)
    login = ev("agent.logged_in", agent_id="kss-1", team="kss", channels=["phone"])
    arrive = ev("contact.arrived", contact_id="tn-1", channel="phone", queue="phone")
    r = await post(client, {"events": [login, arrive, login]})
    statuses = [x["status"] for x in (await r.json())["results"]]
    assert statuses == ["accepted", "accepted", "duplicate"]
    r = await post(client, arrive)
    assert (await r.json())["results"][0]["status"] == "duplicate"


async def test_a_refused_event_in_a_batch_does_not_stop_the_others(
    client: TestClient, clock: ManualClock
) -> None:
    ev = Events(clock)
    good = ev("agent.logged_in", agent_id="kss-1", team="kss", channels=["phone"])
    bad = ev("contact.answered", contact_id="nope", agent_id="kss-1")
    r = await post(client, {"events": [good, bad]})
    results = (await r.json())["results"]
    assert [x["status"] for x in results] == ["accepted", "rejected"]
    assert results[1]["problem"]["type"] == "urn:linje:problem:unknown-contact"


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ("{not json", 400, "malformed-json", None),
        ({"type": "contact.arrived"}, 422, "invalid-event", "event_id"),
        ({"event_id": "e1", "type": "contact.arrived", "at": "2021-11-15T10:00:00+01:00", "source": "carrier",
          "contact_id": "c1", "channel": "phone", "queue": "phone", "caller_number": "+4791234567"},
         422, "invalid-event", "caller_number"),
        ({"event_id": "e1", "type": "contact.arrived", "at": "2021-11-15T10:00:00", "source": "carrier",
          "contact_id": "c1", "channel": "phone", "queue": "phone"}, 422, "invalid-event", "at"),
        ({"event_id": "e1", "type": "chat.feedback", "at": "2021-11-15T10:00:00+01:00", "source": "carrier",
          "contact_id": "c1", "rating": "ten"}, 422, "invalid-event", "rating"),
        ({"event_id": "e1", "type": "contact.answered", "at": "2021-11-15T10:00:00+01:00", "source": "carrier",
          "contact_id": "c1", "agent_id": "nobody"}, 422, "unknown-contact", "contact_id"),
        ({"event_id": "e1", "type": "contact.arrived", "at": "2021-11-15T10:00:00+01:00", "source": "carrier",
          "contact_id": "c1", "channel": "fax", "queue": "phone"}, 422, "invalid-event", "channel"),
        ({"event_id": "e1", "type": "contact.arrived", "at": "2021-11-15T11:00:00+01:00", "source": "carrier",
          "contact_id": "c1", "channel": "phone", "queue": "phone"}, 422, "time-in-future", "at"),
        ({"event_id": "e1", "type": "contact.arrived", "at": "2021-11-15T10:00:00+01:00", "source": "chat",
          "contact_id": "c1", "channel": "phone", "queue": "phone"}, 403, "wrong-source", "source"),
        ({"events": []}, 422, "invalid-event", "events"),
    ],
)  # fmt: skip
async def test_bad_input_is_a_problem_naming_the_field_and_writes_nothing(
    client: TestClient, body: Any, status: int, code: str, field: str | None
) -> None:
    engine = next(iter(client.app[ENGINES].values()))
    before = engine.store.last_seq  # type: ignore[union-attr]
    data = body if isinstance(body, str) else json.dumps(body)
    r = await client.post(
        "/v1/events", data=data, headers={**bearer("carrier"), "Content-Type": "application/json"}
    )
    assert r.status == status
    assert r.content_type == "application/problem+json"
    problem = await r.json()
    assert problem["type"] == f"urn:linje:problem:{code}"
    assert problem["status"] == status
    assert problem.get("field") == field
    assert "+4791234567" not in await r.text()
    assert engine.store.last_seq == before  # type: ignore[union-attr]
    assert (await client.get("/healthz")).status == 200


async def test_time_going_backwards_is_refused(client: TestClient, clock: ManualClock) -> None:
    ev = Events(clock)
    await post(client, ev("agent.logged_in", agent_id="kss-1", team="kss", channels=["phone"]))
    late = ev("contact.arrived", contact_id="c1", channel="phone", queue="phone")
    late["at"] = "2021-11-15T09:59:50+01:00"
    r = await post(client, late)
    assert (r.status, (await r.json())["type"]) == (422, "urn:linje:problem:time-went-backwards")


async def test_body_over_64_kib_is_413(client: TestClient) -> None:
    r = await client.post("/v1/events", data=b"x" * (MAX_BODY + 1), headers=bearer("carrier"))
    assert r.status == 413
    assert r.content_type == "application/problem+json"


async def test_batch_over_the_limit_is_413(client: TestClient, clock: ManualClock) -> None:
    ev = Events(clock)
    batch = [ev("agent.away", agent_id="a", reason="x") for _ in range(501)]
    r = await post(client, {"events": batch})
    assert r.status in (413,)


ENDPOINTS = [
    ("POST", "/v1/events"),
    ("GET", "/v1/commands"),
    ("GET", "/v1/state"),
    ("GET", "/v1/stats"),
    ("POST", "/v1/alerts/x-1/acknowledge"),
]
ALLOWED = {
    "/v1/events": {"carrier"},
    "/v1/commands": {"carrier"},
    "/v1/state": {"supervisor"},
    "/v1/stats": {"supervisor", "planner"},
    "/v1/alerts/x-1/acknowledge": {"supervisor"},
}


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize("who", [None, "carrier", "supervisor", "planner", "wrong"])
async def test_role_matrix(
    client: TestClient, clock: ManualClock, method: str, path: str, who: str | None
) -> None:
    headers = (
        {}
        if who is None
        else ({"Authorization": "Bearer wrong-token-123456789"} if who == "wrong" else bearer(who))
    )
    body = Events(clock)("agent.logged_in", agent_id="kss-1", team="kss", channels=["phone"])
    r = await client.request(method, path, json=body if method == "POST" else None, headers=headers)
    if who in ALLOWED[path]:
        assert r.status in (200, 422), await r.text()  # 422: the alert does not exist
    else:
        assert r.status == (401 if who in (None, "wrong") else 403)
        assert r.content_type == "application/problem+json"


async def test_signed_webhook_is_accepted_and_a_bad_signature_is_not(
    client: TestClient, clock: ManualClock
) -> None:
    body = json.dumps(
        Events(clock)("agent.logged_in", agent_id="kss-1", team="kss", channels=["phone"])
    ).encode()
    now = int(time.time())
    good = Authenticator.sign(WEBHOOK_SECRET, body, now, kid="car-1")
    r = await client.post("/v1/events", data=body, headers={"Linje-Signature": good})
    assert r.status == 200
    for header in (
        Authenticator.sign("another-secret-0000000", body, now),
        Authenticator.sign(WEBHOOK_SECRET, body, now - 301, kid="car-1"),
        Authenticator.sign(WEBHOOK_SECRET, body, now, kid="car-9"),
        "t=abc,v1=00",
    ):
        r = await client.post("/v1/events", data=body, headers={"Linje-Signature": header})
        assert r.status == 401


async def test_carrier_webhook_drops_the_caller_number(
    client: TestClient, clock: ManualClock, tmp_path: Path
) -> None:
    payloads = [
        {"event": "member_login", "timestamp": "2021-11-15T10:00:00+01:00", "extension": "kss-1", "team": "kss"},
        {"event": "call_queued", "timestamp": "2021-11-15T10:00:00+01:00", "call_id": "tn-9",
         "caller_number": "+4791234567", "caller_name": "Kari Nordmann"},
        {"event": "ringing", "timestamp": "2021-11-15T10:00:00+01:00", "call_id": "tn-9", "extension": "kss-1"},
        {"event": "answered", "timestamp": "2021-11-15T10:00:00+01:00", "call_id": "tn-9", "extension": "kss-1"},
    ]  # fmt: skip
    r = await post(client, payloads, path="/v1/adapters/carrier")
    assert r.status == 200, await r.text()
    assert [x["status"] for x in (await r.json())["results"]] == ["accepted"] * 3
    state = await (await client.get("/v1/state", headers=bearer("supervisor"))).json()
    kss1 = next(a for a in state["agents"] if a["agent_id"] == "kss-1")
    assert kss1["channels"]["phone"]["active"] == ["tn-9"]
    blob = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert b"4791234567" not in blob and b"Nordmann" not in blob


async def test_chat_webhook_feedback_is_scrubbed(
    client: TestClient, clock: ManualClock, tmp_path: Path
) -> None:
    base = {"timestamp": "2021-11-15T10:00:00+01:00", "chat_id": "ch-1"}
    payloads = [
        {"event": "operator_online", "timestamp": base["timestamp"], "operator": "kss-c", "team": "kss"},
        {**base, "event": "chat_requested", "visitor_nickname": "Anonym123", "visitor_ip": "10.1.2.3"},
        {**base, "event": "operator_joined", "operator": "kss-c"},
        {**base, "event": "chat_closed"},
        {**base, "event": "feedback", "rating": 9, "comment": "ring meg på 912 34 567 eller a@b.no"},
    ]  # fmt: skip
    r = await post(client, payloads, who="chat", path="/v1/adapters/chat")
    assert [x["status"] for x in (await r.json())["results"]] == ["accepted"] * 5
    blob = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    for secret in (b"Anonym123", b"10.1.2.3", b"912 34 567", b"a@b.no"):
        assert secret not in blob


async def test_command_stream_pushes_a_ring_timeout_and_resumes_from_a_cursor(
    client: TestClient, clock: ManualClock
) -> None:
    ev = Events(clock)
    await staff(client, ev)
    ws = await client.ws_connect("/v1/commands", headers=bearer("carrier"))
    hello = json.loads((await ws.receive()).data)
    assert hello["type"] == "hello"
    await post(client, ev("contact.arrived", contact_id="tn-1", channel="phone", queue="phone"))
    offer = json.loads((await ws.receive(timeout=5)).data)
    assert (offer["type"], offer["agent_ids"]) == ("offer", ["kss-1", "kss-2"])
    clock.t += 20  # the ring times out: a command caused by time, pushed
    client.app[ENGINES]["vo_linjen"].poke()
    cancel = json.loads((await ws.receive(timeout=5)).data)
    assert (cancel["type"], cancel["agent_ids"]) == ("cancel_offer", ["kss-1", "kss-2"])
    await ws.close()
    ws = await client.ws_connect(
        f"/v1/commands?cursor={offer['seq'] - 1}", headers=bearer("carrier")
    )
    json.loads((await ws.receive()).data)
    again = [json.loads((await ws.receive(timeout=5)).data) for _ in range(2)]
    assert [c["seq"] for c in again] == [offer["seq"], cancel["seq"]]
    await ws.close()
    r = await client.get(f"/v1/commands?cursor={offer['seq']}", headers=bearer("carrier"))
    assert [c["seq"] for c in (await r.json())["commands"]] == [cancel["seq"]]


async def test_state_stream_sse_pushes_changes(client: TestClient, clock: ManualClock) -> None:
    ev = Events(clock)
    r = await client.get("/v1/state/stream", headers=bearer("supervisor"))
    assert r.headers["Content-Type"] == "text/event-stream"

    async def next_state() -> dict[str, Any]:
        while True:
            line = (await asyncio.wait_for(r.content.readline(), 5)).decode()
            if line.startswith("data: "):
                return json.loads(line[6:])  # type: ignore[no-any-return]

    first = await next_state()
    assert first["totals"]["arrived"] == 0
    await staff(client, ev)
    await post(client, ev("contact.arrived", contact_id="tn-1", channel="phone", queue="phone"))
    for _ in range(20):
        state = await next_state()
        if state["totals"]["arrived"] == 1:
            break
    assert state["queues"][0]["waiting"][0]["contact_id"] == "tn-1"
    r.close()


async def test_state_stream_over_websocket(client: TestClient) -> None:
    ws = await client.ws_connect("/v1/state/stream", headers=bearer("supervisor"))
    msg = await ws.receive(timeout=5)
    assert msg.type == WSMsgType.TEXT
    assert json.loads(msg.data)["helpline"] == "vo_linjen"
    await ws.close()


async def test_stats_group_by_channel_and_bad_parameters(
    client: TestClient, clock: ManualClock
) -> None:
    ev = Events(clock)
    await staff(client, ev)
    await post(client, ev("contact.arrived", contact_id="tn-1", channel="phone", queue="phone"))
    clock.t += 3
    await post(client, ev("contact.abandoned", contact_id="tn-1"))
    r = await client.get(
        "/v1/stats?group_by=channel,team&from=2021-11-15&to=2021-11-16", headers=bearer("planner")
    )
    groups = [g for g in (await r.json())["groups"] if g["contacts"]]  # others hold only gaps
    assert [
        (g["channel"], g["team"], g["contacts"], g["unanswered"]["short_abandon"]) for g in groups
    ] == [("phone", "kss", 1, 1)]
    for query, field in (("group_by=colour", "group_by"), ("from=yesterday", "from"),
                         ("from=2021-11-16&to=2021-11-15", "to")):  # fmt: skip
        r = await client.get(f"/v1/stats?{query}", headers=bearer("planner"))
        assert (r.status, (await r.json())["field"]) == (400, field)


async def test_supervisor_acknowledges_an_alert(client: TestClient, clock: ManualClock) -> None:
    ev = Events(clock)
    await post(client, ev("agent.logged_in", agent_id="kss-c", team="kss", channels=["chat"]))
    # A caller waits with nobody on the phone: a gap at once (no start-up grace then).
    await post(client, ev("contact.arrived", contact_id="c1", channel="phone", queue="phone"))
    state = await (await client.get("/v1/state", headers=bearer("supervisor"))).json()
    gap = next(a for a in state["alerts"] if a["kind"] == "handover_gap")
    r = await client.post(f"/v1/alerts/{gap['alert_id']}/acknowledge", headers=bearer("supervisor"))
    assert r.status == 200
    state = await (await client.get("/v1/state", headers=bearer("supervisor"))).json()
    gap = next(a for a in state["alerts"] if a["alert_id"] == gap["alert_id"])
    assert gap["acknowledged_by"] == "supervisor"


async def test_unknown_helpline_is_404(client: TestClient) -> None:
    r = await client.get("/v1/helplines/nope/state", headers=bearer("supervisor"))
    assert (r.status, (await r.json())["type"]) == (404, "urn:linje:problem:unknown-helpline")
    r = await client.get("/v1/helplines/vo_linjen/state", headers=bearer("supervisor"))
    assert r.status == 200


async def test_openapi_covers_every_route(client: TestClient) -> None:
    doc = await (await client.get("/v1/openapi.json")).json()
    assert doc["openapi"].startswith("3.1")
    routes = {
        (r.method.lower(), r.resource.canonical)  # type: ignore[union-attr]
        for r in client.app.router.routes()
        if r.method != "HEAD"
    }
    documented = {(m, p) for p, item in doc["paths"].items() for m in item}
    assert routes - documented == set()
    assert "422" in doc["paths"]["/v1/events"]["post"]["responses"]


async def test_health_and_readiness(client: TestClient) -> None:
    assert (await client.get("/healthz")).status == 200
    assert (await (await client.get("/readyz")).json())["helplines"] == ["vo_linjen"]


async def test_not_ready_while_recovering(
    aiohttp_client, vo_config: HelplineConfig, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    import threading

    from adapters.http import engine as engine_module

    release = threading.Event()
    real_open = engine_module.EmbeddedStore.open

    def slow_open(*args: Any, **kwargs: Any) -> Any:
        release.wait(10)
        return real_open(*args, **kwargs)

    monkeypatch.setattr(engine_module.EmbeddedStore, "open", slow_open)
    client = await aiohttp_client(
        build_app([vo_config], tmp_path, auth(), clock=ManualClock(MONDAY))
    )
    assert (await client.get("/healthz")).status == 200
    r = await client.get("/readyz")
    assert (r.status, r.content_type) == (503, "application/problem+json")
    r = await client.get("/v1/state", headers=bearer("supervisor"))
    assert (r.status, (await r.json())["type"]) == (503, "urn:linje:problem:not-ready")
    release.set()
    for _ in range(200):
        if (await client.get("/readyz")).status == 200:
            break
        await asyncio.sleep(0.01)
    assert (await client.get("/readyz")).status == 200


AT = "2021-11-15T10:00:00+01:00"
UNIX_AT = 1636966800  # the same instant as AT: accepted as a time before wire types were strict
NOT_AN_INT = "rating: Input should be a valid integer"
NOT_A_TIME = ("Value error, a time must be an ISO 8601 string with a UTC offset, "
              "e.g. 2021-11-15T10:00:00+01:00")  # fmt: skip


@pytest.mark.parametrize(
    ("path", "body", "field", "detail"),
    [
        *[("/v1/events", {"event_id": "e1", "type": "chat.feedback", "at": AT, "source": "carrier",
                          "contact_id": "c1", "rating": rating}, "rating", NOT_AN_INT)
          for rating in ("8", True, 5.0, " 7 ")],
        *[("/v1/events", {"event_id": "e1", "type": "contact.arrived", "at": at,
                          "source": "carrier", "contact_id": "c1", "channel": "phone",
                          "queue": "phone"}, "at", f"at: {NOT_A_TIME}")
          for at in (UNIX_AT, UNIX_AT + 0.5, str(UNIX_AT), True)],
        ("/v1/events", {"event_id": "e1", "type": "agent.logged_in", "at": AT, "source": "carrier",
                        "agent_id": "kss-1", "team": "kss", "channels": "phone"}, "channels",
         "channels: Input should be a valid list"),
        ("/v1/events", {"event_id": 1, "type": "contact.ended", "at": AT, "source": "carrier",
                        "contact_id": "c1"}, "event_id", "event_id: Input should be a valid string"),
        ("/v1/events", {"event_id": "e1", "type": "team.absent", "at": AT, "source": "supervisor",
                        "team": "kss", "from": UNIX_AT, "to": AT}, "from", f"from: {NOT_A_TIME}"),
        *[("/v1/adapters/chat", {"event": "feedback", "timestamp": AT, "chat_id": "c1",
                                 "rating": rating}, "rating", NOT_AN_INT)
          for rating in ("8", True, 5.0, " 7 ")],
        ("/v1/adapters/chat", {"event": "chat_requested", "timestamp": UNIX_AT, "chat_id": "c1"},
         "timestamp", f"timestamp: {NOT_A_TIME}"),
        ("/v1/adapters/carrier", {"event": "call_queued", "timestamp": UNIX_AT, "call_id": "tn-1"},
         "timestamp", f"timestamp: {NOT_A_TIME}"),
        ("/v1/adapters/carrier", {"event": "call_queued", "timestamp": str(UNIX_AT),
                                  "call_id": "tn-1"}, "timestamp", f"timestamp: {NOT_A_TIME}"),
    ],
)  # fmt: skip
async def test_wire_types_are_strict_with_no_coercion(
    client: TestClient, path: str, body: dict[str, Any], field: str, detail: str
) -> None:
    engine = next(iter(client.app[ENGINES].values()))
    before = engine.store.last_seq  # type: ignore[union-attr]
    who = "chat" if path.endswith("chat") else body.get("source", "carrier")
    r = await post(client, body, who, path)
    problem = await r.json()
    got = (r.status, r.content_type, problem["type"], problem.get("field"), problem["detail"])
    assert got == (422, "application/problem+json", "urn:linje:problem:invalid-event", field,
                   detail)  # fmt: skip
    assert engine.store.last_seq == before  # type: ignore[union-attr]


@pytest.mark.parametrize("path", ["/v1/events", "/v1/adapters/carrier", "/v1/adapters/chat"])
async def test_a_byte_order_mark_before_the_json_is_refused(client: TestClient, path: str) -> None:
    body = {"event": "call_queued", "timestamp": AT, "call_id": "tn-1"}
    if path == "/v1/events":
        body = {"event_id": "e1", "type": "contact.arrived", "at": AT, "source": "carrier",
                "contact_id": "c1", "channel": "phone", "queue": "phone"}  # fmt: skip
    who = "chat" if path.endswith("chat") else "carrier"
    r = await client.post(path, data=b"\xef\xbb\xbf" + json.dumps(body).encode(),
                          headers={**bearer(who), "Content-Type": "application/json"})  # fmt: skip
    assert (r.status, r.content_type) == (400, "application/problem+json")
    assert await r.json() == {
        "type": "urn:linje:problem:malformed-json", "title": "Bad request", "status": 400,
        "detail": "body starts with a byte order mark; send plain UTF-8", "instance": path,
    }  # fmt: skip


PHONE = "+47 912 34 567"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/events", {"event_id": "e1", "type": "contact.answered", "at": AT,
                        "source": "carrier", "contact_id": "c1", "agent_id": PHONE}, "agent_id"),
        ("/v1/events", {"event_id": "e1", "type": "contact.arrived", "at": AT, "source": "carrier",
                        "contact_id": "c1", "channel": "phone", "queue": PHONE}, "queue"),
        ("/v1/events", {"event_id": "e1", "type": "contact.arrived", "at": AT, "source": "carrier",
                        "contact_id": "c1", "channel": PHONE, "queue": "phone"}, "channel"),
        ("/v1/events", {"event_id": "e1", "type": "agent.logged_in", "at": AT,
                        "source": "carrier", "agent_id": "kss-1", "team": "kss",
                        "channels": [PHONE]}, "channels"),
        ("/v1/events", {"event_id": "e1", "type": "agent.away", "at": AT, "source": "carrier",
                        "agent_id": "kss-1", "reason": PHONE}, "reason"),
        ("/v1/events", {"event_id": "e1", "type": "chat.feedback", "at": AT, "source": "carrier",
                        "contact_id": "c1", "rating": 4791234567}, "rating"),
        ("/v1/adapters/carrier", {"event": "member_login", "timestamp": AT, "extension": "kss-1",
                                  "team": PHONE}, "team"),
    ],
)  # fmt: skip
async def test_a_refused_value_is_never_echoed_in_the_problem(
    client: TestClient, path: str, body: dict[str, Any], field: str
) -> None:
    r = await post(client, body, "carrier", path)
    problem = await r.json()
    assert (r.status, problem["type"], problem["field"]) == (
        422, "urn:linje:problem:invalid-event", field)  # fmt: skip
    text = await r.text()
    assert [s for s in ("912 34 567", "4791234567") if s in text] == []


async def test_an_unknown_event_type_names_the_type_field_briefly_and_never_echoes_it(
    client: TestClient,
) -> None:
    known = (
        "contact.*, offer.declined, agent.*, chat.feedback, team.absent, alert.acknowledged, "
        "escalation.*, legal_hold.acknowledged"
    )
    sent = "contact.arived-9137"
    event = {"event_id": "e1", "type": sent, "at": "2021-11-15T10:00:00+01:00",
             "source": "carrier", "contact_id": "c1"}  # fmt: skip
    for body, field in ((event, "type"), ({"events": [event]}, "events[0].type")):
        r = await post(client, body)
        problem = await r.json()
        assert (r.status, r.content_type) == (422, "application/problem+json")
        assert (problem["field"], problem["detail"]) == (
            field,
            f"{field}: unknown event type; known: {known}",
        )
        assert problem["errors"] == [
            {"field": field, "reason": f"unknown event type; known: {known}"}
        ]
        assert "arived" not in await r.text()
    r = await post(client, {k: v for k, v in event.items() if k != "type"})
    assert ((await r.json())["field"], (await r.json())["detail"]) == ("type", "type: missing")
