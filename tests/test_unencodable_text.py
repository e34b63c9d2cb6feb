"""Text the log cannot hold is refused at the edge, and the service keeps running.

A lone surrogate (JSON ``"\\ud800"``) is valid JSON but not Unicode text: msgpack
cannot encode it, so before the edge checked for it a ``chat.feedback`` comment
holding one stopped the embedded store ("event log failure, stopping") and left
a Redis node's request unanswered. Every string of every field of every event
type, on ``/v1/events`` and both vendor webhooks, on both stores, must now be
refused with a 422 problem naming the field and never echoing its content.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from adapters.cluster.node import RedisNode, RedisOptions
from adapters.http.app import ENGINES
from router import HelplineConfig
from router.events import EVENT_TYPES, ChatFeedback
from tests.http_helpers import EVENT_EXAMPLES, Events, ManualClock, bearer
from tests.redis_helpers import SHARED_URL, drop_prefix, ensure_shared_redis, new_prefix
from tests.service_client import start

MONDAY = "2021-11-15 10:00"
LONE = "x \ud800"  # json.dumps writes it as "x \ud800" (an escaped lone surrogate)

# Every event type's own fields; ``by`` too, which the service sets itself (a string
# in it is still checked first: nothing unencodable gets past the edge).
EXAMPLES = {**EVENT_EXAMPLES, "alert.acknowledged": {"alert_id": "al-1", "by": "supervisor"}}


def string_fields(event: dict[str, Any]) -> list[tuple[str, str | int | None]]:
    """(field, list index or None) of every string the event holds."""
    out: list[tuple[str, str | int | None]] = []
    for name, value in event.items():
        if isinstance(value, str):
            out.append((name, None))
        elif isinstance(value, list):
            out += [(name, i) for i, v in enumerate(value) if isinstance(v, str)]
    return out


def problem(field: str) -> dict[str, Any]:
    return {
        "type": "urn:linje:problem:invalid-text",
        "title": "Unprocessable event",
        "status": 422,
        "detail": f"{field}: text must be valid Unicode (it holds a lone surrogate or other "
        "code point that cannot be encoded as UTF-8)",
        "field": field,
    }


@pytest.fixture(params=["embedded", "redis"])
async def client(
    request: pytest.FixtureRequest, aiohttp_client: Any, vo_config: HelplineConfig, tmp_path: Path
) -> AsyncIterator[TestClient]:
    clock = ManualClock(MONDAY)
    if request.param == "embedded":
        yield await start(aiohttp_client, vo_config, tmp_path, clock)
        return
    shared = ensure_shared_redis()
    prefix = new_prefix()
    node = RedisNode(RedisOptions(url=SHARED_URL, prefix=prefix, node_name="text"))
    try:
        yield await start(aiohttp_client, vo_config, tmp_path, clock,
                          engine_factory=node.engine, before_start=node.attach)  # fmt: skip
    finally:
        drop_prefix(shared, prefix)


async def accepted(client: TestClient, body: Any, who: str = "carrier") -> None:
    r = await client.post("/v1/events", json=body, headers=bearer(who))
    assert r.status == 200, await r.text()
    assert [x["status"] for x in (await r.json())["results"]] == ["accepted"]


async def refused(client: TestClient, path: str, body: Any, field: str, who: str) -> None:
    r = await client.post(path, json=body, headers=bearer(who))
    assert (r.status, r.content_type) == (422, "application/problem+json")
    assert await r.json() == {**problem(field), "instance": path}
    text = await r.text()
    assert "x \\ud800" not in text and "x \ud800" not in text  # the content is never echoed


async def a_chat_to_give_feedback_on(client: TestClient, ev: Events) -> None:
    await accepted(client, ev("agent.logged_in", agent_id="kss-c", team="kss", channels=["chat"]))
    await accepted(client, ev("contact.arrived", contact_id="c-1", channel="chat", queue="chat"))
    await accepted(client, ev("contact.answered", contact_id="c-1", agent_id="kss-c"))
    await accepted(client, ev("contact.ended", contact_id="c-1"))


async def test_a_lone_surrogate_in_a_comment_is_422_and_the_service_keeps_running(
    client: TestClient,
) -> None:
    ev = Events(ManualClock(MONDAY))
    await a_chat_to_give_feedback_on(client, ev)
    bad = ev("chat.feedback", contact_id="c-1", rating=5, comment=LONE)
    for _ in range(3):  # an adapter retrying: refused each time, never a 503
        await refused(client, "/v1/events", bad, "comment", "carrier")
    await refused(client, "/v1/events", {"events": [ev("contact.ended", contact_id="c-1"), bad]},
                  "events[1].comment", "carrier")  # fmt: skip
    # Still running, and the same feedback with a good comment goes through.
    await accepted(client, {**bad, "comment": "x y"})
    assert (await client.get("/readyz")).status == 200


@pytest.mark.parametrize("kind", sorted(EVENT_TYPES))
async def test_every_string_field_of_every_event_type_is_checked(
    client: TestClient, kind: str
) -> None:
    ev = Events(ManualClock(MONDAY))
    event = ev(kind, **EXAMPLES[kind])
    fields = string_fields(event)
    assert {"event_id", "type", "at", "source"} <= {name for name, _ in fields}
    for name, index in fields:
        bad = {**event, name: LONE if index is None else [LONE]}
        where = name if index is None else f"{name}[{index}]"
        await refused(client, "/v1/events", bad, where, "carrier")
    assert (await client.get("/readyz")).status == 200


CHAT_FEEDBACK = {"event": "feedback", "timestamp": "2021-11-15T10:00:00+01:00",
                 "chat_id": "c-1", "rating": 5, "comment": "fine"}  # fmt: skip
CARRIER_QUEUED = {"event": "call_queued", "timestamp": "2021-11-15T10:00:00+01:00",
                  "call_id": "tn-1", "caller_name": "someone"}  # fmt: skip


@pytest.mark.parametrize(
    ("path", "who", "payload", "field"),
    [
        ("/v1/adapters/chat", "chat", CHAT_FEEDBACK, "comment"),
        ("/v1/adapters/chat", "chat", CHAT_FEEDBACK, "chat_id"),
        ("/v1/adapters/chat", "chat", {**CHAT_FEEDBACK, "visitor_nickname": "n"},
         "visitor_nickname"),
        ("/v1/adapters/carrier", "carrier", CARRIER_QUEUED, "caller_name"),
        ("/v1/adapters/carrier", "carrier", CARRIER_QUEUED, "queue"),
        ("/v1/adapters/carrier", "carrier", CARRIER_QUEUED, "timestamp"),
    ],
)  # fmt: skip
async def test_vendor_webhooks_refuse_it_in_every_field(
    client: TestClient, path: str, who: str, payload: dict[str, Any], field: str
) -> None:
    await refused(client, path, {**payload, field: LONE}, field, who)
    await refused(client, path, [payload, {**payload, field: LONE}], f"[1].{field}", who)
    assert (await client.get("/readyz")).status == 200


async def test_a_redis_node_answers_an_append_it_cannot_encode(
    aiohttp_client: Any, vo_config: HelplineConfig, tmp_path: Path
) -> None:
    """Behind the edge: an event the codec cannot encode fails its request, never hangs it."""
    shared = ensure_shared_redis()
    prefix = new_prefix()
    node = RedisNode(RedisOptions(url=SHARED_URL, prefix=prefix, node_name="codec"))
    try:
        client = await start(aiohttp_client, vo_config, tmp_path, ManualClock(MONDAY),
                             engine_factory=node.engine, before_start=node.attach)  # fmt: skip
        engine = next(iter(client.app[ENGINES].values()))
        at = ManualClock(MONDAY).now()
        bad = ChatFeedback.trusted(
            event_id="f-1", at=at, source="chat", contact_id="c-1", rating=5, comment=LONE
        )
        with pytest.raises(UnicodeEncodeError):
            # A safety net so that a regression fails instead of hanging the suite.
            await asyncio.wait_for(engine.submit([bad]), 30)
        assert engine.ready
    finally:
        drop_prefix(shared, prefix)
