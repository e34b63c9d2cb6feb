"""Fuzzing the API with schemathesis, from the served ``/v1/openapi.json``.

``linje serve`` runs as its own process on loopback; for every operation of
the document schemathesis generates valid requests (positive) and requests
that break the schema (negative), a bounded number of each, derandomized so
that every run is the same. Each response must:

* not be a server error (5xx),
* conform to the document: a documented status, content type and schema,
* reject schema-breaking input with a 4xx (``negative_data_rejection``),
* carry an RFC 9457 problem body whenever it is an error.

Requests carry the token of a role allowed on the operation (from the
``Roles:`` line of its description), so the fuzzing reaches the handlers. The
supervisors' live stream never ends and is left to ``test_limits`` and
``test_role_matrix``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

schemathesis = pytest.importorskip("schemathesis")

from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from adapters.http.openapi import build_openapi  # noqa: E402
from tests.http_helpers import TOKENS  # noqa: E402
from tests.serve_process import Server, write_auth  # noqa: E402

EXAMPLES = 25
# Open without a token when the service binds to loopback, as this one does (documented).
OPEN_ON_LOOPBACK = {"/metrics"}
# Operations whose every input is valid (no parameters, or free strings): nothing to break.
NO_INVALID_INPUT = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/v1/openapi.json"),
                    ("GET", "/metrics"), ("GET", "/"), ("GET", "/ui/{file}"), ("GET", "/agent"),
                    ("GET", "/v1/agent/contacts"), ("GET", "/v1/agent/forms")}  # fmt: skip
SKIP = {"/v1/state/stream", "/v1/helplines/{helpline}/state/stream"}
ROLE_TOKEN = {"adapter": "carrier", "supervisor": "supervisor", "planner": "planner",
              "agent": "agent"}  # fmt: skip
OPERATIONS = [
    (method.upper(), path)
    for path, item in build_openapi()["paths"].items()
    for method in item
    if path not in SKIP
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    server = Server(tmp / "data", write_auth(tmp / "auth.toml"), "--adapter-rate", "0",
                    "--log-level", "warning")  # fmt: skip
    try:
        server.wait_ready()
        schema = schemathesis.openapi.from_url(f"{server.base}/v1/openapi.json")
        yield server.base, schema
    finally:
        assert server.stop() in (0, -15), "the server did not stop cleanly"


def headers_for(operation: Any) -> dict[str, str]:
    description = operation.definition.raw.get("description", "")
    roles = description.removeprefix("Roles: ").rstrip(".").split(", ")
    role = next((r for r in roles if r in ROLE_TOKEN), None)
    return {"Authorization": f"Bearer {TOKENS[ROLE_TOKEN[role]]}"} if role else {}


def check_problem(response: Any) -> None:
    if response.status_code < 400:
        return
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.startswith("application/problem+json"), (
        response.status_code,
        response.text[:200],
    )
    body = json.loads(response.text)
    assert body["status"] == response.status_code
    assert body["type"].startswith("urn:linje:problem:") and body["detail"]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_fuzzed_requests_get_documented_answers_and_never_a_server_error(
    served: tuple[str, Any], method: str, path: str, mode: Any
) -> None:
    base, schema = served
    operation = schema[path][method]
    headers = headers_for(operation)
    checks = [not_a_server_error, status_code_conformance, content_type_conformance,
              response_schema_conformance]  # fmt: skip
    if mode == GenerationMode.NEGATIVE:
        checks.append(negative_data_rejection)
    calls = reached = 0
    # Valid requests address the helpline that exists; invalid ones may name any.
    fixed = (
        {"helpline": "vo_linjen"}
        if "{helpline}" in path and mode == GenerationMode.POSITIVE
        else None
    )

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed))
    def fuzz(case: Any) -> None:
        nonlocal calls, reached
        # A valid token, so that the request reaches the handler: unless a negative case
        # dropped the credentials on purpose (it then expects a 401).
        given_headers = case.headers or {}
        dropped = not ({"Authorization", "Linje-Signature"} & set(given_headers))
        sent = {} if mode == GenerationMode.NEGATIVE and dropped else headers
        response = case.call(base_url=base, headers=sent, timeout=15)
        calls += 1
        reached += response.status_code != 401
        used = checks
        if not sent and path in OPEN_ON_LOOPBACK:
            used = [c for c in checks if c is not negative_data_rejection]
        case.validate_response(response, checks=used, headers=sent)
        check_problem(response)

    try:
        fuzz()
    except Unsatisfiable:
        assert mode == GenerationMode.NEGATIVE and (method, path) in NO_INVALID_INPUT
        return
    assert calls > 0
    assert reached > 0 or mode == GenerationMode.NEGATIVE, "no request got past authentication"


@pytest.mark.parametrize(
    ("path", "who"),
    [("/v1/stats?group-by=channel", "planner"), ("/v1/commands?cusor=3", "carrier")],
)
async def test_an_unknown_query_parameter_is_refused_not_ignored(
    aiohttp_client: Any, vo_config: Any, tmp_path: Path, path: str, who: str
) -> None:
    """Found by the fuzzer: a misspelt parameter used to mean "no parameter"."""
    from tests.http_helpers import ManualClock, bearer
    from tests.service_client import start

    client = await start(aiohttp_client, vo_config, tmp_path, ManualClock("2021-11-15 10:00"))
    r = await client.get(path, headers=bearer(who))
    assert (r.status, r.content_type) == (400, "application/problem+json")
    problem = await r.json()
    assert (problem["type"], problem["field"]) == (
        "urn:linje:problem:bad-parameter",
        path.split("?")[1].split("=", maxsplit=1)[0],
    )


STATEFUL_EXAMPLES = max(25, int(os.environ.get("LINJE_FUZZ_EXAMPLES", "0")) // 10)
ACK = "/v1/alerts/{alert_id}/acknowledge"
# Operations the stateful runs chain through the document's links. Schemathesis starts
# only from the operations likely to succeed on random input (the reads, when they are
# there), so the writes are a run of their own.
LINKED = {"reads": ("/v1/state", "/v1/commands", ACK), "writes": ("/v1/events", ACK)}


@pytest.mark.parametrize("run", sorted(LINKED))
def test_linked_operations_chained_by_a_state_machine_never_fail(
    vo_config: Any, tmp_path: Path, run: str
) -> None:
    """Schemathesis follows the OpenAPI links (an alert in the state, a command or an
    ingest answer is acknowledged, then again; a command's seq is the next poll's
    cursor; a body is posted again), on the service in-process with a clock that
    stands still: no 5xx, every answer as documented, every error a problem, and a
    refused request leaves the data directory byte-identical and the live state as it was."""
    from tests.test_fuzz_properties import Service

    doc = build_openapi()
    assert {
        name for path in {p for paths in LINKED.values() for p in paths}
        for op in doc["paths"][path].values() for name in op["responses"]["200"].get("links", {})
    } == {"AcknowledgeAlert", "AcknowledgeAgain", "PollAfter", "Redeliver"}  # fmt: skip
    service = Service(vo_config, tmp_path / "data")
    linked = schemathesis.openapi.from_dict(doc).include(path=list(LINKED[run]))
    calls: list[tuple[str, int]] = []
    before: list[Any] = []

    class Machine(linked.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": service.base, "headers": headers_for(case.operation),
                    "timeout": 15}  # fmt: skip

        def before_call(self, case: Any) -> None:
            before[:] = [service.files(), service.state()]

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            calls.append((case.operation.label, response.status_code))
            case.validate_response(
                response,
                checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                        response_schema_conformance],
                headers=headers_for(case.operation),
            )  # fmt: skip
            check_problem(response)
            if response.status_code >= 400:
                service.settle()
                assert [service.files(), service.state()] == before, response.text[:300]

    try:
        Machine.run(
            settings=settings(
                max_examples=STATEFUL_EXAMPLES,
                stateful_step_count=6,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
        )
    finally:
        service.close()
    assert max(status for _, status in calls) < 500
    reached = {label for label, _ in calls}
    assert reached == {f"{'POST' if p in (ACK, '/v1/events') else 'GET'} {p}" for p in LINKED[run]}
