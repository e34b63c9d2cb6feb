"""The full role matrix: every role against every route the service registers.

Roles: no credentials, an unknown token, the ``carrier`` adapter, the same
adapter signing its webhook (``Linje-Signature``), a wrong adapter (``chat``
acting for ``carrier``), ``supervisor`` and ``planner``. The routes are read
from the running application, not from a list kept here, so a route added
later without a policy in ``POLICY`` fails ``test_every_route_has_a_policy``.
Streams are tried both as plain GETs and as WebSocket upgrades. A refused
cell answers 401 (no or unknown credentials) or 403 (known, not allowed),
with a problem body, and writes nothing to the log.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from adapters.cluster.codec import decode_input
from adapters.cluster.keys import HelplineKeys
from adapters.cluster.node import RedisNode, RedisOptions
from adapters.http.app import AUTH, ENGINES
from adapters.http.auth import Authenticator
from adapters.http.wire import EVENT_ROLES
from adapters.store.entries import read_entries
from router import HelplineConfig
from router.events import EVENT_TYPES
from tests.http_helpers import EVENT_EXAMPLES, TOKENS, WEBHOOK_SECRET, ManualClock, bearer
from tests.redis_helpers import SHARED_URL, drop_prefix, ensure_shared_redis, new_prefix
from tests.service_client import start

MONDAY = "2021-11-15 10:00"
ROLES = ["none", "unknown-token", "carrier", "carrier-signed", "wrong-adapter",
         "supervisor", "planner", "agent"]  # fmt: skip
PUBLIC = set(ROLES)
ADAPTER = {"carrier", "wrong-adapter"}  # any adapter may read the helpline's commands
SUPERVISOR = {"supervisor"}

# (method, route as registered) -> roles allowed. "wrong-adapter" on the event
# endpoint posts events whose source is another adapter's: refused (403).
_V1 = {
    ("POST", "/events"): {"carrier", "carrier-signed"},
    # A vendor webhook takes no source from the body: the poster's own name is the
    # source, so a wrong adapter is accepted *as itself* (checked below).
    ("POST", "/adapters/carrier"): {"carrier", "carrier-signed", "wrong-adapter"},
    ("POST", "/adapters/chat"): {"carrier", "carrier-signed", "wrong-adapter"},
    ("GET", "/commands"): ADAPTER,
    ("GET", "/state"): SUPERVISOR,
    ("GET", "/state/stream"): SUPERVISOR,
    ("GET", "/stats"): {"supervisor", "planner"},
    ("POST", "/alerts/{alert_id}/acknowledge"): SUPERVISOR,
    ("POST", "/escalations/{escalation_id}/steps/{step}"): SUPERVISOR,
    ("POST", "/escalations/{escalation_id}/close"): SUPERVISOR,
    ("GET", "/stats/escalations"): SUPERVISOR,
    # An agent reads only its own to-do list and the forms, and registers its contacts.
    ("GET", "/agent/contacts"): {"agent"},
    ("GET", "/agent/forms"): {"agent"},
    ("POST", "/agent/registrations"): {"agent"},
    ("GET", "/stats/content"): {"supervisor", "planner"},
}
POLICY: dict[tuple[str, str], set[str]] = {
    **{(m, f"/v1{p}"): roles for (m, p), roles in _V1.items()},
    **{(m, f"/v1/helplines/{{helpline}}{p}"): roles for (m, p), roles in _V1.items()},
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/v1/openapi.json"): PUBLIC,
    # /metrics needs a supervisor token unless the service opened it for a loopback bind.
    ("GET", "/metrics"): SUPERVISOR,
    # The dashboard's page and files are public; the data behind them is not.
    ("GET", "/"): PUBLIC,
    ("GET", "/ui/{file}"): PUBLIC,
    ("GET", "/agent"): PUBLIC,  # the agent page; it signs in with an agent token
}
STREAMS = {"/commands", "/state/stream"}


def routes(client: TestClient) -> list[tuple[str, str]]:
    out = set()
    for r in client.app.router.routes():
        if r.method in ("HEAD", "*"):
            continue
        info = r.resource.get_info() if r.resource is not None else {}
        path = info.get("formatter") or info.get("path") or info.get("prefix")
        out.add((r.method, str(path)))
    return sorted(out)


def concrete(client: TestClient, path: str) -> str:
    files = [k for k in client.app if getattr(k, "name", "") == "files"]
    some_file = next(iter(client.app[files[0]])) if files else "index.html"
    return (
        path.replace("{helpline}", "vo_linjen")
        .replace("{alert_id}", "no-such-alert")
        .replace("{escalation_id}", "no-such-escalation")
        .replace("{step}", "assess")
        .replace("{file}", some_file)
    )


def body_for(path: str, role: str, n: int) -> bytes:
    at = "2021-11-15T10:00:00+01:00"
    if path.endswith("/events"):
        return json.dumps({"event_id": f"rm-{n}", "type": "agent.logged_in", "at": at,
                           "source": "carrier", "agent_id": f"a-{n}", "team": "kss",
                           "channels": ["phone"]}).encode()  # fmt: skip
    if path.endswith("/adapters/carrier"):
        return json.dumps({"event": "member_login", "timestamp": at, "delivery_id": f"rm-{n}",
                           "extension": f"a-{n}", "team": "kss"}).encode()  # fmt: skip
    if path.endswith("/agent/registrations"):
        return json.dumps({"event_id": f"rm-{n}", "contact_id": f"c-{n}", "form": "phone",
                           "version": 4, "answers": {"who": "exposed"}}).encode()  # fmt: skip
    if path.endswith("/adapters/chat"):
        return json.dumps({"event": "operator_online", "timestamp": at, "delivery_id": f"rm-{n}",
                           "operator": f"a-{n}", "team": "kss"}).encode()  # fmt: skip
    return b""


def headers_for(role: str, body: bytes) -> dict[str, str]:
    if role == "none":
        return {}
    if role == "unknown-token":
        return {"Authorization": "Bearer not-a-token-of-this-service"}
    if role == "carrier-signed":
        return {"Linje-Signature": Authenticator.sign(WEBHOOK_SECRET, body, int(time.time()))}
    if role == "wrong-adapter":
        return bearer("chat")
    return bearer(role)


async def probe(client: TestClient, method: str, path: str, role: str, n: int) -> list[str]:
    """Mismatches between what the role got on this route and the policy."""
    allowed = role in POLICY[(method, path)]
    url = concrete(client, path)
    body = body_for(url, role, n)
    headers = {**headers_for(role, body), "Content-Type": "application/json"}
    log = client.app[LOG]
    before = log.events()
    out: list[str] = []
    r = await client.request(method, url, data=body or None, headers=headers)
    status = r.status
    problem = r.content_type == "application/problem+json"
    r.close()
    where = f"{role:>14} {method} {url}"
    if allowed and status in (401, 403):
        out.append(f"{where}: refused ({status}) but allowed")
    if not allowed:
        expected = 401 if role in ("none", "unknown-token", "carrier-signed") else 403
        if status != expected or not problem:
            out.append(f"{where}: got {status}, expected a {expected} problem")
        if log.events() != before:
            out.append(f"{where}: a refused request wrote to the log")
    if allowed and method == "POST" and "/adapters/" in url and status == 200:
        # Whoever posts a webhook, the events carry the poster's own name.
        source = "chat" if role == "wrong-adapter" else "carrier"
        logged = log.last_source()
        if log.events() != before + 1 or logged != source:
            out.append(f"{where}: logged as {logged}, not {source}")
    if method == "GET" and any(url.endswith(s) for s in STREAMS):
        try:
            ws = await client.ws_connect(url, headers=headers_for(role, b""))
            await ws.close()
            if not allowed:
                out.append(f"{where} (WebSocket): upgraded but not allowed")
        except aiohttp.WSServerHandshakeError as exc:
            if allowed:
                out.append(f"{where} (WebSocket): refused ({exc.status}) but allowed")
            elif exc.status not in (401, 403):
                out.append(f"{where} (WebSocket): got {exc.status}")
    return out


class EmbeddedLog:
    """Events in the embedded store's log."""

    def __init__(self, app: web.Application) -> None:
        self.app = app

    def _dir(self) -> Path:
        return next(iter(self.app[ENGINES].values())).data_dir  # type: ignore[attr-defined, no-any-return]

    def events(self) -> int:
        return sum(e.event is not None for e in read_entries(self._dir()))

    def last_source(self) -> str | None:
        events = [e.event for e in read_entries(self._dir()) if e.event]
        return events[-1].source if events else None


class RedisLog:
    """Events in a helpline's Redis stream (ticks left out: the owner writes those)."""

    def __init__(self, shared: Any, prefix: str) -> None:
        self.shared = shared
        self.key = HelplineKeys(prefix, "vo_linjen").log

    def _events(self) -> list[dict[str, Any]]:
        raw = [decode_input(sid.decode(), fields[b"e"])
               for sid, fields in self.shared.xrange(self.key)]  # fmt: skip
        return [r["event"] for r in raw if r["k"] == "event"]

    def events(self) -> int:
        return len(self._events())

    def last_source(self) -> str | None:
        events = self._events()
        return str(events[-1]["source"]) if events else None


LOG = web.AppKey("matrix_log", Any)


@pytest.fixture(params=["embedded", "redis"])
async def client(
    request: pytest.FixtureRequest, aiohttp_client: Any, vo_config: HelplineConfig, tmp_path: Path
) -> AsyncIterator[TestClient]:
    """The service on the embedded store, and on Redis (one node, a fresh key prefix)."""
    if request.param == "embedded":

        def install(app: web.Application) -> None:
            app[LOG] = EmbeddedLog(app)

        yield await start(aiohttp_client, vo_config, tmp_path, ManualClock(MONDAY),
                          before_start=install)  # fmt: skip
        return
    shared = ensure_shared_redis()
    prefix = new_prefix()
    node = RedisNode(RedisOptions(url=SHARED_URL, prefix=prefix, node_name="matrix"))

    def install_redis(app: web.Application) -> None:
        node.attach(app)
        app[LOG] = RedisLog(shared, prefix)

    try:
        yield await start(aiohttp_client, vo_config, tmp_path, ManualClock(MONDAY),
                          engine_factory=node.engine, before_start=install_redis)  # fmt: skip
    finally:
        drop_prefix(shared, prefix)


async def test_every_route_has_a_policy(client: TestClient) -> None:
    missing = [r for r in routes(client) if r not in POLICY]
    assert missing == [], f"classify these routes in POLICY: {missing}"


@pytest.mark.parametrize("role", ROLES)
async def test_role_matrix(client: TestClient, role: str) -> None:
    mismatches: list[str] = []
    for n, (method, path) in enumerate(routes(client)):
        if (method, path) in POLICY:
            mismatches += await probe(client, method, path, role, n)
    assert mismatches == []


async def test_the_matrix_is_not_vacuous(client: TestClient) -> None:
    """Each role is allowed somewhere and refused somewhere (public routes aside)."""
    for role in ROLES:
        cells = [role in POLICY[r] for r in routes(client) if r in POLICY and POLICY[r] != PUBLIC]
        assert any(cells) == (role not in ("none", "unknown-token")), role
        assert not all(cells), role
    assert TOKENS["chat"] != TOKENS["carrier"]


async def test_the_openapi_roles_of_every_operation_are_the_roles_enforced(
    client: TestClient,
) -> None:
    """``x-roles`` on every operation of the served document equals this matrix's policy
    (which ``test_role_matrix`` checks against what the service enforces)."""
    doc = await (await client.get("/v1/openapi.json")).json()
    as_role = {"carrier": "adapter", "carrier-signed": "adapter", "wrong-adapter": "adapter",
               "supervisor": "supervisor", "planner": "planner", "agent": "agent"}  # fmt: skip
    # POST /events: a supervisor posts its own event types (the matrix probes an adapter's).
    event_roles = sorted({r for roles in EVENT_ROLES.values() for r in roles})
    want, got = {}, {}
    for method, path in routes(client):
        allowed = POLICY[(method, path)]
        roles = [] if allowed == PUBLIC else sorted({as_role[r] for r in allowed})
        want[(method, path)] = event_roles if path.endswith("/events") else roles
        got[(method, path)] = sorted(doc["paths"][path][method.lower()]["x-roles"])
    assert got == want
    assert want[("GET", "/v1/stats")] == ["planner", "supervisor"]
    assert want[("POST", "/v1/events")] == ["adapter", "agent", "supervisor"]


# ------------------------------------------------------------- event types
SUPERVISOR_EVENTS = {"alert.acknowledged", "team.absent", "escalation.step_ticked",
                     "escalation.closed"}  # fmt: skip
BOTH_EVENTS = {"contact.flagged"}  # adapters, agents and supervisors raise escalations
AGENT_EVENTS = {"contact.registered"}
AT = "2021-11-15T10:00:00+01:00"
ROLE_OF = {"carrier": "adapter", "supervisor": "supervisor", "agent": "agent"}


def allowed_roles(kind: str) -> str:
    if kind in BOTH_EVENTS:
        return "adapter, agent, supervisor"
    if kind in AGENT_EVENTS:
        return "agent"
    return "supervisor" if kind in SUPERVISOR_EVENTS else "adapter"


def event(kind: str, who: str, n: int, **extra: Any) -> dict[str, Any]:
    source = "kss-1" if who == "agent" else who  # an agent token's name is the agent's id
    return {"event_id": f"et-{who}-{n}", "type": kind, "at": AT, "source": source,
            **EVENT_EXAMPLES[kind], **extra}  # fmt: skip


@pytest.mark.parametrize("who", ["carrier", "supervisor", "planner", "agent"])
async def test_each_event_type_is_posted_only_by_its_roles(client: TestClient, who: str) -> None:
    log = client.app[LOG]
    mismatches: list[str] = []
    for n, kind in enumerate(sorted(EVENT_TYPES)):
        before = log.events()
        r = await client.post("/v1/events", json=event(kind, who, n), headers=bearer(who))
        body = await r.json()
        got = (r.status, r.content_type, body.get("type"), body.get("field"), body.get("detail"))
        if who == "planner":  # not a role that posts events at all
            expected: Any = (403, "application/problem+json", "urn:linje:problem:forbidden",
                             None, "role planner may not use POST /v1/events")  # fmt: skip
        elif ROLE_OF[who] in allowed_roles(kind).split(", "):
            expected = None
            if r.status in (401, 403):
                mismatches.append(f"{who} {kind}: refused ({r.status}) but allowed")
        else:
            expected = (403, "application/problem+json",
                        "urn:linje:problem:forbidden-event-type", "type",
                        f"type: role {ROLE_OF[who]} may not post {kind} events "
                        f"(allowed: {allowed_roles(kind)})")  # fmt: skip
        if expected is not None:
            if got != expected:
                mismatches.append(f"{who} {kind}: got {got}")
            if log.events() != before:
                mismatches.append(f"{who} {kind}: a refused event was logged")
    assert mismatches == []


async def test_a_batch_with_one_event_of_another_role_is_refused_whole(client: TestClient) -> None:
    log = client.app[LOG]
    before = log.events()
    batch = [event("agent.logged_in", "carrier", 1), event("team.absent", "carrier", 2)]
    r = await client.post("/v1/events", json={"events": batch}, headers=bearer("carrier"))
    body = await r.json()
    assert (r.status, body["type"], body["field"]) == (
        403, "urn:linje:problem:forbidden-event-type", "events[1].type")  # fmt: skip
    assert log.events() == before


async def test_an_adapter_cannot_acknowledge_an_alert_in_a_supervisors_name(
    client: TestClient,
) -> None:
    log = client.app[LOG]
    before = log.events()
    forged = event("alert.acknowledged", "carrier", 1, by="supervisor")
    r = await client.post("/v1/events", json=forged, headers=bearer("carrier"))
    assert (r.status, (await r.json())["type"]) == (403, "urn:linje:problem:forbidden-event-type")
    assert log.events() == before


async def test_by_of_an_acknowledgement_is_the_token_name_and_never_from_the_body(
    client: TestClient,
) -> None:
    log = client.app[LOG]
    client.app[AUTH].add_token("supervisor", "duty-lead", "duty-lead-token-00000001")
    lead = {"Authorization": "Bearer duty-lead-token-00000001"}
    login = {"event_id": "l-1", "type": "agent.logged_in", "at": AT, "source": "carrier",
             "agent_id": "kss-c", "team": "kss", "channels": ["chat"]}  # fmt: skip
    assert (await client.post("/v1/events", json=login, headers=bearer("carrier"))).status == 200
    # A caller waits with nobody on the phone: a gap at once.
    arrive = {"event_id": "a-1", "type": "contact.arrived", "at": AT, "source": "carrier",
              "contact_id": "c1", "channel": "phone", "queue": "phone"}  # fmt: skip
    assert (await client.post("/v1/events", json=arrive, headers=bearer("carrier"))).status == 200
    state = await (await client.get("/v1/state", headers=lead)).json()
    gap = next(a for a in state["alerts"] if a["kind"] == "handover_gap")
    ack = {"event_id": "ack-1", "type": "alert.acknowledged", "at": AT, "source": "duty-lead",
           "alert_id": gap["alert_id"]}  # fmt: skip
    before = log.events()
    r = await client.post("/v1/events", json={**ack, "by": "someone-else"}, headers=lead)
    assert (r.status, await r.json()) == (422, {
        "type": "urn:linje:problem:invalid-event", "title": "Unprocessable event", "status": 422,
        "detail": "by: set by the service from your token; leave it out", "field": "by",
        "instance": "/v1/events"})  # fmt: skip
    assert log.events() == before
    r = await client.post("/v1/events", json=ack, headers=lead)
    assert (r.status, [x["status"] for x in (await r.json())["results"]]) == (200, ["accepted"])
    assert log.events() == before + 1
    state = await (await client.get("/v1/state", headers=lead)).json()
    assert [a["acknowledged_by"] for a in state["alerts"] if a["alert_id"] == gap["alert_id"]] == [
        "duty-lead"
    ]
