"""Privacy scan: caller identity sent by vendors is found nowhere the service writes.

``linje serve`` runs as its own process with debug logging and console traces
(``OTEL_TRACES_EXPORTER=console``) and a snapshot every few records. Vendor
payloads carry callers' phone numbers (+47 and eight digits), IP addresses,
names, nicknames and e-mail addresses: in the identity fields vendors send, in
free-text feedback, in proxy headers, in refused and malformed requests and in
a URL. Afterwards the data directory (log segments, snapshots), the process's
whole output (logs and traces) and the Prometheus exposition are searched for
every one of them, and for anything shaped like a Norwegian phone number:
zero matches.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.http_helpers import bearer
from tests.redis_helpers import SHARED_URL, drop_prefix, ensure_shared_redis, new_prefix
from tests.serve_process import Server, write_auth
from tests.test_privacy_scrubber import EMAILS, IPS, PHONES

NUMBERS = ["+4791234567", "+47 934 56 789", "004795551234"]
SECRETS = [
    *NUMBERS, "4791234567", "91234567", "934 56 789", "95551234",
    "10.20.30.40", "192.168.77.12", "2001:db8::77", "198.51.100.23", "203.0.113.9",
    "Kari Nordmann", "Nordmann", "Sommerfugl77", "sommerfugl77@example.no",
]  # fmt: skip
# "+47 ..." or "0047 ..."; a "0047" inside a longer number or word is not a phone
# number: a latency of 0.00471234567 s in /metrics, a hex trace id ...a0047123456...
# The scrubber's corpus of spellings, sent in a comment of the event API and as
# identifiers; "::1" is left out of the scan (it is also the loopback in any log).
CORPUS = [x for x in PHONES + EMAILS + IPS if x != "::1"]
NORWEGIAN_NUMBER = re.compile(rb"(?:\+|(?<![\w.])00)47[ ]?\d{2,3}[ ]?\d{2}[ ]?\d{2,3}")


def post(base: str, path: str, body: Any, who: str, extra: dict[str, str] | None = None) -> int:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(
        f"{base}{path}", data=data, method="POST",
        headers={**bearer(who), "Content-Type": "application/json", **(extra or {})},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def get(base: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(f"{base}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return int(r.status), r.read()
    except urllib.error.HTTPError as e:
        return int(e.code), e.read()


def a_shift_full_of_caller_data(base: str, server_time: str) -> None:
    t = server_time
    proxy = {"X-Forwarded-For": "198.51.100.23", "User-Agent": "Sommerfugl77/1.0",
             "X-Real-IP": "10.20.30.40"}  # fmt: skip
    carrier = [
        {"event": "member_login", "timestamp": t, "extension": "kss-1", "team": "kss"},
        {"event": "call_queued", "timestamp": t, "call_id": "p1", "caller_number": NUMBERS[0],
         "caller_name": "Kari Nordmann", "caller_ip": "10.20.30.40"},
        {"event": "answered", "timestamp": t, "call_id": "p1", "extension": "kss-1",
         "caller_number": NUMBERS[0]},
        {"event": "call_queued", "timestamp": t, "call_id": "p2", "caller_number": NUMBERS[1]},
        {"event": "caller_hangup", "timestamp": t, "call_id": "p2", "caller_number": NUMBERS[1]},
        {"event": "call_completed", "timestamp": t, "call_id": "p1", "caller_number": NUMBERS[0]},
    ]  # fmt: skip
    for payload in carrier:
        assert post(base, "/v1/adapters/carrier", payload, "carrier", proxy) == 200
    chat = [
        {"event": "operator_online", "timestamp": t, "operator": "kss-c", "team": "kss"},
        {"event": "chat_requested", "timestamp": t, "chat_id": "c1",
         "visitor_nickname": "Sommerfugl77", "visitor_ip": "192.168.77.12",
         "visitor_email": "sommerfugl77@example.no"},
        {"event": "operator_joined", "timestamp": t, "chat_id": "c1", "operator": "kss-c",
         "visitor_ip": "2001:db8::77"},
        {"event": "chat_closed", "timestamp": t, "chat_id": "c1", "visitor_nickname": "Sommerfugl77"},
        # The vendor sends the visitor's nickname with the form; the visitor signed with it.
        {"event": "feedback", "timestamp": t, "chat_id": "c1", "rating": 9,
         "visitor_nickname": "Sommerfugl77",
         "comment": f"SOMMERFUGL77 her, ring {NUMBERS[2]} eller {NUMBERS[1]}, min ip 203.0.113.9, "
                    "sommerfugl77@example.no"},
    ]  # fmt: skip
    assert post(base, "/v1/adapters/chat", chat, "chat", proxy) == 200

    # The agent who answered p1 registers it: answers are codes, so identity in an
    # answer, in an extra field or in the ids is refused (422), and the one accepted
    # registration holds codes only.
    answers = {"who": "exposed", "target_group": "yes", "age": "age_31_40", "gender": "woman",
               "first_contact": "no", "ongoing": "yes", "violence": ["psychological"],
               "help": ["conversation"], "referrals": []}  # fmt: skip
    reg = {"event_id": "reg-p1", "contact_id": "p1", "form": "phone", "version": 4,
           "answers": answers}  # fmt: skip
    for bad in (
        {**reg, "event_id": "reg-x1", "answers": {**answers, "who": "Kari Nordmann"}},
        {**reg, "event_id": "reg-x2", "answers": {**answers, "who": NUMBERS[0]}},
        {**reg, "event_id": "reg-x3", "answers": {**answers, "note": [NUMBERS[1]]}},
        {**reg, "event_id": "reg-x4", "comment": "sommerfugl77@example.no"},
        {**reg, "event_id": "reg-x5", "contact_id": "4791234567"},
        {**reg, "event_id": "91234567"},
    ):
        assert post(base, "/v1/agent/registrations", bad, "agent", proxy) == 422, bad["event_id"]
    assert post(base, "/v1/agent/registrations", reg, "agent", proxy) == 200

    # The event API: a chat whose feedback comment holds every spelling of the corpus,
    # and identifiers that are a number, an e-mail or an address (refused, 422).
    def ev_(n: int, type_: str, **fields: Any) -> dict[str, Any]:
        return {"event_id": f"api-{n}", "type": type_, "at": t, "source": "chat", **fields}

    for n, event in enumerate(
        [
            ev_(1, "contact.arrived", contact_id="c9", channel="chat", queue="chat"),
            ev_(2, "contact.answered", contact_id="c9", agent_id="kss-c"),
            ev_(3, "contact.ended", contact_id="c9"),
            ev_(
                4, "chat.feedback", contact_id="c9", rating=8, comment="Takk! " + "; ".join(CORPUS)
            ),
        ]
    ):
        assert post(base, "/v1/events", event, "chat") == 200, n
    for n, token in enumerate(
        ["91234567", "4791234567", "kari@example.no", "10.0.0.1", "2001:db8::77"]
    ):
        refused = ev_(10 + n, "contact.arrived", contact_id=token, channel="chat", queue="chat")
        assert post(base, "/v1/events", refused, "chat") == 422, token
    # Refused requests carry identity too: an event with an identity field (422), a
    # malformed body (400), a vendor payload with a bad field, a URL with a number.
    ev = {"event_id": "x1", "type": "contact.arrived", "at": t, "source": "carrier",
          "contact_id": "x1", "channel": "phone", "queue": "phone", "caller_number": NUMBERS[0]}  # fmt: skip
    assert post(base, "/v1/events", ev, "carrier", proxy) == 422
    assert post(base, "/v1/events", f'{{"x": "{NUMBERS[1]}", Nordmann'.encode(), "carrier") == 400
    bad = {"event": "call_queued", "timestamp": "yesterday", "call_id": "p3",
           "caller_number": NUMBERS[2], "caller_name": "Kari Nordmann"}  # fmt: skip
    assert post(base, "/v1/adapters/carrier", bad, "carrier") == 422
    assert post(base, "/v1/events", ev, "chat") in (403, 422)  # the wrong adapter
    assert get(base, f"/v1/{NUMBERS[0]}", proxy)[0] == 404
    assert get(base, f"/v1/stats?from={NUMBERS[0]}", bearer("planner"))[0] == 400
    flags_of_the_shift(base, t, proxy)


def flags_of_the_shift(base: str, t: str, proxy: dict[str, str]) -> None:
    """Duty to avert on a chat and on a call: escalations raised, worked and closed; the
    vendors' legal-hold confirmations and refused flags carry identity too."""

    def ev_(n: int, type_: str, source: str, **fields: Any) -> dict[str, Any]:
        return {"event_id": f"flag-{n}", "type": type_, "at": t, "source": source, **fields}

    flags = [
        (ev_(1, "contact.flagged", "chat", contact_id="c1", flag="duty_to_avert",
             category="risk_to_life"), "chat"),
        (ev_(2, "contact.flagged", "carrier", contact_id="p1", flag="duty_to_avert"), "carrier"),
        (ev_(3, "contact.flagged", "carrier", contact_id="p2", flag="self_harm_risk"), "carrier"),
        (ev_(4, "legal_hold.acknowledged", "chat", contact_id="c1"), "chat"),
    ]  # fmt: skip
    for event, who in flags:
        assert post(base, "/v1/events", event, who, proxy) == 200, event
    refused = [
        # a flag is a code, never free text; a confirmation carries no vendor trace
        ev_(10, "contact.flagged", "chat", contact_id="c9", flag="duty_to_avert",
            note=f"Kari Nordmann {NUMBERS[0]}"),
        ev_(11, "contact.flagged", "chat", contact_id="c9", flag="duty_to_avert",
            category="Sommerfugl77"),
        ev_(12, "contact.flagged", "chat", contact_id="c9", flag=NUMBERS[2]),
        ev_(13, "legal_hold.acknowledged", "carrier", contact_id="p1",
            visitor_ip="192.168.77.12"),
    ]  # fmt: skip
    for event in refused:
        assert post(base, "/v1/events", event, event["source"], proxy) in (409, 422), event
    assert post(base, "/v1/events", ev_(14, "legal_hold.acknowledged", "carrier",
                                        contact_id="p1"), "carrier") == 200  # fmt: skip
    state = json.loads(get(base, "/v1/state", bearer("supervisor"))[1])
    alerts = {e["escalation_id"]: e["alert_id"] for e in state["escalations"]}
    assert sorted(alerts) == ["esc-1", "esc-2", "esc-3"]
    assert post(base, f"/v1/alerts/{alerts['esc-1']}/acknowledge", b"", "supervisor") == 200
    for step in ("assess", "police", "document"):
        assert post(base, f"/v1/escalations/esc-1/steps/{step}", b"", "supervisor") == 200
    assert post(base, "/v1/escalations/esc-2/close", {"reason": "police_notified"},
                "supervisor") == 200  # fmt: skip
    assert post(base, "/v1/escalations/esc-3/close", {"reason": NUMBERS[1]}, "supervisor") == 422
    # An escalation id that is a phone number is refused before anything is stored.
    assert post(base, "/v1/escalations/4791234567/close", {"reason": "not_triggered"},
                "supervisor") == 422  # fmt: skip


def redis_contents(client: Any, prefix: str) -> dict[str, bytes]:
    """Every key under ``prefix``, by name, with everything stored in it."""
    out: dict[str, bytes] = {}
    for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        kind = client.type(key).decode()
        if kind == "string":
            parts = [client.get(key) or b""]
        elif kind == "hash":
            parts = [b for kv in client.hgetall(key).items() for b in kv]
        elif kind == "list":
            parts = client.lrange(key, 0, -1)
        elif kind == "set":
            parts = list(client.smembers(key))
        elif kind == "zset":
            parts = [m for m, _ in client.zrange(key, 0, -1, withscores=True)]
        elif kind == "stream":
            parts = [b for _, fields in client.xrange(key) for kv in fields.items() for b in kv]
        else:
            raise AssertionError(f"{key!r}: a Redis type this scan does not read: {kind}")
        out[f"redis {key.decode()}"] = key + b"\n" + b"\n".join(parts)
    return out


@pytest.mark.parametrize("store", ["embedded", "redis"])
def test_no_caller_identity_in_data_logs_traces_or_metrics(tmp_path: Path, store: str) -> None:
    data = tmp_path / "data"
    extra: list[str] = []
    redis_client, prefix = None, ""
    if store == "redis":
        redis_client, prefix = ensure_shared_redis(), new_prefix()
        extra = ["--store", SHARED_URL, "--redis-prefix", prefix]
    os.environ["OTEL_TRACES_EXPORTER"] = "console"
    os.environ["LINJE_SNAPSHOT_KEY"] = "privacy-scan-snapshot-key"  # Redis snapshots are signed
    try:
        # On a weekday morning, so that the chat is open whenever the test runs.
        server = Server(data, write_auth(tmp_path / "auth.toml"), "--log-level", "debug",
                        "--snapshot-every", "3", "--clock-start", "2021-11-15T10:00:00+01:00",
                        *extra)  # fmt: skip
    finally:
        del os.environ["OTEL_TRACES_EXPORTER"], os.environ["LINJE_SNAPSHOT_KEY"]
    try:
        server.wait_ready()
        state = json.loads(get(server.base, "/v1/state", bearer("supervisor"))[1])
        now = dt.datetime.fromtimestamp(state["server_time"], dt.UTC).isoformat()
        a_shift_full_of_caller_data(server.base, now)
        for _ in range(100):  # a Redis node folds the stream in the background
            stats = json.loads(get(server.base, "/v1/stats", bearer("planner"))[1])
            if stats["groups"][0]["contacts"] == 4:
                break
            time.sleep(0.05)
        assert stats["groups"][0]["contacts"] == 4  # the calls and the chats were counted
        for _ in range(100):
            escalations = get(server.base, "/v1/stats/escalations", bearer("supervisor"))[1]
            if b'"raised": 3' in escalations.replace(b'"raised":3', b'"raised": 3'):
                break
            time.sleep(0.05)
        views = {"/v1/state": get(server.base, "/v1/state", bearer("supervisor"))[1],
                 "/v1/stats/escalations": escalations}  # fmt: skip
        metrics = get(server.base, "/metrics")[1]
        assert b"linje_agents{" in metrics and b"linje_events_rejected_total" in metrics
        stored: dict[str, bytes] = {}
        if redis_client is not None:
            stored = redis_contents(redis_client, prefix)
    finally:
        assert server.stop() == 0
        if redis_client is not None:
            drop_prefix(redis_client, prefix)
    output = (tmp_path / f"serve-{server.port}.log").read_bytes()
    assert b"span POST /v1/adapters/carrier" in output  # traces were written
    files = {p: p.read_bytes() for p in data.rglob("*") if p.is_file()}
    if store == "embedded":
        assert any("snapshots" in str(p) for p in files) and any("log" in p.parts for p in files)
    else:
        assert any(k.endswith(":log") for k in stored) and any(":dedup:" in k for k in stored)
    places = {**{str(p): b for p, b in files.items()}, **stored, "output": output,
              "/metrics": metrics, **views}  # fmt: skip
    raised = sum(g["raised"] for g in json.loads(views["/v1/stats/escalations"])["groups"])
    assert raised == 3  # the flags raised their escalations
    found = [
        (where, secret)
        for where, blob in places.items()
        for secret in (*SECRETS, *CORPUS)
        if secret.encode() in blob
    ]
    found += [
        (w, m.group().decode()) for w, b in places.items() for m in NORWEGIAN_NUMBER.finditer(b)
    ]
    assert found == []
