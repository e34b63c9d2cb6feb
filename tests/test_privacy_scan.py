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
import urllib.request
from pathlib import Path
from typing import Any

from tests.http_helpers import bearer
from tests.serve_process import Server, write_auth

NUMBERS = ["+4791234567", "+47 934 56 789", "004795551234"]
SECRETS = [
    *NUMBERS, "4791234567", "91234567", "934 56 789", "95551234",
    "10.20.30.40", "192.168.77.12", "2001:db8::77", "198.51.100.23", "203.0.113.9",
    "Kari Nordmann", "Nordmann", "Sommerfugl77", "sommerfugl77@example.no",
]  # fmt: skip
NORWEGIAN_NUMBER = re.compile(rb"(?:\+|00)47[ ]?\d{2,3}[ ]?\d{2}[ ]?\d{2,3}")


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


def test_no_caller_identity_in_data_logs_traces_or_metrics(tmp_path: Path) -> None:
    data = tmp_path / "data"
    os.environ["OTEL_TRACES_EXPORTER"] = "console"
    try:
        server = Server(data, write_auth(tmp_path / "auth.toml"), "--log-level", "debug",
                        "--snapshot-every", "3")  # fmt: skip
    finally:
        del os.environ["OTEL_TRACES_EXPORTER"]
    try:
        server.wait_ready()
        state = json.loads(get(server.base, "/v1/state", bearer("supervisor"))[1])
        now = dt.datetime.fromtimestamp(state["server_time"], dt.UTC).isoformat()
        a_shift_full_of_caller_data(server.base, now)
        stats = json.loads(get(server.base, "/v1/stats", bearer("planner"))[1])
        assert stats["groups"][0]["contacts"] == 3  # the calls and the chat were counted
        metrics = get(server.base, "/metrics")[1]
        assert b"linje_events_ingested_total" in metrics
    finally:
        assert server.stop() == 0
    output = (tmp_path / f"serve-{server.port}.log").read_bytes()
    assert b"span " in output and b"linje.route" in output  # traces were written
    files = {p: p.read_bytes() for p in data.rglob("*") if p.is_file()}
    assert any("snapshots" in str(p) for p in files) and any("log" in p.parts for p in files)
    places = {**{str(p): b for p, b in files.items()}, "output": output, "/metrics": metrics}
    found = [
        (where, secret)
        for where, blob in places.items()
        for secret in SECRETS
        if secret.encode() in blob
    ]
    found += [
        (w, m.group().decode()) for w, b in places.items() for m in NORWEGIAN_NUMBER.finditer(b)
    ]
    assert found == []
