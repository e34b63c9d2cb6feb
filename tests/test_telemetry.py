"""Observability: /metrics after a scripted conversation, its access rule, and the traces.

The service runs in-process on a hand-moved clock, so waits and counts are exact.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client.parser import text_string_to_metric_families

from adapters.http.app import ENGINES, build_app
from adapters.http.telemetry import Telemetry
from adapters.store.entries import read_entries
from router import HelplineConfig
from tests.http_helpers import Events, ManualClock, auth, bearer

MONDAY = "2021-11-15 10:00"

Client = Callable[..., Awaitable[TestClient]]


async def start(
    aiohttp_client: Client,
    config: HelplineConfig,
    data: Path,
    clock: ManualClock,
    telemetry: Telemetry | None = None,
    *,
    metrics_open: bool = True,
) -> TestClient:
    app = build_app(
        [config], data, auth(), clock=clock, telemetry=telemetry, metrics_open=metrics_open
    )
    client = await aiohttp_client(app)
    for _ in range(200):  # recovery runs in the background
        if (await client.get("/readyz")).status == 200:
            break
        await asyncio.sleep(0.01)
    await settled(client)
    return client


async def settled(client: TestClient) -> None:
    """Wait until no log write is in flight (a timer tick may still be on its way to disk)."""
    engine = client.app[ENGINES]["vo_linjen"]
    for _ in range(500):
        if engine._in_flight == 0:  # type: ignore[attr-defined]
            return
        await asyncio.sleep(0.01)
    raise TimeoutError("a log write never finished")


async def post(client: TestClient, body: Any) -> int:
    r = await client.post("/v1/events", json=body, headers=bearer("carrier"))
    return r.status


async def scrape(client: TestClient, headers: dict[str, str] | None = None) -> str:
    r = await client.get("/metrics", headers=headers or {})
    assert r.status == 200, await r.text()
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return await r.text()


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of the exposition, keyed by (sample name, labels without helpline)."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            assert s.labels.get("helpline") == "vo_linjen", s
            labels = frozenset((k, v) for k, v in s.labels.items() if k != "helpline")
            out[(s.name, labels)] = s.value
    return out


def pick(all_: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str) -> dict[Any, float]:
    """The samples of one name, keyed by their sorted label values (one label: the value)."""
    out: dict[Any, float] = {}
    for (n, labels), v in all_.items():
        if n == name:
            values = tuple(v2 for _, v2 in sorted(labels))
            out[values[0] if len(values) == 1 else values] = v
    return out


async def test_metrics_after_a_scripted_conversation(
    aiohttp_client: Client, vo_config: HelplineConfig, tmp_path: Path
) -> None:
    clock = ManualClock(MONDAY)
    client = await start(aiohttp_client, vo_config, tmp_path, clock)
    engine = client.app[ENGINES]["vo_linjen"]
    opened_at = engine.store.last_seq  # type: ignore[attr-defined]  # the startup tick
    ev = Events(clock)
    for agent, team, ch in (("kss-1", "kss", "phone"), ("kss-2", "kss", "phone"),
                            ("ok-1", "ok", "phone"), ("kss-c", "kss", "chat")):  # fmt: skip
        assert (
            await post(client, ev("agent.logged_in", agent_id=agent, team=team, channels=[ch]))
            == 200
        )
    # c0: answered after 4 s, a one-minute conversation.
    arrive_c0 = ev("contact.arrived", contact_id="c0", channel="phone", queue="phone")
    assert await post(client, arrive_c0) == 200
    clock.t += 4
    assert await post(client, ev("contact.answered", contact_id="c0", agent_id="kss-1")) == 200
    clock.t += 60
    assert await post(client, ev("contact.ended", contact_id="c0")) == 200
    # c1 is answered by kss-2 and still going; c2 hangs up after 3 s (a short abandon).
    assert (
        await post(client, ev("contact.arrived", contact_id="c1", channel="phone", queue="phone"))
        == 200
    )
    clock.t += 2
    assert await post(client, ev("contact.answered", contact_id="c1", agent_id="kss-2")) == 200
    assert (
        await post(client, ev("contact.arrived", contact_id="c2", channel="phone", queue="phone"))
        == 200
    )
    clock.t += 3
    assert await post(client, ev("contact.abandoned", contact_id="c2")) == 200
    # c3 rings kss-1 and a chat rings kss-c; both wait 12 s so far.
    assert (
        await post(client, ev("contact.arrived", contact_id="c3", channel="phone", queue="phone"))
        == 200
    )
    assert (
        await post(client, ev("contact.arrived", contact_id="ch1", channel="chat", queue="chat"))
        == 200
    )
    # Refused: by the core (no such contact), at the edge (bad field, bad JSON); a duplicate.
    assert await post(client, ev("contact.answered", contact_id="nope", agent_id="kss-1")) == 422
    assert await post(client, {**ev("contact.ended", contact_id="c1"), "colour": "red"}) == 422
    r = await client.post(
        "/v1/events",
        data=b"{not json",
        headers={**bearer("carrier"), "Content-Type": "application/json"},
    )
    assert r.status == 400
    assert await post(client, arrive_c0) == 200  # answered "duplicate"
    clock.t += 12
    await settled(client)

    metrics = samples(await scrape(client))
    assert pick(metrics, "linje_queue_length") == {("phone", "phone"): 1, ("chat", "chat"): 1}
    assert pick(metrics, "linje_queue_oldest_wait_seconds") == {
        ("phone", "phone"): 12.0,
        ("chat", "chat"): 12.0,
    }
    agents = {k: v for k, v in pick(metrics, "linje_agents").items() if v}
    # labels sorted by name: (channel, state, team)
    assert agents == {
        ("phone", "offered", "kss"): 1,  # kss-1: c3 rings
        ("phone", "busy", "kss"): 1,  # kss-2: c1
        ("phone", "ready", "ok"): 1,  # ok-1: KSS owns the phone until 15:30
        ("phone", "logged_out", "kss"): 1,  # kss-c
        ("chat", "offered", "kss"): 1,  # kss-c: ch1
        ("chat", "logged_out", "kss"): 2,
        ("chat", "logged_out", "ok"): 1,
    }
    assert len(pick(metrics, "linje_agents")) == 2 * 2 * 6  # zeros included: team x channel x state
    # (channel, class, outcome)
    assert pick(metrics, "linje_contacts_total") == {
        ("phone", "answered", "answered"): 1,
        ("phone", "short_abandon", "unanswered"): 1,
    }
    # (status, type)
    assert pick(metrics, "linje_events_ingested_total") == {
        ("accepted", "agent.logged_in"): 4,
        ("accepted", "contact.arrived"): 5,
        ("accepted", "contact.answered"): 2,
        ("accepted", "contact.ended"): 1,
        ("accepted", "contact.abandoned"): 1,
        ("duplicate", "contact.arrived"): 1,
    }
    assert pick(metrics, "linje_events_rejected_total") == {
        "unknown-contact": 1,
        "invalid-event": 1,
        "malformed-json": 1,
    }
    # One decision per request that reached the engine (the two refused at the edge did not).
    decisions = pick(metrics, "linje_routing_decision_duration_seconds_count")
    assert decisions == {(): 15}
    assert 0 < pick(metrics, "linje_routing_decision_duration_seconds_sum")[()] < 15
    # One append (write + fsync) per log entry since the engine opened: the requests
    # came one at a time, so no two shared a group commit, and each timer tick is an
    # append of its own.
    entries = list(read_entries(tmp_path / "vo_linjen", from_seq=opened_at + 1))
    assert len(entries) == engine.store.last_seq - opened_at  # type: ignore[attr-defined]
    assert sum(e.kind == "event" for e in entries) == 13
    fsyncs = pick(metrics, "linje_log_fsync_duration_seconds_count")
    assert fsyncs == {(): len(entries)}
    buckets = pick(metrics, "linje_log_fsync_duration_seconds_bucket")
    assert buckets["+Inf"] == len(entries)


async def test_metrics_need_a_supervisor_token_unless_bound_to_loopback(
    aiohttp_client: Client, vo_config: HelplineConfig, tmp_path: Path
) -> None:
    client = await start(
        aiohttp_client, vo_config, tmp_path, ManualClock(MONDAY), metrics_open=False
    )
    r = await client.get("/metrics")
    assert (r.status, r.content_type) == (401, "application/problem+json")
    r = await client.get("/metrics", headers=bearer("planner"))
    assert r.status == 403
    r = await client.get("/metrics", headers=bearer("carrier"))
    assert r.status == 403
    text = await scrape(client, bearer("supervisor"))
    assert "linje_queue_length" in text


async def test_a_request_is_traced_to_its_decision_and_log_append(
    aiohttp_client: Client, vo_config: HelplineConfig, tmp_path: Path
) -> None:
    exporter = InMemorySpanExporter()
    clock = ManualClock(MONDAY)
    client = await start(aiohttp_client, vo_config, tmp_path, clock, Telemetry(exporter))
    exporter.clear()
    ev = Events(clock)
    login = ev("agent.logged_in", agent_id="kss-1", team="kss", channels=["phone"])
    assert await post(client, login) == 200
    spans = {s.name: s for s in exporter.get_finished_spans()}
    request, route, append = (
        spans["POST /v1/events"],
        spans["linje.route"],
        spans["linje.log.append"],
    )
    assert request.kind == SpanKind.SERVER
    assert request.attributes["http.route"] == "/v1/events"
    assert request.attributes["http.response.status_code"] == 200
    assert route.parent.span_id == request.context.span_id
    assert append.parent.span_id == route.context.span_id
    assert {request.context.trace_id, route.context.trace_id, append.context.trace_id} == {
        request.context.trace_id
    }
    assert (route.attributes["linje.events"], route.attributes["linje.trigger"]) == (1, "request")
    # In time: the request reaches the engine, the router decides, then the log append.
    assert request.start_time <= route.start_time < route.end_time <= append.start_time
    assert append.end_time <= request.end_time
    assert append.attributes["linje.entries"] == 1

    # Concurrent requests share a group commit: every request is the parent of a
    # decision or linked from one.
    exporter.clear()
    bodies = [
        ev("contact.arrived", contact_id=f"c{i}", channel="phone", queue="phone") for i in range(6)
    ]
    statuses = await asyncio.gather(*(post(client, b) for b in bodies))
    assert statuses == [200] * 6
    finished = exporter.get_finished_spans()
    requests = {s.context.span_id for s in finished if s.name == "POST /v1/events"}
    routes = [s for s in finished if s.name == "linje.route"]
    reached = {r.parent.span_id for r in routes if r.parent} | {
        link.context.span_id for r in routes for link in r.links
    }
    assert len(requests) == 6
    assert requests <= reached
    assert sum(r.attributes["linje.events"] for r in routes) == 6


async def test_no_caller_data_or_secret_reaches_metrics_or_traces(
    aiohttp_client: Client, vo_config: HelplineConfig, tmp_path: Path
) -> None:
    exporter = InMemorySpanExporter()
    clock = ManualClock(MONDAY)
    client = await start(aiohttp_client, vo_config, tmp_path, clock, Telemetry(exporter))
    payloads = [
        {"event": "member_login", "timestamp": "2021-11-15T10:00:00+01:00", "extension": "kss-1", "team": "kss"},
        {"event": "call_queued", "timestamp": "2021-11-15T10:00:00+01:00", "call_id": "tn-9",
         "caller_number": "+4791234567", "caller_name": "Kari Nordmann"},
    ]  # fmt: skip
    r = await client.post("/v1/adapters/carrier", json=payloads, headers=bearer("carrier"))
    assert r.status == 200
    r = await client.post(
        "/v1/adapters/carrier?token=abc", json={"event": "nonsense"}, headers=bearer("carrier")
    )
    assert r.status == 422
    text = await scrape(client)
    dump = text + json.dumps(
        [
            {"name": s.name, "attributes": dict(s.attributes or {}), "events": len(s.events)}
            for s in exporter.get_finished_spans()
        ]
    )
    for secret in ("4791234567", "Nordmann", "carrier-token", "token=abc", "127.0.0.1"):
        assert secret not in dump
    assert 'linje_events_rejected_total{helpline="vo_linjen",reason="invalid-event"} 1.0' in text


@pytest.mark.parametrize("exporter", ["none", "console"])
def test_trace_exporter_is_chosen_by_the_standard_variable(
    monkeypatch: pytest.MonkeyPatch, exporter: str
) -> None:
    from adapters.http.telemetry import LogSpanExporter, traces_from_env

    monkeypatch.setenv("OTEL_TRACES_EXPORTER", exporter)
    got = traces_from_env()
    assert (got is None) if exporter == "none" else isinstance(got, LogSpanExporter)


def test_an_unknown_trace_exporter_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from adapters.http.telemetry import traces_from_env
    from router.errors import ConfigError

    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin")
    with pytest.raises(ConfigError, match="OTEL_TRACES_EXPORTER must be none, console or otlp"):
        traces_from_env()
