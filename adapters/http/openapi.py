"""The OpenAPI 3.1 document, generated from the same pydantic models that validate requests."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from adapters.http.agent import AgentRegistration
from adapters.http.auth import ROOT_ROLES, V1_ROLES, Role
from adapters.http.escalations import CloseEscalation
from adapters.http.schemas import CommandOut, CommandsResponse, StateResponse, StatsResponse
from adapters.http.vendors import CarrierEvent, ChatVendorEvent
from adapters.http.wire import EventBatch, EventIn, EventModels

__all__ = ["build_openapi"]

REF = "#/components/schemas/{model}"
# Query parameters the service parses itself: a date or an ISO 8601 time, and group keys.
DAY = r"^(\d{4}-\d{2}-\d{2}([T ][0-9:.]+([+-]\d{2}:?\d{2}|Z)?)?)?$"
_KEY = "(month|day|hour|weekday|channel|queue|team)"
GROUP_BY = f"^({_KEY}(,{_KEY})*)?$"


class ProblemDetails(BaseModel):
    """RFC 9457 problem details; ``field`` names the offending field when there is one."""

    model_config = ConfigDict(extra="allow")
    type: str = Field(examples=["urn:linje:problem:invalid-event"])
    title: str
    status: int
    detail: str
    field: str | None = None
    instance: str | None = None


class EventResult(BaseModel):
    event_id: str
    status: str = Field(examples=["accepted", "duplicate", "rejected"])
    commands: list[CommandOut]
    log_seq: int | None = None
    problem: ProblemDetails | None = None


class IngestResponse(BaseModel):
    """Per event: accepted (durable in the log) or duplicate, and the commands it caused."""

    results: list[EventResult]


def _schemas() -> dict[str, Any]:
    out: dict[str, Any] = {}
    models: list[type[BaseModel]] = [
        *EventModels.values(),
        EventBatch,
        CarrierEvent,
        ChatVendorEvent,
        ProblemDetails,
        EventResult,
        IngestResponse,
        CommandsResponse,
        StateResponse,
        StatsResponse,
        CloseEscalation,
        AgentRegistration,
    ]
    for model in models:
        schema = model.model_json_schema(ref_template=REF)
        for name, sub in schema.pop("$defs", {}).items():
            out.setdefault(name, sub)
        out[model.__name__] = schema
    event_in = TypeAdapter(EventIn).json_schema(ref_template=REF)
    event_in.pop("$defs", None)
    out["EventIn"] = event_in
    return out


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/problem+json": {"schema": {"$ref": REF.format(model="ProblemDetails")}}
        },
    }


ERRORS = {
    "400": _problem("Malformed JSON or bad parameter"),
    "401": _problem("Missing or unknown credentials"),
    "403": _problem("Role not allowed, or an adapter posting another source's events"),
    "404": _problem("Unknown helpline"),
    "409": _problem("The event conflicts with the current state (nothing was changed)"),
    "410": _problem("Redis store: the cursor is older than the commands this node holds"),
    "413": _problem("Body over 64 KiB or batch over 500 events"),
    "422": _problem("Invalid event: names the field and the reason"),
    "429": _problem("The adapter is over its rate limit; retry after Retry-After seconds"),
    "503": _problem(
        "Recovering from the log, the log failed, or the Redis store is unreachable "
        "(nothing was acknowledged; retrying the same event is safe)"
    ),
}


def _op(
    summary: str,
    *,
    roles: tuple[Role, ...],
    body: str | None = None,
    ok: dict[str, Any],
    params: list[dict[str, Any]] | None = None,
    codes: tuple[str, ...] = (),
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "description": f"Roles: {', '.join(roles) if roles else 'none (public)'}.",
        # Machine-readable, from the table the handlers enforce (adapters/http/auth.py).
        "x-roles": list(roles),
        "responses": {"200": ok, **{c: ERRORS[c] for c in codes}},
    }
    if roles:
        op["security"] = [{"bearer": []}] + ([{"signature": []}] if "adapter" in roles else [])
    if body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": REF.format(model=body)}}},
        }
    if params:
        op["parameters"] = params
    return op


def _json_ok(description: str, model: str | None = None) -> dict[str, Any]:
    schema = {"$ref": REF.format(model=model)} if model else {"type": "object"}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ACK = "#/paths/~1v1~1alerts~1{alert_id}~1acknowledge/post"
COMMANDS = "#/paths/~1v1~1commands/get"


def _add_links(ops: dict[str, dict[str, Any]]) -> None:
    """OpenAPI links: where one answer's ids feed the next request (for stateful clients
    and fuzzers): an alert in the state, a command or an ingest answer is acknowledged;
    a command's ``seq`` is the cursor to poll from; a body posted again is a duplicate."""

    def link(ref: str, description: str, **parameters: str) -> dict[str, Any]:
        return {"operationRef": ref, "description": description, "parameters": parameters}

    redeliver = {
        "operationRef": "#/paths/~1v1~1events/post",
        "requestBody": "$request.body",
        "description": "Posting the same body again is a duplicate, not a new event",
    }

    ack = "Acknowledge the alert"
    poll = "Poll the commands after this one"
    links = {
        ("/state", "get"): {
            "AcknowledgeAlert": link(ACK, ack, alert_id="$response.body#/alerts/0/alert_id")
        },
        ("/alerts/{alert_id}/acknowledge", "post"): {
            "AcknowledgeAgain": link(ACK, "Acknowledging twice changes nothing",
                                     alert_id="$request.path.alert_id"),
        },
        ("/commands", "get"): {
            "AcknowledgeAlert": link(ACK, ack, alert_id="$response.body#/commands/0/alert_id"),
            "PollAfter": link(COMMANDS, poll, cursor="$response.body#/commands/0/seq"),
        },
        ("/events", "post"): {
            "AcknowledgeAlert": link(
                ACK, ack, alert_id="$response.body#/results/0/commands/0/alert_id"
            ),
            "PollAfter": link(COMMANDS, poll, cursor="$response.body#/results/0/commands/0/seq"),
            "Redeliver": redeliver,
        },
    }  # fmt: skip
    for (suffix, method), found in links.items():
        ops[suffix][method]["responses"]["200"]["links"] = found


def _escalation_ops(write: tuple[str, ...], read: tuple[str, ...]) -> dict[str, Any]:
    """Supervisors' escalation routes (adapters/http/escalations.py)."""

    def path(name: str) -> dict[str, Any]:
        return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}

    day = {"type": "string", "pattern": DAY}
    return {
        "/escalations/{escalation_id}/steps/{step}": {
            "post": _op(
                "Tick a step of an escalation's checklist (escalation.step_ticked; by is the "
                "token's name). A first tick also acknowledges; the last required one closes",
                roles=V1_ROLES[("POST", "/escalations/{escalation_id}/steps/{step}")],
                ok=_json_ok("Durable", "IngestResponse"),
                params=[path("escalation_id"), path("step")],
                codes=("409", "422", *read),
            )
        },
        "/escalations/{escalation_id}/close": {
            "post": _op(
                "Close an escalation with a configured reason code (escalation.closed)",
                roles=V1_ROLES[("POST", "/escalations/{escalation_id}/close")],
                body="CloseEscalation",
                ok=_json_ok("Durable", "IngestResponse"),
                params=[path("escalation_id")],
                codes=write,
            )
        },
        "/stats/escalations": {
            "get": _op(
                "Escalations per month and owning team: raised, acknowledged, escalated, "
                "legal holds, closed per reason, time to first acknowledgement",
                roles=V1_ROLES[("GET", "/stats/escalations")],
                ok=_json_ok("Groups of figures"),
                params=[
                    {"name": "from", "in": "query", "schema": day},
                    {"name": "to", "in": "query", "schema": day},
                ],
                codes=("400", *read),
            )
        },
    }


def _agent_ops(write: tuple[str, ...], read: tuple[str, ...]) -> dict[str, Any]:
    """Content registration (adapters/http/agent.py, docs/CONTENT.md)."""
    return {
        "/agent/contacts": {
            "get": _op(
                "The agent's own answered contacts without a registration, with their form",
                roles=V1_ROLES[("GET", "/agent/contacts")],
                ok=_json_ok("agent and contacts"),
                codes=("400", *read),
            )
        },
        "/agent/forms": {
            "get": _op(
                "The helpline's content registration forms, every version (nb and en)",
                roles=V1_ROLES[("GET", "/agent/forms")],
                ok=_json_ok("forms"),
                codes=("400", *read),
            )
        },
        "/agent/registrations": {
            "post": _op(
                "Register an answered contact (a contact.registered event; by is the token's)",
                roles=V1_ROLES[("POST", "/agent/registrations")],
                body="AgentRegistration",
                ok=_json_ok("Durable", "IngestResponse"),
                codes=write,
            )
        },
        "/stats/content": {
            "get": _op(
                "Content statistics per year and channel, small cells suppressed",
                roles=V1_ROLES[("GET", "/stats/content")],
                ok=_json_ok("k, by and one table per year and channel"),
                params=[
                    {
                        "name": "by",
                        "in": "query",
                        "schema": {
                            "type": "string",
                            "pattern": "^((month|team)(,(month|team))?)?$",
                        },
                        "description": "comma-separated: month, team",
                    }
                ],
                codes=("400", *read),
            )
        },
    }


def build_openapi() -> dict[str, Any]:
    """Every endpoint, its roles, request and response schemas, and its errors."""
    write = ("400", "401", "403", "404", "409", "413", "422", "429", "503")
    read = ("401", "403", "404", "503")
    helpline = {"name": "helpline", "in": "path", "required": True, "schema": {"type": "string"}}
    ops: dict[str, dict[str, Any]] = {
        "/events": {
            "post": _op(
                'Post one event, or {"events": [...]} (applied in order, one fsync). '
                "Each event type has its roles (403 otherwise): adapters post contact.*, "
                "offer.declined, chat.feedback, agent.* and legal_hold.acknowledged; supervisors "
                "post alert.acknowledged, team.absent, escalation.step_ticked and "
                "escalation.closed (their by is the token's name, never sent); adapters, agents "
                "and supervisors may post contact.flagged (it raises an escalation); agents post "
                "contact.registered (also on /v1/agent/registrations)",
                roles=V1_ROLES[("POST", "/events")],
                body="EventIn",
                ok=_json_ok("Durable", "IngestResponse"),
                codes=write,
            )
        },
        "/adapters/carrier": {
            "post": _op(
                "Carrier queue webhook (one payload or a list); caller identity fields are dropped",
                roles=V1_ROLES[("POST", "/adapters/carrier")],
                body="CarrierEvent",
                ok=_json_ok("Durable", "IngestResponse"),
                codes=write,
            )
        },
        "/adapters/chat": {
            "post": _op(
                "Chat vendor webhook (one payload or a list); visitor identity fields are dropped",
                roles=V1_ROLES[("POST", "/adapters/chat")],
                body="ChatVendorEvent",
                ok=_json_ok("Durable", "IngestResponse"),
                codes=write,
            )
        },
        "/commands": {
            "get": _op(
                "Command stream: WebSocket (upgrade) pushing a hello "
                '({"type": "hello", "helpline", "cursor", "channels"}), then the commands '
                "with seq > cursor, then live ones; plain GET returns them as JSON. Only "
                "the commands of the channels the adapter's token serves (docs/ROUTING.md); "
                "seq is the helpline-wide cursor, so one adapter's commands have gaps",
                roles=V1_ROLES[("GET", "/commands")],
                ok=_json_ok(
                    "The commands after the cursor of the channels this adapter serves",
                    "CommandsResponse",
                ),
                params=[
                    {
                        "name": "cursor",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 0, "maximum": 10**18 - 1},
                    }
                ],
                codes=("400", "410", *read),
            )
        },
        "/state": {
            "get": _op(
                "Live state (supervisor snapshot)",
                roles=V1_ROLES[("GET", "/state")],
                ok=_json_ok("Snapshot", "StateResponse"),
                codes=read,
            )
        },
        "/state/stream": {
            "get": _op(
                "Live state pushed on change (at most 10/s): Server-Sent Events, "
                "or WebSocket on upgrade",
                roles=V1_ROLES[("GET", "/state/stream")],
                ok={
                    "description": "Event stream",
                    "content": {"text/event-stream": {"schema": {"type": "string"}}},
                },
                codes=read,
            )
        },
        "/stats": {
            "get": _op(
                "Statistics folded from the log (docs/ARCHITECTURE.md 'Outcomes')",
                roles=V1_ROLES[("GET", "/stats")],
                ok=_json_ok("Groups of figures", "StatsResponse"),
                params=[
                    {"name": "from", "in": "query", "schema": {"type": "string", "pattern": DAY}},
                    {"name": "to", "in": "query", "schema": {"type": "string", "pattern": DAY}},
                    {
                        "name": "group_by",
                        "in": "query",
                        "schema": {"type": "string", "pattern": GROUP_BY},
                        "description": "comma-separated: "
                        "month, day, hour, weekday, channel, queue, team",
                    },
                ],
                codes=("400", *read),
            )
        },
        "/alerts/{alert_id}/acknowledge": {
            "post": _op(
                "Acknowledge an alert (an event in the log, with who acknowledged)",
                roles=V1_ROLES[("POST", "/alerts/{alert_id}/acknowledge")],
                ok=_json_ok("Durable", "IngestResponse"),
                params=[
                    {
                        "name": "alert_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                codes=("409", "422", *read),
            )
        },
        **_escalation_ops(write, read),
        **_agent_ops(write, read),
    }
    _add_links(ops)
    paths: dict[str, Any] = {}
    for suffix, item in ops.items():
        paths[f"/v1{suffix}"] = item
        with_helpline = {}
        for method, op in item.items():
            op2 = dict(op)
            op2["parameters"] = [helpline, *op.get("parameters", [])]
            with_helpline[method] = op2
        paths[f"/v1/helplines/{{helpline}}{suffix}"] = with_helpline
    paths["/healthz"] = {
        "get": _op("Liveness", roles=ROOT_ROLES[("GET", "/healthz")], ok=_json_ok("Alive"))
    }
    paths["/readyz"] = {
        "get": _op(
            "Readiness (after recovery)",
            roles=ROOT_ROLES[("GET", "/readyz")],
            ok=_json_ok("Ready"),
            codes=("503",),
        )
    }
    paths["/v1/openapi.json"] = {
        "get": _op(
            "This document",
            roles=ROOT_ROLES[("GET", "/v1/openapi.json")],
            ok=_json_ok("OpenAPI 3.1"),
        )
    }
    paths["/metrics"] = {
        "get": _op(
            "Prometheus metrics (OpenTelemetry): queues, agents, outcomes, decision and fsync "
            "latency, events ingested and rejected. No token when the service binds to "
            "loopback; otherwise a supervisor token",
            roles=ROOT_ROLES[("GET", "/metrics")],
            ok={
                "description": "Prometheus text exposition format 0.0.4",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
            codes=("401", "403"),
        )
    }
    page = {
        "description": "The dashboard",
        "content": {"text/html": {"schema": {"type": "string"}}},
    }
    paths["/"] = {
        "get": _op(
            "Supervisor dashboard (signs in with a supervisor token in the page)",
            roles=ROOT_ROLES[("GET", "/")],
            ok=page,
        )
    }
    paths["/ui/{file}"] = {
        "get": _op(
            "The dashboard's static files (HTML, CSS, JavaScript modules)",
            roles=ROOT_ROLES[("GET", "/ui/{file}")],
            ok={"description": "The file"},
            params=[{"name": "file", "in": "path", "required": True, "schema": {"type": "string"}}],
            codes=("404",),
        )
    }
    paths["/agent"] = {
        "get": _op(
            "Agent page: register what your answered contacts were about (an agent token)",
            roles=ROOT_ROLES[("GET", "/agent")],
            ok={**page, "description": "The agent page"},
        )
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Linje",
            "version": "0.1.0",
            "description": "Real-time contact-centre routing for helplines. Each operation's "
            "x-roles lists the roles whose token it accepts (empty: no token needed).",
        },
        "paths": paths,
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "signature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Linje-Signature",
                    "description": "t=<unix>,kid=<key id>,v1=<hex HMAC-SHA256 of 't.body'>",
                },
            },
        },
    }
