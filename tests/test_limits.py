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
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from adapters.http import streams
from adapters.http.app import HUBS, LIMITER, MAX_BODY
from adapters.http.limits import Limiter, Limits
from adapters.http.openapi import build_openapi
from adapters.http.problems import PROBLEM_JSON
from adapters.http.wire import MAX_BATCH
from adapters.store.entries import read_entries
from router import HelplineConfig
from tests.conftest import ROOT, VO_LINJEN
from tests.http_helpers import TOKENS, Events, ManualClock, bearer
from tests.serve_process import Server, write_auth
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


# ---------------------------------------------------------------- hostile input
# Each must be a 4xx problem that changes nothing (before: a 500 each).
DEEP = {
    "array 30,000 deep": "[" * 30_000 + "]" * 30_000,
    "object 5,000 deep": '{"a":' * 5_000 + "1" + "}" * 5_000,
}
FEEDBACK_AT = "2021-11-15T10:00:00+01:00"


def hostile_event(path: str, field_json: str, field: str = "comment") -> bytes:
    """A body for ``path`` whose ``field`` holds the raw JSON text ``field_json``."""
    if path == "/v1/events":
        body: dict[str, Any] = {"event_id": "h-1", "type": "chat.feedback", "at": FEEDBACK_AT,
                                "source": "carrier", "contact_id": "c-1", "rating": 5}  # fmt: skip
    elif path == "/v1/adapters/chat":
        body = {"event": "feedback", "timestamp": FEEDBACK_AT, "chat_id": "c-1", "rating": 5}
    else:
        body = {"event": "call_queued", "timestamp": FEEDBACK_AT, "call_id": "tn-1"}
    body[field] = "@@FIELD@@"
    return json.dumps(body).replace('"@@FIELD@@"', field_json).encode()


def poster(path: str) -> str:
    return "chat" if path.endswith("chat") else "carrier"


def too_deep(path: str) -> dict[str, Any]:
    return {"type": "urn:linje:problem:json-too-deep", "title": "Bad request", "status": 400,
            "detail": "body nests arrays and objects deeper than 32 levels",
            "instance": path}  # fmt: skip


INGEST = ["/v1/events", "/v1/adapters/carrier", "/v1/adapters/chat"]


@pytest.mark.parametrize("path", INGEST)
@pytest.mark.parametrize(
    "case", [*DEEP, "a field value 2,000 deep", "a field value 33 deep (one over)"]
)
async def test_json_nested_too_deep_is_400_and_nothing_is_written(
    aiohttp_client: Any, vo_config: HelplineConfig, tmp_path: Path, path: str, case: str
) -> None:
    client = await start(aiohttp_client, vo_config, tmp_path, ManualClock(MONDAY))
    before = last_seq(client)
    field = "caller_name" if path.endswith("carrier") else "comment"
    if case in DEEP:
        body = DEEP[case].encode()
    else:
        depth = 2_000 if "2,000" in case else 32  # inside the body's own object: 33 levels
        body = hostile_event(path, "[" * depth + "]" * depth, field)
    r = await client.post(path, data=body, headers={**bearer(poster(path)),
                          "Content-Type": "application/json"})  # fmt: skip
    assert (r.status, r.content_type) == (400, "application/problem+json")
    assert await r.json() == too_deep(path)
    assert last_seq(client) == before
    assert (await client.get("/healthz")).status == 200


@pytest.mark.parametrize("path", INGEST)
async def test_nesting_up_to_the_limit_and_brackets_in_strings_pass_the_depth_check(
    aiohttp_client: Any, vo_config: HelplineConfig, tmp_path: Path, path: str
) -> None:
    client = await start(aiohttp_client, vo_config, tmp_path, ManualClock(MONDAY))
    field = "caller_name" if path.endswith("carrier") else "comment"
    headers = {**bearer(poster(path)), "Content-Type": "application/json"}
    # 32 levels in all: past the depth check, refused by validation (a comment is text).
    r = await client.post(path, data=hostile_event(path, "[" * 31 + "]" * 31, field),
                          headers=headers)  # fmt: skip
    assert (r.status, (await r.json())["type"]) == (422, "urn:linje:problem:invalid-event")
    # Brackets inside a string (with escaped quotes) are text, not nesting.
    text = json.dumps('\\"' + "[{" * 900 + '"')  # 1,800 brackets, under 2,000 chars
    r = await client.post(path, data=hostile_event(path, text, field), headers=headers)
    if path.endswith("carrier"):  # the caller's name is dropped: the call is queued
        assert r.status == 200
    else:  # parsed and validated: only then refused, for feedback on a chat never seen
        assert (r.status, (await r.json())["type"]) == (422, "urn:linje:problem:unknown-contact")


def too_long(path: str, field: str) -> dict[str, Any]:
    return {"type": "urn:linje:problem:number-too-long", "title": "Unprocessable event",
            "status": 422, "detail": f"{field}: an integer of more than 20 digits",
            "field": field, "instance": path}  # fmt: skip


@pytest.mark.parametrize(
    "target",
    [("/v1/events", "rating"), ("/v1/events", "at"), ("/v1/adapters/chat", "rating"),
     ("/v1/adapters/chat", "timestamp"), ("/v1/adapters/carrier", "timestamp")],
)  # fmt: skip
@pytest.mark.parametrize("digits", ["9" * 5_000, "-" + "1" * 4_301, "1" * 21])
async def test_an_integer_of_thousands_of_digits_is_422_naming_the_field(
    aiohttp_client: Any, vo_config: HelplineConfig, tmp_path: Path, target: tuple[str, str],
    digits: str,
) -> None:  # fmt: skip
    path, field = target
    client = await start(aiohttp_client, vo_config, tmp_path, ManualClock(MONDAY))
    before = last_seq(client)
    headers = {**bearer(poster(path)), "Content-Type": "application/json"}
    r = await client.post(path, data=hostile_event(path, digits, field), headers=headers)
    assert (r.status, r.content_type) == (422, "application/problem+json")
    assert await r.json() == too_long(path, field)
    if path != "/v1/events":  # in a batch of webhooks the field is named by its place
        one = hostile_event(path, digits, field).decode()
        good = hostile_event(path, '"fine"', "x").decode()
        r = await client.post(path, data=f"[{good}, {one}]", headers=headers)
        assert await r.json() == too_long(path, f"[1].{field}")
    assert last_seq(client) == before


@pytest.mark.parametrize(
    "cursor", ["9" * 5_000, "%C2%B2", "%D9%A3", "1%0A", "-1", "+1", "1e3", " 1", "9" * 19, ""]
)
@pytest.mark.parametrize("upgrade", [False, True])
async def test_a_cursor_that_is_not_a_short_ascii_number_is_400(
    aiohttp_client: Any, vo_config: HelplineConfig, tmp_path: Path, cursor: str, upgrade: bool
) -> None:
    client = await start(aiohttp_client, vo_config, tmp_path, ManualClock(MONDAY))
    ws = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
          "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}  # fmt: skip
    headers = {**bearer("carrier"), **(ws if upgrade else {})}
    r = await client.get(f"/v1/commands?cursor={cursor}", headers=headers)
    assert (r.status, r.content_type) == (400, "application/problem+json")
    assert await r.json() == {
        "type": "urn:linje:problem:bad-parameter", "title": "Bad request", "status": 400,
        "detail": "cursor must be a non-negative integer of at most 18 digits",
        "field": "cursor", "instance": "/v1/commands",
    }  # fmt: skip


async def test_the_largest_cursor_is_an_empty_page(
    aiohttp_client: Any, vo_config: HelplineConfig, tmp_path: Path
) -> None:
    client = await start(aiohttp_client, vo_config, tmp_path, ManualClock(MONDAY))
    r = await client.get(f"/v1/commands?cursor={'9' * 18}", headers=bearer("carrier"))
    assert (r.status, await r.json()) == (200, {"commands": []})


def raw_http(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` as is and read the answer until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(request)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, body


def _auth_line(name: str = "carrier") -> bytes:
    return f"Authorization: Bearer {TOKENS[name]}\r\n".encode()


MALFORMED_HTTP: dict[str, tuple[bytes, int, str]] = {
    "a header line over 8 KiB": (
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 10_000 + b"\r\n\r\n",
        400, "LineTooLong"),
    "Content-Length with Transfer-Encoding": (
        b"POST /v1/events HTTP/1.1\r\nHost: x\r\n" + _auth_line() + b"Content-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n0\r\n\r\n",
        400, "BadHttpMessage"),
    "a bad chunk size": (
        b"POST /v1/events HTTP/1.1\r\nHost: x\r\n" + _auth_line() + b"Content-Type: "
        b"application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        400, "BadHttpMessage"),
    "a TLS hello on the plain port": (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(40),
                                      400, "BadHttpMethod"),
    "a garbled method": (b"G@T / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "BadHttpMethod"),
    "an unknown HTTP version": (b"GET / HTTP/9.9\r\nHost: x\r\n\r\n", 400, "BadStatusLine"),
}  # fmt: skip


def test_aiohttps_own_refusals_are_problem_json_and_write_nothing(tmp_path: Path) -> None:
    server = Server(tmp_path / "data", write_auth(tmp_path / "auth.toml"))
    try:
        server.wait_ready()
        got = {name: raw_http(server.port, request)
               for name, (request, _, _) in MALFORMED_HTTP.items()}  # fmt: skip
        for name, (_, status, kind) in MALFORMED_HTTP.items():
            code, headers, body = got[name]
            assert (code, headers["content-type"]) == (status, "application/problem+json; "
                                                       "charset=utf-8"), name  # fmt: skip
            assert json.loads(body) == {
                "type": "urn:linje:problem:malformed-http", "title": "Bad request",
                "status": 400, "detail": f"the request is not valid HTTP/1.1 ({kind})",
            }, name  # fmt: skip
        # Routing refusals and a bearer token of raw non-UTF-8 bytes: problems too, no 500.
        close = b"Connection: close\r\n\r\n"
        for request, status in (
            (b"GET /nope HTTP/1.1\r\nHost: x\r\n" + close, 404),
            (b"DELETE /v1/events HTTP/1.1\r\nHost: x\r\n" + close, 405),
            (b"GET /v1/state HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\r\n" + close,
             401),
            (b"POST /v1/events HTTP/1.1\r\nHost: x\r\nLinje-Signature: t=\xc2\xb2,v1=00\r\n"
             b"Content-Length: 2\r\n" + close + b"{}", 401),
        ):  # fmt: skip
            code, headers, body = raw_http(server.port, request)
            assert (code, headers["content-type"].split(";")[0]) == (status, PROBLEM_JSON)
            assert json.loads(body)["status"] == status
        with urllib.request.urlopen(f"{server.base}/healthz", timeout=10) as r:
            assert r.status == 200
    finally:
        assert server.stop() == 0
    assert [e for e in read_entries(tmp_path / "data" / "vo_linjen") if e.event] == []
