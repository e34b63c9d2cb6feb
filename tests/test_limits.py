"""Limits: oversize bodies, per-adapter rate limits, caps on the live streams, slow readers.

Each test says what the service must do when a client asks for too much, and
checks that nothing was written to the log for a refused request.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from adapters.http import streams
from adapters.http.app import HUBS, LIMITER, MAX_BODY
from adapters.http.limits import Limiter, Limits
from adapters.http.openapi import build_openapi
from adapters.http.wire import MAX_BATCH
from router import HelplineConfig
from tests.conftest import ROOT, VO_LINJEN
from tests.http_helpers import TOKENS, Events, ManualClock, bearer
from tests.service_client import engine, last_seq, start

MONDAY = "2021-11-15 10:00"


class FakeMonotonic:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def arrivals(ev: Events, n: int, prefix: str) -> list[dict[str, Any]]:
    return [
        ev("contact.arrived", contact_id=f"{prefix}-{i}", channel="phone", queue="phone")
        for i in range(n)
    ]


async def test_an_adapter_over_its_rate_limit_gets_429_with_retry_after_and_nothing_is_written(
    aiohttp_client: Any, vo_config: HelplineConfig, tmp_path: Path
) -> None:
    clock = ManualClock(MONDAY)
    mono = FakeMonotonic()

    def install(app: web.Application) -> None:
        app[LIMITER] = Limiter(Limits(events_per_s=10, burst=MAX_BATCH), monotonic=mono)

    client = await start(aiohttp_client, vo_config, tmp_path, clock, before_start=install)
    carrier, chat = Events(clock, "carrier"), Events(clock, "chat")
    r = await client.post("/v1/events", json={"events": arrivals(carrier, 300, "a")},
                          headers=bearer("carrier"))  # fmt: skip
    assert r.status == 200
    before = last_seq(client)
    # 200 tokens left; 300 more events would need 100 more: 10 s at 10 events/s.
    second = {"events": arrivals(carrier, 300, "b")}
    r = await client.post("/v1/events", json=second, headers=bearer("carrier"))
    assert (r.status, r.headers["Retry-After"], r.content_type) == (
        429,
        "10",
        "application/problem+json",
    )
    assert (await r.json())["type"] == "urn:linje:problem:rate-limited"
    assert last_seq(client) == before
    # Vendor webhooks draw on the same bucket.
    payload = {"event": "call_queued", "timestamp": "2021-11-15T10:00:00+01:00", "call_id": "v-1"}
    mono.t += 0.5  # 5 tokens back; the 300-event batch still does not fit
    r = await client.post("/v1/adapters/carrier", json=[payload] * 206, headers=bearer("carrier"))
    assert (r.status, r.headers["Retry-After"]) == (429, "1")
    assert last_seq(client) == before
    # Another adapter has its own bucket.
    r = await client.post("/v1/events", json={"events": arrivals(chat, 3, "c")},
                          headers=bearer("chat"))  # fmt: skip
    assert r.status == 200
    # After Retry-After the same request goes through.
    mono.t += 10
    r = await client.post("/v1/events", json=second, headers=bearer("carrier"))
    assert r.status == 200
    assert {x["status"] for x in (await r.json())["results"]} == {"accepted"}


async def test_a_request_refused_for_its_content_costs_no_tokens(
    aiohttp_client: Any, vo_config: HelplineConfig, tmp_path: Path
) -> None:
    clock = ManualClock(MONDAY)

    def install(app: web.Application) -> None:
        app[LIMITER] = Limiter(Limits(events_per_s=1, burst=MAX_BATCH), monotonic=FakeMonotonic())

    client = await start(aiohttp_client, vo_config, tmp_path, clock, before_start=install)
    ev = Events(clock, "carrier")
    foreign = [{**e, "source": "chat"} for e in arrivals(ev, 300, "x")]
    for _ in range(3):  # 900 events refused: had they cost tokens, the bucket would be empty
        r = await client.post("/v1/events", json={"events": foreign}, headers=bearer("carrier"))
        assert r.status == 403
    r = await client.post("/v1/events", json={"events": arrivals(ev, 300, "y")},
                          headers=bearer("carrier"))  # fmt: skip
    assert r.status == 200
    r = await client.post("/v1/events", json={"events": arrivals(ev, 300, "z")},
                          headers=bearer("carrier"))  # fmt: skip
    assert r.status == 429


def test_limits_refuse_a_burst_smaller_than_one_batch() -> None:
    with pytest.raises(ValueError, match="at least one full batch"):
        Limits(events_per_s=5, burst=MAX_BATCH - 1)
    with pytest.raises(ValueError, match=">= 0"):
        Limits(events_per_s=-1)
    Limits(events_per_s=0, burst=1)  # no rate limit: the burst does not matter


def test_serve_refuses_bad_limits_with_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "adapters.cli", "serve", "--config", str(VO_LINJEN),
         "--data", str(tmp_path / "d"), "--port", "1", "--adapter-burst", "10"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "--adapter-burst" in done.stderr and "full batch" in done.stderr


@pytest.mark.parametrize("path", ["/v1/events", "/v1/adapters/carrier", "/v1/adapters/chat"])
@pytest.mark.parametrize("chunked", [False, True])
async def test_a_body_over_64_kib_is_413_and_nothing_is_written(
    aiohttp_client: Any, vo_config: HelplineConfig, tmp_path: Path, path: str, chunked: bool
) -> None:
    client = await start(aiohttp_client, vo_config, tmp_path, ManualClock(MONDAY))
    before = last_seq(client)
    body = b'{"events": [' + b" " * MAX_BODY + b"]}"

    async def stream() -> Any:
        for i in range(0, len(body), 8192):
            yield body[i : i + 8192]

    who = "chat" if path.endswith("chat") else "carrier"
    r = await client.post(path, data=stream() if chunked else body, headers=bearer(who))
    assert (r.status, r.content_type) == (413, "application/problem+json")
    assert (await r.json())["status"] == 413
    assert last_seq(client) == before
    assert (await client.get("/healthz")).status == 200


async def test_command_streams_are_capped_per_adapter(
    aiohttp_client: Any, vo_config: HelplineConfig, tmp_path: Path
) -> None:
    client = await start(aiohttp_client, vo_config, tmp_path, ManualClock(MONDAY),
                         limits=Limits(command_streams=2))  # fmt: skip
    held = [await client.ws_connect("/v1/commands", headers=bearer("carrier")) for _ in range(2)]
    for ws in held:
        assert json.loads((await ws.receive(timeout=5)).data)["type"] == "hello"
    r = await client.get("/v1/commands", headers={**bearer("carrier"), "Upgrade": "websocket",
                         "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                         "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})  # fmt: skip
    assert (r.status, r.content_type) == (503, "application/problem+json")
    assert (await r.json())["type"] == "urn:linje:problem:too-many-streams"
    assert r.headers["Retry-After"] == "5"
    # Polling is not a stream and is not capped; another adapter has its own slots.
    assert (await client.get("/v1/commands", headers=bearer("carrier"))).status == 200
    other = await client.ws_connect("/v1/commands", headers=bearer("chat"))
    await held[0].close()
    for _ in range(100):  # the server notices the close on its next read
        try:
            again = await client.ws_connect("/v1/commands", headers=bearer("carrier"))
            break
        except Exception:
            await asyncio.sleep(0.02)
    else:
        raise AssertionError("a closed stream's slot was never given back")
    for ws in (again, held[1], other):
        await ws.close()


async def test_live_state_readers_are_capped(
    aiohttp_client: Any, vo_config: HelplineConfig, tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setattr(streams, "MAX_STATE_READERS", 2)
    client = await start(aiohttp_client, vo_config, tmp_path, ManualClock(MONDAY))
    held = [await client.ws_connect("/v1/state/stream", headers=bearer("supervisor"))
            for _ in range(2)]  # fmt: skip
    r = await client.get("/v1/state/stream", headers=bearer("supervisor"))
    assert (r.status, r.content_type) == (503, "application/problem+json")
    for ws in held:
        await ws.close()


def _stalled_sse(host: str, port: int) -> socket.socket:
    """A supervisor that opens the SSE stream and then never reads again."""
    s = socket.socket()
    # A tiny receive window so that the server's writes back up within a few snapshots.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect((host, port))
    s.sendall(
        f"GET /v1/state/stream HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {TOKENS['supervisor']}\r\n\r\n".encode()
    )
    return s


async def test_a_supervisor_stream_that_stops_reading_is_dropped_while_routing_goes_on(
    aiohttp_client: Any, vo_config: HelplineConfig, tmp_path: Path, monkeypatch: Any, caplog: Any
) -> None:
    # The real bound is SLOW_READER_S (5 s); the test shortens it to stay fast, and
    # benchmarks/bench_slow_reader.py measures the drop and decision latency with 5 s.
    monkeypatch.setattr(streams, "SLOW_READER_S", 0.3)
    clock = ManualClock(MONDAY)
    caplog.set_level("INFO", logger="linje.streams")
    client = await start(aiohttp_client, vo_config, tmp_path, clock)
    ev = Events(clock)
    # Many agents make every state push large (~80 kB), so buffers fill at once.
    logins = [ev("agent.logged_in", agent_id=f"kss-{i}", team="kss", channels=["phone"])
              for i in range(300)]  # fmt: skip
    assert (await client.post("/v1/events", json={"events": logins},
                              headers=bearer("carrier"))).status == 200  # fmt: skip
    hub = client.app[HUBS]["vo_linjen"]
    assert client.server.host is not None and client.server.port is not None
    stalled = _stalled_sse(client.server.host, client.server.port)
    for _ in range(200):
        if hub.readers:
            break
        await asyncio.sleep(0.01)
    assert len(hub.readers) == 1
    acked = 0
    for i in range(400):
        clock.t += 1
        arrival = ev("contact.arrived", contact_id=f"c{i}", channel="phone", queue="phone")
        r = await client.post("/v1/events", json=arrival, headers=bearer("carrier"))
        assert r.status == 200
        (result,) = (await r.json())["results"]
        assert result["status"] == "accepted"
        assert [c["type"] for c in result["commands"]] == ["offer"]
        acked += 1
        r = await client.post("/v1/events", json=ev("contact.abandoned", contact_id=f"c{i}"),
                              headers=bearer("carrier"))  # fmt: skip
        assert r.status == 200
        await asyncio.sleep(0.02)  # let the hub push a state between changes
        if not hub.readers:
            break
    stalled.close()
    assert not hub.readers, "the stalled reader was never dropped"
    assert "dropped a reader that stopped reading" in caplog.text
    assert acked >= 2  # routing went on while the reader was stalled
    # And the service still serves a fresh reader.
    ws = await client.ws_connect("/v1/state/stream", headers=bearer("supervisor"))
    assert json.loads((await ws.receive(timeout=5)).data)["totals"]["arrived"] == acked
    await ws.close()
    assert engine(client).ready


def test_the_429_answer_is_documented() -> None:
    doc = build_openapi()
    for path in ("/v1/events", "/v1/adapters/carrier", "/v1/adapters/chat"):
        assert "429" in doc["paths"][path]["post"]["responses"]
