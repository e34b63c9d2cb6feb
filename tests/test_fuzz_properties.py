"""Property-based fuzzing of every JSON endpoint: hostile bodies change nothing and get a problem.

Hypothesis starts from a VALID body (one of every event type for
``POST /v1/events``, one of every payload kind of both vendor webhooks) and
mutates it: a field's JSON type swapped (string, integer, float, boolean,
null, array, object), an integer of hundreds to thousands of digits,
``NaN``/``Infinity`` tokens, lone surrogates and control characters in a
string (escaped, and raw), arrays and objects thousands deep (built as text,
no recursion), unknown, missing and duplicate fields, a byte order mark,
invalid UTF-8, very long strings, batches mixing good and bad events. Each body
is posted as raw bytes with a token of a role allowed to send it, to an
in-process service on loopback whose clock stands still (so no timer writes
between two requests). For every example:

* the status is never 5xx;
* every non-2xx answer is ``application/problem+json`` whose ``type``,
  ``title`` and ``status`` (equal to the HTTP status) are set, and which names
  the ``field`` for a problem with a field;
* the problem's detail never holds the value of a string the body sent (every
  string is a distinctive marker);
* a refused request leaves every file under the data directory byte-identical
  and the live state unchanged;
* every event an accepted request reports as accepted is in the log at the
  ``log_seq`` it was given.

``LINJE_FUZZ_EXAMPLES`` sets the examples per test (default: a quick run).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import os
import threading
import typing
import urllib.parse
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from adapters.http.app import build_app
from adapters.http.bodies import key_name
from adapters.http.limits import Limits
from adapters.http.problems import PROBLEM_JSON, TITLES
from adapters.http.vendors import CarrierEvent, ChatVendorEvent
from adapters.http.wire import EVENT_ROLES, EventModels
from adapters.store.entries import read_entries
from router import HelplineConfig
from router.events import EVENT_TYPES
from tests.http_helpers import ManualClock, auth, bearer, iso
from tests.service_client import engine

T = TypeVar("T")
EXAMPLES = int(os.environ.get("LINJE_FUZZ_EXAMPLES", "150"))
MONDAY = "2021-11-15 10:00"
HELPLINE = "vo_linjen"
# Problems about one field of the body: they must name it (unless the body itself is at fault).
FIELD_PROBLEMS = {"invalid-event", "invalid-text", "number-too-long", "forbidden-event-type",
                  "time-in-future", "wrong-source"}  # fmt: skip
# Identifiers are names the service may quote back ("event_id c-1 was already accepted");
# every other string a body holds may be a caller's words and is never echoed.
IDENTIFIERS = {"event_id", "source", "contact_id", "agent_id", "alert_id", "delivery_id",
               "call_id", "chat_id", "extension", "operator", "escalation_id", "agent_ids",
               "extensions", "operators"}  # fmt: skip
MARK = "mkr"  # every string value a body sends starts with it (checked against the answers)

# Each vendor's model, and its fields for the contact and the staff member.
WEBHOOKS: dict[str, tuple[type[BaseModel], str, str]] = {
    "carrier": (CarrierEvent, "call_id", "extension"),
    "chat": (ChatVendorEvent, "chat_id", "operator"),
}


# ------------------------------------------------------------------ the service
class Service:
    """The service in-process on loopback, its event loop in a thread of its own, so that
    synchronous clients (Hypothesis tests, schemathesis) can call it. Its clock stands
    still: no timer writes anything between two requests."""

    def __init__(self, config: HelplineConfig, root: Path) -> None:
        self.root = root
        self.clock = ManualClock(MONDAY)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        app = build_app([config], root, auth(), clock=self.clock,
                        limits=Limits(events_per_s=0))  # fmt: skip
        self.client: TestClient = self.run(self._start(app))
        self.base = str(self.client.make_url("")).rstrip("/")

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(120)

    async def _start(self, app: Any) -> TestClient:
        client: TestClient = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        for _ in range(1000):
            if (await client.get("/readyz")).status == 200:
                return client
            await asyncio.sleep(0.01)
        raise AssertionError("the service did not become ready")

    @property
    def log_dir(self) -> Path:
        return self.root / HELPLINE

    def now(self) -> str:
        return iso(self.clock.now())

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, str, bytes]:
        async def go() -> tuple[int, str, bytes]:
            r = await self.client.post(
                path, data=body, headers={"Content-Type": "application/json", **headers}
            )
            return r.status, r.content_type, await r.read()

        answer = self.run(go())
        self.settle()
        return answer

    def settle(self) -> None:
        """Let the loop run what a request left behind (listeners, group-commit tails)."""

        async def idle() -> None:
            eng: Any = engine(self.client)
            for _ in range(200):
                await asyncio.sleep(0)
                if eng._in_flight == 0 and not eng._pending:
                    break
                await asyncio.sleep(0.005)

        self.run(idle())

    def state(self) -> dict[str, Any]:
        async def snapshot() -> dict[str, Any]:
            snap: dict[str, Any] = engine(self.client).snapshot()
            return snap

        return self.run(snapshot())

    def files(self) -> dict[str, str]:
        """sha256 of every file under the data directory, by relative path."""
        out = {}
        for p in sorted(self.root.rglob("*")):
            if p.is_file():
                out[str(p.relative_to(self.root))] = hashlib.sha256(p.read_bytes()).hexdigest()
        return out

    def close(self) -> None:
        self.run(self.client.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)
        self.loop.close()


@pytest.fixture(scope="module")
def service(
    vo_config: HelplineConfig, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    s = Service(vo_config, tmp_path_factory.mktemp("fuzz-properties") / "data")
    try:
        yield s
    finally:
        s.close()


# ---------------------------------------------------------- bodies as raw text
@dataclass
class Body:
    """A JSON value with placeholders for what json.dumps cannot write.

    ``raw``: a string value ``"@@RAWn@@"`` stands for the raw token ``raw[n]``
    (a huge integer, NaN, a nesting thousands deep); ``keys``: a key
    ``"@@DUPn@@"`` is written as the key ``keys[n]`` (a duplicate key);
    ``chars``: ``@@CTLn@@`` inside a string is the raw character ``chars[n]``.
    """

    value: Any
    raw: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    chars: list[str] = field(default_factory=list)
    prefix: bytes = b""
    suffix: bytes = b""

    def encode(self) -> bytes:
        text = json.dumps(self.value)  # ensure_ascii: a lone surrogate becomes \ud800
        for i, token in enumerate(self.raw):
            text = text.replace(f'"@@RAW{i}@@"', token)
        for i, key in enumerate(self.keys):
            text = text.replace(f'"@@DUP{i}@@"', json.dumps(key))
        for i, ch in enumerate(self.chars):
            text = text.replace(f"@@CTL{i}@@", ch)
        return self.prefix + text.encode("utf-8", "surrogatepass") + self.suffix

    def markers(self) -> set[str]:
        """Every marker string the body sends as a value, but those it also sends in an
        identifier field (iteratively: no recursion)."""
        said: set[str] = set()
        names: set[str] = set()
        stack: list[tuple[Any, Any]] = [(None, self.value)]
        while stack:
            key, v = stack.pop()
            if isinstance(v, str) and v.startswith(MARK):
                (names if key in IDENTIFIERS else said).add(v.split("@@")[0])
            elif isinstance(v, dict):
                stack.extend((self.key(k), item) for k, item in v.items())
                # A key that is no field name may be a caller's words too.
                said.update(k for k in v if k.startswith(MARK) and key_name(k) != k)
            elif isinstance(v, list):
                stack.extend((key, item) for item in v)
        return said - names

    def key(self, key: str) -> str:
        """The key as sent (a duplicate's placeholder stands for the key it repeats)."""
        if key.startswith("@@DUP") and key.endswith("@@"):
            return self.keys[int(key[5:-2])]
        return key


def slots(value: Any) -> list[tuple[Any, Any]]:
    """(container, key or index) of every value inside ``value``, breadth first."""
    out: list[tuple[Any, Any]] = []
    todo = [value]
    while todo:
        v = todo.pop(0)
        if isinstance(v, dict):
            for k in v:
                out.append((v, k))
                todo.append(v[k])
        elif isinstance(v, list):
            for i in range(len(v)):
                out.append((v, i))
                todo.append(v[i])
    return out


ids = st.integers(min_value=0, max_value=5)
SERIAL = itertools.count()
marker = st.builds(lambda n: f"{MARK}-s-{n:05d}", st.integers(0, 99_999))


def contact(n: int) -> str:
    return f"{MARK}-c-{n}"


def agent(n: int) -> str:
    return f"{MARK}-a-{n}"


@st.composite
def valid_event(draw: st.DrawFn, service: Service, types: list[str]) -> dict[str, Any]:
    """A valid wire event of one of ``types``, sent by a source its role may use."""
    kind = draw(st.sampled_from(types))
    role = sorted(EVENT_ROLES[kind])[0]
    # An agent token's name is the agent's id (tests.http_helpers: kss-1).
    source = {"adapter": "carrier", "agent": "kss-1"}.get(role, "supervisor")
    c, a = contact(draw(ids)), agent(draw(ids))
    channel = draw(st.sampled_from(["phone", "chat"]))
    own: dict[str, Any] = {
        "contact.arrived": {"contact_id": c, "channel": channel, "queue": channel},
        "contact.answered": {"contact_id": c, "agent_id": a},
        "contact.abandoned": {"contact_id": c},
        "contact.ended": {"contact_id": c},
        "offer.declined": {"contact_id": c, "agent_id": a},
        "agent.logged_in": {"agent_id": a, "team": "kss", "channels": [channel]},
        "agent.logged_out": {"agent_id": a, "channels": [channel]},
        "agent.ready": {"agent_id": a, "channels": [channel]},
        "agent.away": {"agent_id": a, "reason": "break"},
        "chat.feedback": {"contact_id": c, "rating": draw(st.integers(1, 10)),
                          "comment": f"{MARK}-comment-{draw(st.integers(0, 999))}"},
        "contact.flagged": {"contact_id": c, "flag": "duty_to_avert", "category": "risk_to_life"},
        "team.absent": {"team": "kss", "from": "2021-11-16T08:00:00+01:00",
                        "to": "2021-11-16T16:00:00+01:00"},
        "alert.acknowledged": {"alert_id": f"{MARK}-al-{draw(ids)}"},
        "escalation.step_ticked": {"escalation_id": f"{MARK}-esc-{draw(ids)}", "step": "assess"},
        "escalation.closed": {"escalation_id": f"{MARK}-esc-{draw(ids)}",
                              "reason": "not_triggered"},
        "legal_hold.acknowledged": {"contact_id": c},
        "contact.rang": {"contact_id": c, "agent_ids": [a]},
        "contact.ring_ended": {"contact_id": c, "agent_ids": [a]},
        "contact.moved": {"contact_id": c, "queue": channel},
        "contact.turned_away": {"contact_id": c, "reason": "diverted"},
        "agent.joined_queue": {"agent_id": a, "queue": channel},
        "agent.left_queue": {"agent_id": a, "queue": channel},
        "contact.registered": {"contact_id": c, "form": channel, "version": 1,
                               "answers": {"who": "exposed", "violence": ["sexual"]}},
    }[kind]  # fmt: skip
    eid = f"{MARK}-e-{next(SERIAL)}"  # fresh: an accepted mutation is a new event
    event = {"event_id": eid, "type": kind, "at": service.now(), "source": source, **own}
    # Every field of the wire model, optional ones too, so that each can be mutated.
    model = EventModels[kind].model_fields
    assert set(event) == {info.alias or name for name, info in model.items()}
    return event


@st.composite
def valid_webhook(draw: st.DrawFn, service: Service, vendor: str) -> dict[str, Any]:
    """A valid payload of either vendor, of any of its kinds, with every field set."""
    model, contact_key, agent_key = WEBHOOKS[vendor]
    payload = {
        "event": draw(st.sampled_from(typing.get_args(model.model_fields["event"].annotation))),
        "timestamp": service.now(),
        "delivery_id": f"{MARK}-d-{next(SERIAL)}",
        contact_key: contact(draw(ids)),
        agent_key: agent(draw(ids)),
        agent_key + "s": [agent(draw(ids))],  # the agents an observed ring names
        "queue": "phone" if vendor == "carrier" else "chat",
        "team": "kss",
        "pause_reason": "break",
        "rating": draw(st.integers(1, 10)),
        "comment": f"{MARK}-comment-{draw(st.integers(0, 999))}",
    }
    # The caller's identity, which the mapping drops.
    for name in model.model_fields:
        payload.setdefault(name, f"{MARK}-{name}")
    return {k: v for k, v in payload.items() if k in model.model_fields}


# A JSON value of each type, to swap in for a field's own.
SWAPS = st.one_of(
    marker,
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.lists(st.one_of(marker, st.integers(), st.none()), max_size=3),
    st.dictionaries(st.sampled_from(["a", "type", "x y"]), marker, max_size=2),
)
# Strings no valid field holds: surrogates, controls, non-characters, very long text.
BAD_TEXT = st.sampled_from(
    ["\ud800", "\udfff", "\ud83d", "\ude00x", "\x00", "\x01", "\x1f", "\x7f", "\x85",
     "\u2028", "\ufeff", "\ufffe", "\U0010ffff", "\u202e", "é", "\ud800\udc00"]
)  # fmt: skip
RAW_CONTROLS = st.sampled_from(["\x00", "\x01", "\n", "\t", "\x1b", "\x7f"])


def deep(n: int, kind: str) -> str:
    if kind == "array":
        return "[" * n + "]" * n
    if kind == "object":
        return '{"a":' * n + "1" + "}" * n
    return '[{"a":' * (n // 2) + "[]" + "}]" * (n // 2)


@st.composite
def mutated(draw: st.DrawFn, base: Any) -> Body:
    """``base`` (a valid body) with one to three mutations."""
    body = Body(json.loads(json.dumps(base)))
    for _ in range(draw(st.integers(1, 3))):
        places = slots(body.value)
        kind = draw(st.sampled_from(
            ["swap", "huge", "nan", "surrogate", "control", "deep", "unknown", "missing",
             "duplicate", "long", "deep_body", "bom", "bad_utf8", "top", "truncate"]
        ))  # fmt: skip
        if kind in {"deep_body", "bom", "bad_utf8", "top", "truncate"}:
            return mutate_whole(draw, body, kind)
        if not places:
            continue
        parent, key = draw(st.sampled_from(places))
        if kind == "swap":
            parent[key] = draw(SWAPS)
        elif kind == "huge":
            digits = draw(st.integers(21, 5000))
            sign = draw(st.sampled_from(["", "-"]))
            body.raw.append(sign + "9" * digits + draw(st.sampled_from(["", ".5", "e3"])))
            parent[key] = f"@@RAW{len(body.raw) - 1}@@"
        elif kind == "nan":
            body.raw.append(draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999"])))
            parent[key] = f"@@RAW{len(body.raw) - 1}@@"
        elif kind == "surrogate":
            text = draw(BAD_TEXT)
            parent[key] = f"{MARK}-u-{draw(st.integers(0, 999))}{text}"
        elif kind == "control":
            body.chars.append(draw(RAW_CONTROLS))
            parent[key] = f"{MARK}-r-{draw(st.integers(0, 999))}@@CTL{len(body.chars) - 1}@@"
        elif kind == "deep":
            n = draw(st.sampled_from([31, 32, 33, 100, 3000, 20_000]))
            body.raw.append(deep(n, draw(st.sampled_from(["array", "object", "mixed"]))))
            parent[key] = f"@@RAW{len(body.raw) - 1}@@"
        elif kind == "unknown" and isinstance(parent, dict):
            name = draw(st.sampled_from(["zz_extra", "by", "Type", "", f"{MARK} said so",
                                         "\ud800", "é", f"{MARK}.key"]))  # fmt: skip
            parent[name] = draw(SWAPS)
        elif kind == "missing" and isinstance(parent, dict):
            del parent[key]
        elif kind == "duplicate" and isinstance(parent, dict) and isinstance(key, str):
            body.keys.append(key)
            # The duplicate comes first: json takes the last value of a key.
            items = list(parent.items())
            parent.clear()
            parent[f"@@DUP{len(body.keys) - 1}@@"] = draw(SWAPS)
            parent.update(items)
        elif kind == "long":
            n = draw(st.sampled_from([81, 2001, 10_000, 70_000]))
            parent[key] = f"{MARK}-l-" + "x" * n
    return body


def mutate_whole(draw: st.DrawFn, body: Body, kind: str) -> Body:
    if kind == "deep_body":
        n = draw(st.sampled_from([33, 5000, 60_000]))
        return Body("@@RAW0@@", raw=[deep(n, draw(st.sampled_from(["array", "object"])))])
    if kind == "bom":
        body.prefix = b"\xef\xbb\xbf"
    elif kind == "bad_utf8":
        body.suffix = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80"]))
    elif kind == "truncate":
        body.suffix = b"{"
    else:
        return Body(draw(st.one_of(SWAPS, st.just([]), st.just({}), st.just({"events": []}))))
    return body


# ------------------------------------------------------------------- properties
def check(service: Service, path: str, body: Body, headers: dict[str, str]) -> int:
    """Post ``body``; check every property; return the status."""
    before_files, before_state = service.files(), service.state()
    status, content_type, raw = service.post(path, body.encode(), headers)
    assert status < 500, (status, raw[:300])
    event(f"{status} {json.loads(raw)['type'] if status >= 300 else 'ok'}")
    if not 200 <= status < 300:
        assert content_type == PROBLEM_JSON, (status, content_type, raw[:300])
        problem = json.loads(raw)
        assert problem["status"] == status
        assert problem["title"] == TITLES[status]
        code = problem["type"].removeprefix("urn:linje:problem:")
        assert problem["type"] == f"urn:linje:problem:{code}" and code
        assert isinstance(problem["detail"], str) and problem["detail"]
        if code in FIELD_PROBLEMS and isinstance(body.value, dict) and body.value:
            assert isinstance(problem.get("field"), str) and problem["field"], problem
        said = [problem["detail"], problem.get("field") or ""]
        said += [f"{e.get('field')} {e.get('reason')}" for e in problem.get("errors", [])]
        for m in body.markers():
            assert all(m not in s for s in said), (m, problem)
        assert service.files() == before_files, problem
        assert service.state() == before_state, problem
        return status
    assert content_type == "application/json"
    results = json.loads(raw)["results"]
    accepted = {r["log_seq"]: r["event_id"] for r in results if r["status"] == "accepted"}
    assert all(r["status"] in ("accepted", "duplicate", "rejected") for r in results)
    if accepted:
        logged = {e.seq: e.event.event_id for e in read_entries(service.log_dir, min(accepted))
                  if e.event is not None}  # fmt: skip
        assert {s: logged.get(s) for s in accepted} == accepted
    return status


FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))  # fmt: skip
PREFIXES = st.sampled_from(["/v1", f"/v1/helplines/{HELPLINE}"])


def test_every_event_type_mutated_is_refused_with_a_problem_or_made_durable(
    service: Service,
) -> None:
    statuses: set[int] = set()

    @FUZZ
    @given(st.data())
    def fuzz(data: st.DataObject) -> None:
        event = data.draw(valid_event(service, sorted(EVENT_TYPES)))
        body = data.draw(mutated(event))
        token = {"carrier": "carrier", "kss-1": "agent"}.get(event["source"], "supervisor")
        statuses.add(check(service, data.draw(PREFIXES) + "/events", body, bearer(token)))

    fuzz()
    assert any(s >= 400 for s in statuses), statuses


def test_batches_mixing_good_and_bad_events_are_all_or_nothing(service: Service) -> None:
    adapter_types = sorted(t for t, roles in EVENT_ROLES.items() if "adapter" in roles)

    @FUZZ
    @given(st.data())
    def fuzz(data: st.DataObject) -> None:
        events = data.draw(st.lists(valid_event(service, adapter_types), min_size=1, max_size=6))
        bad = data.draw(st.integers(0, len(events) - 1))
        body = data.draw(mutated({"events": events}))
        if data.draw(st.booleans()):  # one bad event among good ones
            body = Body({"events": events})
            nested = data.draw(mutated(events[bad]))
            body.raw, body.keys, body.chars = nested.raw, nested.keys, nested.chars
            body.value["events"][bad] = nested.value
        check(service, data.draw(PREFIXES) + "/events", body, bearer("carrier"))

    fuzz()


@pytest.mark.parametrize(("vendor", "token"), [("carrier", "carrier"), ("chat", "chat")])
def test_every_webhook_payload_mutated_is_refused_with_a_problem_or_made_durable(
    service: Service, vendor: str, token: str
) -> None:

    @FUZZ
    @given(st.data())
    def fuzz(data: st.DataObject) -> None:
        base: Any = data.draw(valid_webhook(service, vendor))
        if data.draw(st.booleans()):
            base = [base, *data.draw(st.lists(valid_webhook(service, vendor), max_size=3))]
        body = data.draw(mutated(base))
        path = data.draw(PREFIXES) + f"/adapters/{vendor}"
        check(service, path, body, bearer(token))

    fuzz()


def test_acknowledging_any_alert_id_never_fails_the_service(service: Service) -> None:
    @FUZZ
    @given(
        st.one_of(
            st.builds(lambda n: f"{MARK}-al-{n}", st.integers(0, 10)),
            st.text(min_size=1, max_size=100).filter(lambda s: s not in (".", "..")),
            st.sampled_from(["%ED%A0%80", "%FF", "%00", "%C3", "a%2Fb"]),
        )
    )
    def fuzz(alert_id: str) -> None:
        quoted = (
            alert_id
            if "%" in alert_id
            else urllib.parse.quote(alert_id, safe="", errors="surrogatepass")
        )
        status = check(
            service, f"/v1/alerts/{quoted}/acknowledge", Body(None), bearer("supervisor")
        )
        assert status != 405

    fuzz()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"event_id": "e-1", "type": "mkr-secret words", "at": "2021-11-15T10:00:00+01:00",
          "source": "carrier"}, "type"),
        ({"event_id": "e-1", "at": "2021-11-15T10:00:00+01:00", "source": "carrier"}, "type"),
        ({"events": [{"event_id": "e-1", "type": "contact.abandoned", "contact_id": "c-1",
                      "at": "2021-11-15T10:00:00+01:00", "source": "carrier"},
                     {"type": ["mkr-secret words"]}]}, "events[1].type"),
    ],
)  # fmt: skip
async def test_an_unknown_event_type_names_the_field_type_and_never_echoes_it(
    aiohttp_client: Any, vo_config: HelplineConfig, tmp_path: Path, body: Any, field: str
) -> None:
    """Found by the fuzz: pydantic's message quoted the tag it found, and named no field."""
    from tests.service_client import last_seq, start

    client = await start(aiohttp_client, vo_config, tmp_path, ManualClock(MONDAY))
    before = last_seq(client)
    r = await client.post("/v1/events", json=body, headers=bearer("carrier"))
    assert (r.status, r.content_type) == (422, PROBLEM_JSON)
    problem = await r.json()
    last = body["events"][-1] if "events" in body else body
    reason = (
        "unknown event type; known: contact.*, offer.declined, agent.*, chat.feedback, "
        "team.absent, alert.acknowledged, escalation.*, legal_hold.acknowledged"
        if "type" in last
        else "missing"
    )
    assert {k: problem[k] for k in ("type", "status", "detail", "field", "errors")} == {
        "type": "urn:linje:problem:invalid-event",
        "status": 422,
        "detail": f"{field}: {reason}",
        "field": field,
        "errors": [{"field": field, "reason": reason}],
    }
    assert "mkr-secret" not in await r.text()
    assert last_seq(client) == before


@pytest.mark.parametrize(
    ("key", "field"),
    [("", "(field)"), ("mkr what the caller said", "(field)"), ("zz_extra", "zz_extra")],
)
@pytest.mark.parametrize("batch", [False, True])
async def test_an_unknown_key_is_named_only_when_it_looks_like_a_field_name(
    aiohttp_client: Any, vo_config: HelplineConfig, tmp_path: Path, key: str, field: str,
    *, batch: bool
) -> None:  # fmt: skip
    """Found by the fuzz: an unknown key "" gave a problem with no field, and any other
    key was quoted verbatim in the field and the detail (``bodies`` names such a key
    ``(field)``)."""
    from tests.service_client import last_seq, start

    client = await start(aiohttp_client, vo_config, tmp_path, ManualClock(MONDAY))
    before = last_seq(client)
    event = {"event_id": "e-1", "type": "contact.abandoned", "contact_id": "c-1",
             "at": "2021-11-15T10:00:00+01:00", "source": "carrier", key: 1}  # fmt: skip
    body: Any = {"events": [event]} if batch else event
    r = await client.post("/v1/events", json=body, headers=bearer("carrier"))
    assert (r.status, r.content_type) == (422, PROBLEM_JSON)
    problem = await r.json()
    where = f"events[0].{field}" if batch else field
    assert (problem["field"], problem["detail"], problem["errors"]) == (
        where,
        f"{where}: unknown field",
        [{"field": where, "reason": "unknown field"}],
    )
    assert "mkr" not in await r.text()
    assert last_seq(client) == before


async def test_an_odd_key_beside_the_events_of_a_batch_is_not_quoted(
    aiohttp_client: Any, vo_config: HelplineConfig, tmp_path: Path
) -> None:
    from tests.service_client import start

    client = await start(aiohttp_client, vo_config, tmp_path, ManualClock(MONDAY))
    body = {"events": [], "mkr the caller said": 1}
    r = await client.post("/v1/events", json=body, headers=bearer("carrier"))
    assert (r.status, r.content_type) == (422, PROBLEM_JSON)
    problem = await r.json()
    assert [e["field"] for e in problem["errors"]] == ["events", "(field)"]
    assert "mkr" not in await r.text()
