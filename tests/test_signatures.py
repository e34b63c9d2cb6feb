"""Signed webhooks and replays: forged, stale or replayed requests write nothing.

``Linje-Signature: t=<unix>,kid=<key id>,v1=<HMAC-SHA256 of "t.body">``
(``adapters.http.auth``). Every refused request must leave the data
directory byte for byte as it was; a replayed request or a reused event id is
answered "duplicate" and writes nothing either. Secrets and tokens are
compared with ``hmac.compare_digest`` against every candidate, so the time
taken does not tell which one matched.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from adapters.http import auth as auth_module
from adapters.http.auth import AuthConfig, Authenticator
from router import HelplineConfig
from tests.http_helpers import WEBHOOK_SECRET, Events, ManualClock
from tests.service_client import last_seq, start

MONDAY = "2021-11-15 10:00"
PATHS = ["/v1/events", "/v1/adapters/carrier"]
E_ACUTE = "\u00e9"


def data_blob(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def body_for(path: str, clock: ManualClock, n: int) -> bytes:
    if path == "/v1/events":
        ev = Events(clock)
        ev.n = n
        return json.dumps(
            ev("agent.logged_in", agent_id=f"kss-{n}", team="kss", channels=["phone"])
        ).encode()
    return json.dumps(
        {"event": "member_login", "timestamp": "2021-11-15T10:00:00+01:00",
         "delivery_id": f"d-{n}", "extension": f"kss-{n}", "team": "kss"}
    ).encode()  # fmt: skip


@pytest.fixture
async def client(aiohttp_client: Any, vo_config: HelplineConfig, tmp_path: Path) -> TestClient:
    return await start(aiohttp_client, vo_config, tmp_path / "data", ManualClock(MONDAY))


async def send(client: TestClient, path: str, body: bytes, signature: str) -> Any:
    return await client.post(
        path, data=body, headers={"Linje-Signature": signature, "Content-Type": "application/json"}
    )


def forgeries(body: bytes, now: int) -> dict[str, tuple[bytes, str]]:
    """Requests that must be refused: (body sent, signature header)."""
    other = body.replace(b"kss", b"ok-")
    sign = Authenticator.sign
    return {
        "another secret": (body, sign("another-secret-0000000", body, now, kid="car-1")),
        "no kid, another secret": (body, sign("another-secret-0000000", body, now)),
        "signed another body": (other, sign(WEBHOOK_SECRET, body, now, kid="car-1")),
        "unknown key id": (body, sign(WEBHOOK_SECRET, body, now, kid="car-9")),
        # Well past the 300 s tolerance: the server reads its own clock a moment
        # after ``now`` was taken (the exact boundary is tested on a fixed clock).
        "stale by 330 s": (body, sign(WEBHOOK_SECRET, body, now - 330, kid="car-1")),
        "330 s in the future": (body, sign(WEBHOOK_SECRET, body, now + 330, kid="car-1")),
        "no timestamp": (body, sign(WEBHOOK_SECRET, body, now, kid="car-1").split(",", 1)[1]),
        "timestamp not a number": (body, "t=abc,kid=car-1,v1=00"),
        "empty mac": (body, f"t={now},kid=car-1,v1="),
        "mac of the body alone": (
            body,
            f"t={now},kid=car-1,v1="
            + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest(),
        ),
        "truncated mac": (body, sign(WEBHOOK_SECRET, body, now, kid="car-1")[:-2]),
        "upper-case mac": (body, sign(WEBHOOK_SECRET, body, now, kid="car-1").upper()),
        "empty header": (body, ""),
        # Before: a 500 before any authentication ("²".isdigit(); int() of 5,000 digits).
        "timestamp of 5,000 digits": (body, f"t={'9' * 5_000},kid=car-1,v1={'0' * 64}"),
        "timestamp ²": (body, f"t=\u00b2,kid=car-1,v1={'0' * 64}"),
        "timestamp in Arabic-Indic digits": (body, f"t=\u0663,v1={'0' * 64}"),
        "timestamp with a sign": (body, f"t=+{now},v1={'0' * 64}"),
        "a mac of non-ASCII letters": (body, f"t={now},kid=car-1,v1={E_ACUTE * 64}"),
        "a key id of non-ASCII letters": (body, f"t={now},kid={E_ACUTE},v1={'0' * 64}"),
    }


@pytest.mark.parametrize("path", PATHS)
async def test_forged_and_stale_signatures_are_401_and_write_nothing(
    client: TestClient, tmp_path: Path, path: str
) -> None:
    clock = ManualClock(MONDAY)
    body = body_for(path, clock, 1)
    before, seq = data_blob(tmp_path / "data"), last_seq(client)
    for name, (sent, header) in forgeries(body, int(time.time())).items():
        r = await send(client, path, sent, header)
        assert (r.status, r.content_type) == (401, "application/problem+json"), name
        assert (await r.json())["type"] == "urn:linje:problem:unauthorized", name
    assert last_seq(client) == seq
    assert data_blob(tmp_path / "data") == before
    # The genuine request is accepted: the refusals above were about the signature.
    r = await send(client, path, body, Authenticator.sign(WEBHOOK_SECRET, body, int(time.time())))
    assert r.status == 200
    assert last_seq(client) == seq + 1


@pytest.mark.parametrize("path", PATHS)
async def test_a_replayed_signed_request_is_a_duplicate_and_writes_nothing(
    client: TestClient, tmp_path: Path, path: str
) -> None:
    body = body_for(path, ManualClock(MONDAY), 2)
    header = Authenticator.sign(WEBHOOK_SECRET, body, int(time.time()), kid="car-1")
    r = await send(client, path, body, header)
    assert [x["status"] for x in (await r.json())["results"]] == ["accepted"]
    before, seq = data_blob(tmp_path / "data"), last_seq(client)
    for _ in range(3):  # an attacker (or a retrying proxy) sends it again, verbatim
        r = await send(client, path, body, header)
        assert r.status == 200
        assert [(x["status"], x["commands"]) for x in (await r.json())["results"]] == [
            ("duplicate", [])
        ]
    assert last_seq(client) == seq
    assert data_blob(tmp_path / "data") == before


async def test_a_reused_event_id_with_other_content_is_refused_and_changes_nothing(
    client: TestClient, tmp_path: Path
) -> None:
    clock = ManualClock(MONDAY)
    ev = Events(clock)
    first = ev("agent.logged_in", agent_id="kss-1", team="kss", channels=["phone"])
    body = json.dumps(first).encode()
    now = int(time.time())
    assert (await send(client, "/v1/events", body, Authenticator.sign(WEBHOOK_SECRET, body, now))).status == 200  # fmt: skip
    before, seq = data_blob(tmp_path / "data"), last_seq(client)
    # Same event id, different meaning: log the agent out, or in on another team.
    logged_out = {k: v for k, v in first.items() if k != "team"}
    logged_out["type"] = "agent.logged_out"
    for changed in (logged_out, {**first, "team": "ok"}):
        forged = json.dumps(changed).encode()
        r = await send(
            client, "/v1/events", forged, Authenticator.sign(WEBHOOK_SECRET, forged, now)
        )
        problem = await r.json()
        # An idempotency key reused with another body: refused (409), the first kept.
        assert (
            r.status,
            problem["type"].rsplit(":", 1)[-1],
            problem.get("field"),
        ) == (409, "event-id-reused", "event_id")
    assert last_seq(client) == seq
    assert data_blob(tmp_path / "data") == before
    state = await (await client.get("/v1/state", headers={"Authorization":
                   "Bearer supervisor-token-000001"})).json()  # fmt: skip
    (agent,) = state["agents"]
    assert (agent["agent_id"], agent["team"]) == ("kss-1", "kss")


async def test_a_valid_signature_does_not_let_an_adapter_post_as_another(
    client: TestClient,
) -> None:
    ev = Events(ManualClock(MONDAY), source="chat")
    body = json.dumps(ev("agent.logged_in", agent_id="k", team="kss", channels=["chat"])).encode()
    seq = last_seq(client)
    r = await send(client, "/v1/events", body, Authenticator.sign(WEBHOOK_SECRET, body, int(time.time())))  # fmt: skip
    assert (r.status, (await r.json())["type"]) == (403, "urn:linje:problem:wrong-source")
    assert last_seq(client) == seq


class CompareSpy:
    def __init__(self) -> None:
        self.calls = 0
        self.real = hmac.compare_digest

    def __call__(self, a: Any, b: Any) -> bool:
        self.calls += 1
        return self.real(a, b)


def test_the_timestamp_tolerance_is_300_s_either_way() -> None:
    a = many_keys()
    body, now = b'{"x": 1}', 1_790_000_000.0
    for offset, accepted in ((-301, False), (-300, True), (0, True), (300, True), (301, False)):
        header = Authenticator.sign("secret-number-0002-xx", body, int(now) + offset, kid="k2")
        principal, reason = a.signature(header, body, now=now)
        assert (principal is not None) == accepted, (offset, reason)
        if not accepted:
            assert reason == "signature timestamp is more than 300 s from now"


def many_keys() -> Authenticator:
    return Authenticator(
        AuthConfig.model_validate(
            {
                "tokens": [
                    {"role": "adapter", "name": f"a{i}", "token": f"token-number-{i:04d}-xxxx"}
                    for i in range(5)
                ],
                "webhook_keys": [
                    {"adapter": f"a{i}", "key_id": f"k{i}", "secret": f"secret-number-{i:04d}-xx"}
                    for i in range(5)
                ],
            }
        )
    )


def test_secrets_are_compared_in_constant_time_against_every_candidate(monkeypatch: Any) -> None:
    spy = CompareSpy()
    monkeypatch.setattr(auth_module.hmac, "compare_digest", spy)
    a = many_keys()
    # Bearer tokens: every known digest is compared, whichever matches (or none).
    for header in ("Bearer token-number-0000-xxxx", "Bearer token-number-0004-xxxx",
                   "Bearer token-number-9999-xxxx"):  # fmt: skip
        spy.calls = 0
        a.bearer(header)
        assert spy.calls == 5, header
    # Signatures without a key id: every key is tried, whichever matches (or none).
    body, now = b'{"x": 1}', int(time.time())
    for secret in ("secret-number-0000-xx", "secret-number-0004-xx", "wrong-secret-00000000"):
        spy.calls = 0
        principal, _ = a.signature(Authenticator.sign(secret, body, now), body, now=now)
        assert spy.calls == 5, secret
        assert (principal is not None) == secret.startswith("secret")
