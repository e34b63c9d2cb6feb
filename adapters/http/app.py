"""The live service's aiohttp application: routes, auth, validation, lifecycle.

Handlers are thin: authenticate, validate the body into core events (pydantic
at the edge), hand them to the helpline's ``Engine`` and answer with what it
made durable. Every error is RFC 9457 problem JSON (``problems.py``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import gc
import json
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import BaseModel, TypeAdapter, ValidationError

from adapters.http.agent import add_agent_routes
from adapters.http.audience import stream_filter
from adapters.http.auth import ROOT_ROLES, V1_ROLES, Authenticator, Principal
from adapters.http.bodies import parse_json
from adapters.http.clock import Clock
from adapters.http.dashboard import add_dashboard_routes
from adapters.http.engine import Engine
from adapters.http.engine_api import HelplineEngine
from adapters.http.escalations import add_escalation_routes
from adapters.http.limits import Limiter, Limits
from adapters.http.openapi import build_openapi
from adapters.http.problems import Problem, problem_middleware, problem_response
from adapters.http.server import ProblemApplication
from adapters.http.streams import StateHub, command_stream, state_stream
from adapters.http.telemetry import Telemetry
from adapters.http.vendors import CarrierEvent, ChatVendorEvent, carrier_to_event, chat_to_event
from adapters.http.wire import (
    EVENT_ROLES,
    FROM_PRINCIPAL,
    MAX_BATCH,
    UNKNOWN_EVENT_TYPE,
    EventBatch,
    event_adapter,
    to_event,
)
from adapters.store.embedded import IngestResult, freeze_heap
from router.commands import command_to_dict
from router.config import HelplineConfig
from router.errors import ConfigError, LinjeError
from router.events import EVENT_TYPES, AlertAcknowledged, Event
from router.stats import GROUP_KEYS

__all__ = ["MAX_BODY", "MAX_FUTURE_S", "build_app"]

log = logging.getLogger("linje.http")
MAX_BODY = 64 * 1024
# A command cursor is a log position: 18 digits outlast any helpline.
MAX_CURSOR_DIGITS = 18
_CURSOR = re.compile(rf"[0-9]{{1,{MAX_CURSOR_DIGITS}}}")
# An event stamped further than this into the future has a broken clock (a
# helpline's own ``future_skew_s``, a second by default, is the bound applied).
MAX_FUTURE_S = 300.0

ENGINES = web.AppKey("engines", dict[str, HelplineEngine])
HUBS = web.AppKey("hubs", dict[str, StateHub])
DEFAULT = web.AppKey("default", str)
AUTH = web.AppKey("auth", Authenticator)
CLOCK = web.AppKey("clock", Clock)
OPENING = web.AppKey("opening", list[asyncio.Task[None]])
LIMITER = web.AppKey("limiter", Limiter)
TELEMETRY = web.AppKey("telemetry", Telemetry)
METRICS_OPEN = web.AppKey("metrics_open", bool)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_carrier_adapter: TypeAdapter[Any] = TypeAdapter(CarrierEvent | list[CarrierEvent])
_chat_adapter: TypeAdapter[Any] = TypeAdapter(ChatVendorEvent | list[ChatVendorEvent])


# --------------------------------------------------------------------- helpers
def _engine(request: web.Request) -> HelplineEngine:
    engines = request.app[ENGINES]
    name = request.match_info.get("helpline", request.app[DEFAULT])
    engine = engines.get(name)
    if engine is None:
        raise Problem(404, "unknown-helpline", f"no helpline {name!r} on this service")
    return engine


def _principal(request: web.Request, roles: Sequence[str], body: bytes | None = None) -> Principal:
    auth = request.app[AUTH]
    principal = auth.bearer(request.headers.get("Authorization"))
    reason = "missing or unknown bearer token"
    if principal is None and body is not None and "Linje-Signature" in request.headers:
        principal, reason = auth.signature(request.headers.get("Linje-Signature"), body)
    if principal is None:
        raise Problem(401, "unauthorized", reason, headers={"WWW-Authenticate": "Bearer"})
    if principal.role not in roles:
        raise Problem(
            403, "forbidden", f"role {principal.role} may not use {request.method} {request.path}"
        )
    return principal


async def _body(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY, actual_size=request.content_length)
    return await request.read()


def _json(body: bytes) -> Any:
    # Strict: UTF-8, bounded depth and integers, only encodable strings (bodies.py).
    return parse_json(body)


def _field_path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in EVENT_TYPES or part.startswith(
            ("function-", "list[", "CarrierEvent", "ChatVendorEvent")
        ):
            continue  # a discriminator tag or union branch, not a field
        else:
            out += f".{part}" if out else part
    return out


def _reason(error: Any) -> tuple[str | None, str]:
    """(field, reason) of one pydantic error, never quoting the input (pydantic's
    message for an unknown discriminator tag does: the event ``type`` is named instead)."""
    field = _field_path(error["loc"]) or None
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        tag = str(error.get("ctx", {}).get("discriminator", "type")).strip("'")
        field = f"{field}.{tag}" if field else tag
        if error["type"] == "union_tag_not_found":
            return field, "missing"
        return field, UNKNOWN_EVENT_TYPE
    if error["type"] == "extra_forbidden":
        return field, "unknown field"
    return field, str(error["msg"])


def _invalid(exc: ValidationError) -> Problem:
    """422 naming the first bad field; input values are never echoed (caller data)."""
    errors = exc.errors(include_input=False, include_url=False)
    field, msg = _reason(errors[0])
    problems = [dict(zip(("field", "reason"), _reason(e), strict=True)) for e in errors[:20]]
    return Problem(422, "invalid-event", f"{field or 'body'}: {msg}", field=field, errors=problems)


def _validate(adapter: TypeAdapter[Any] | type[BaseModel], data: Any) -> Any:
    try:
        if isinstance(adapter, TypeAdapter):
            return adapter.validate_python(data)
        return adapter.model_validate(data)
    except ValidationError as exc:
        raise _invalid(exc) from None


def _check_events(request: web.Request, events: list[Event], principal: Principal) -> None:
    # The service's clock drives time: an adapter's ``at`` is a fact about when
    # something happened, allowed only a small skew ahead, so one adapter's fast
    # clock can never move the helpline's time (and refuse everyone else's events).
    skew = min(MAX_FUTURE_S, _engine(request).config.future_skew_s)
    horizon = request.app[CLOCK].latest_accepted(skew)
    for i, ev in enumerate(events):
        if ev.source != principal.name:
            raise Problem(
                403,
                "wrong-source",
                f"events[{i}].source is {ev.source!r}; adapter {principal.name!r} may only post "
                f"its own events",
                field="source",
            )
        if ev.at > horizon:
            raise Problem(
                422,
                "time-in-future",
                f"events[{i}].at is more than {skew:g} s ahead of the service's clock; "
                "check the adapter's clock",
                field="at",
            )
    # Last: a request refused for what it holds costs the adapter no tokens.
    request.app[LIMITER].charge(principal.name, len(events))


def _result(r: IngestResult) -> dict[str, Any]:
    out: dict[str, Any] = {
        "event_id": r.event_id,
        "status": r.status,
        "commands": [command_to_dict(c) for c in r.commands],
    }
    if r.seq is not None:
        out["log_seq"] = r.seq
    if r.error is not None:
        err = r.error
        out["problem"] = {
            "type": f"urn:linje:problem:{err.code}",
            "status": err.status,
            "detail": err.detail,
            "field": err.field,
        }
    return out


async def _ingest(request: web.Request, events: list[Event], single: bool) -> web.Response:
    engine = _engine(request)
    if not events:
        return web.json_response({"results": []})
    results = await engine.submit(events)
    if single and results[0].status == "rejected":
        err = results[0].error
        assert err is not None
        return problem_response(
            err.status, err.code, err.detail, field=err.field, instance=request.path
        )
    return web.json_response({"results": [_result(r) for r in results]})


# -------------------------------------------------------------------- handlers
def _check_roles(raw: list[Any], principal: Principal, single: bool) -> None:
    """403 for an event type the principal's role may not send (``EVENT_ROLES``), 422 for
    a field the service sets from the principal (``FROM_PRINCIPAL``); before validation."""
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if not isinstance(kind, str) or kind not in EVENT_ROLES:
            continue  # validation names it
        at = "" if single else f"events[{i}]."
        allowed = EVENT_ROLES[kind]
        if principal.role not in allowed:
            raise Problem(
                403,
                "forbidden-event-type",
                f"{at}type: role {principal.role} may not post {kind} events "
                f"(allowed: {', '.join(sorted(allowed))})",
                field=f"{at}type",
            )
        for name in FROM_PRINCIPAL.get(kind, ()):
            if name in item:
                raise Problem(
                    422,
                    "invalid-event",
                    f"{at}{name}: set by the service from your token; leave it out",
                    field=f"{at}{name}",
                )


async def post_events(request: web.Request) -> web.Response:
    body = await _body(request)
    principal = _principal(request, V1_ROLES[("POST", "/events")], body)
    data = _json(body)
    single = not (isinstance(data, dict) and "events" in data)
    if single:
        _check_roles([data], principal, single)
        models = [_validate(event_adapter, data)]
    else:
        if isinstance(data.get("events"), list) and len(data["events"]) > MAX_BATCH:
            raise Problem(
                413, "batch-too-large", f"a batch holds at most {MAX_BATCH} events", field="events"
            )
        if isinstance(data.get("events"), list):
            _check_roles(data["events"], principal, single)
        models = _validate(EventBatch, data).events
    try:
        events = [to_event(m, principal.name) for m in models]
    except LinjeError as err:
        raise Problem(err.status, err.code, err.detail, field=err.field) from None
    _check_events(request, events, principal)
    return await _ingest(request, events, single)


def _vendor(
    route: str, adapter: TypeAdapter[Any], convert: Callable[[Any, str], Event | None]
) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        body = await _body(request)
        principal = _principal(request, V1_ROLES[("POST", route)], body)
        parsed = _validate(adapter, _json(body))
        payloads = parsed if isinstance(parsed, list) else [parsed]
        if len(payloads) > MAX_BATCH:
            raise Problem(413, "batch-too-large", f"a batch holds at most {MAX_BATCH} payloads")
        events = []
        for p in payloads:
            ev = convert(p, principal.name)
            if ev is not None:
                events.append(ev)
        _check_events(request, events, principal)
        return await _ingest(request, events, single=not isinstance(parsed, list))

    return handler


async def get_commands(request: web.Request) -> web.StreamResponse:
    principal = _principal(request, V1_ROLES[("GET", "/commands")])
    _known_params(request, ("cursor",))
    engine = _engine(request)
    raw = request.query.get("cursor")
    cursor: int | None = None
    if raw is not None:
        # ASCII digits, bounded: "²".isdigit() is True, and int() of 5,000 digits raises.
        if _CURSOR.fullmatch(raw) is None:
            raise Problem(
                400,
                "bad-parameter",
                f"cursor must be a non-negative integer of at most {MAX_CURSOR_DIGITS} digits",
                field="cursor",
            )
        cursor = int(raw)
    if not engine.ready:
        engine.commands_since(0)  # raises NotReady with the reason
    # Only the commands of the channels this adapter serves (adapters/http/audience.py).
    keep = stream_filter(principal.channels, engine.command_channel)
    if request.headers.get("Upgrade", "").lower() != "websocket":
        # Plain GET: the logged commands after the cursor, for polling adapters.
        commands = [c for c in engine.commands_since(cursor or 0) if keep(c)]
        return web.json_response({"commands": commands})
    channels = sorted(principal.channels) if principal.channels is not None else None
    with request.app[LIMITER].command_stream(principal.name):
        return await command_stream(request, engine, cursor, keep, channels)


async def get_state(request: web.Request) -> web.Response:
    _principal(request, V1_ROLES[("GET", "/state")])
    return web.json_response(_engine(request).snapshot())


async def get_state_stream(request: web.Request) -> web.StreamResponse:
    _principal(request, V1_ROLES[("GET", "/state/stream")])
    engine = _engine(request)
    if not engine.ready:
        engine.snapshot()  # raises NotReady
    return await state_stream(request, request.app[HUBS][engine.id])


def _known_params(request: web.Request, known: tuple[str, ...]) -> None:
    # As with unknown event fields: a misspelt parameter must not silently mean "none".
    for name in request.query:
        if name not in known:
            raise Problem(
                400, "bad-parameter", f"unknown query parameter {name!r}", field=name or None
            )


def _time_param(request: web.Request, name: str, tz: dt.tzinfo) -> float | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        if len(raw) == 10:
            day = dt.date.fromisoformat(raw)
            return dt.datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()
        when = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise Problem(
            400, "bad-parameter", f"{name} must be YYYY-MM-DD or an ISO 8601 time", field=name
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz)
    return when.timestamp()


async def get_stats(request: web.Request) -> web.Response:
    _principal(request, V1_ROLES[("GET", "/stats")])
    _known_params(request, ("from", "to", "group_by"))
    engine = _engine(request)
    tz = ZoneInfo(engine.config.timezone)
    start, end = _time_param(request, "from", tz), _time_param(request, "to", tz)
    if start is not None and end is not None and end <= start:
        raise Problem(400, "bad-parameter", "to must be later than from", field="to")
    group_by = tuple(g for g in request.query.get("group_by", "").split(",") if g)
    bad = [g for g in group_by if g not in GROUP_KEYS]
    if bad or len(set(group_by)) != len(group_by):
        raise Problem(
            400,
            "bad-parameter",
            f"group_by takes distinct keys among {', '.join(GROUP_KEYS)}",
            field="group_by",
        )
    return web.json_response(engine.stats(group_by=group_by, start=start, end=end))


async def _submit(
    request: web.Request, principal: Principal, build: Callable[[str, float], Event]
) -> web.Response:
    """Ingest the one event a signed-in principal's route builds from the token's name
    (its ``by`` and ``source``) and the service's clock (its ``at``)."""
    event = build(principal.name, request.app[CLOCK].now())
    _check_events(request, [event], principal)
    return await _ingest(request, [event], single=True)


async def post_ack(request: web.Request) -> web.Response:
    principal = _principal(request, V1_ROLES[("POST", "/alerts/{alert_id}/acknowledge")])
    alert_id = request.match_info["alert_id"]
    event = AlertAcknowledged(
        event_id=f"ack-{alert_id}-{principal.name}"[:80],
        at=request.app[CLOCK].now(),
        source="supervisor",
        alert_id=alert_id,
        by=principal.name,
    )
    return await _ingest(request, [event], single=True)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    engines = request.app[ENGINES]
    waiting = [e.id for e in engines.values() if not e.ready]
    if waiting:
        return problem_response(503, "not-ready", f"recovering: {', '.join(waiting)}")
    return web.json_response({"status": "ready", "helplines": sorted(engines)})


@functools.cache
def _openapi_text() -> str:
    # Built on the first request, not at start-up (80 ms of ``linje serve``'s start on
    # the 2-CPU development machine); the same document for every app.
    return json.dumps(build_openapi())


async def openapi(request: web.Request) -> web.Response:
    return web.Response(text=_openapi_text(), content_type="application/json")


async def metrics(request: web.Request) -> web.Response:
    # Open to a scraper on the same machine only; otherwise a supervisor's token.
    if not request.app[METRICS_OPEN]:
        _principal(request, ROOT_ROLES[("GET", "/metrics")])
    body, content_type = request.app[TELEMETRY].exposition()
    return web.Response(body=body, headers={"Content-Type": content_type})


# ------------------------------------------------------------------ lifecycle
def build_app(
    configs: Sequence[HelplineConfig],
    data_dir: Path,
    auth: Authenticator,
    *,
    clock: Clock | None = None,
    on_fatal: Callable[[BaseException], None] | None = None,
    snapshot_every: int = 10_000,
    limits: Limits | None = None,
    telemetry: Telemetry | None = None,
    metrics_open: bool = False,
    engine_factory: Callable[[HelplineConfig, Clock], HelplineEngine] | None = None,
) -> web.Application:
    """The service for one or more helplines; the first config is the default helpline.

    ``engine_factory(config, clock)``: the helplines' engines when they do not use
    the embedded store in ``data_dir`` (``adapters.cluster``: a Redis deployment).

    ``metrics_open``: ``/metrics`` needs no token (only for a loopback bind).
    """
    if not configs:
        raise ValueError("at least one helpline configuration is needed")
    ids = [c.id for c in configs]
    if len(set(ids)) != len(ids):
        raise ValueError(f"helpline ids must be distinct (got {ids})")
    served = {ch for c in configs for ch in c.channels}
    unknown_teams = sorted(auth.named_teams - {t for c in configs for t in c.teams})
    if unknown_teams:
        raise ConfigError(
            f"supervisor teams {', '.join(unknown_teams)} are no helpline's teams",
            file=auth.source,
            key="tokens.team",
        )
    unknown = sorted(auth.named_channels - served)
    if unknown:
        raise ConfigError(
            f"adapter channels {', '.join(unknown)} are no helpline's channels "
            f"(known: {', '.join(sorted(served))})",
            file=auth.source,
            key="tokens.channels",
        )
    clock = clock or Clock()
    telemetry = telemetry or Telemetry()
    app = ProblemApplication(
        middlewares=[problem_middleware, telemetry.middleware], client_max_size=MAX_BODY
    )
    app[TELEMETRY] = telemetry
    app[METRICS_OPEN] = metrics_open
    app[AUTH] = auth
    app[LIMITER] = Limiter(limits)
    app[CLOCK] = clock
    app[DEFAULT] = configs[0].id
    app[ENGINES] = {
        c.id: (
            engine_factory(c, clock)
            if engine_factory is not None
            else Engine(c, data_dir / c.id, clock, on_fatal=on_fatal, snapshot_every=snapshot_every)
        )
        for c in configs
    }
    for engine in app[ENGINES].values():
        telemetry.watch(engine)
    app[HUBS] = {}
    app[OPENING] = []

    async def start(app: web.Application) -> None:
        app[TELEMETRY].loop_lag.start()
        for engine in app[ENGINES].values():
            hub = app[HUBS][engine.id] = StateHub(engine)
            hub.start()
            app[OPENING].append(asyncio.create_task(_open(engine, on_fatal)))
        if not gc.isenabled():  # ``linje serve`` starts with the collector paused
            opening: list[asyncio.Task[None]] = app[OPENING]
            opening.append(asyncio.create_task(_collector_on(opening.copy())))

    async def stop(app: web.Application) -> None:
        for task in app[OPENING]:
            task.cancel()
        for hub in app[HUBS].values():
            await hub.stop()
        for engine in app[ENGINES].values():
            await engine.close()
        await app[TELEMETRY].loop_lag.stop()
        app[TELEMETRY].shutdown()

    async def end_streams(app: web.Application) -> None:
        for hub in app[HUBS].values():
            hub.close_readers()

    app.on_startup.append(start)
    app.on_shutdown.append(end_streams)
    app.on_cleanup.append(stop)
    for prefix in ("/v1", "/v1/helplines/{helpline}"):
        app.router.add_post(f"{prefix}/events", post_events)
        for route, adapter, convert in (
            ("/adapters/carrier", _carrier_adapter, carrier_to_event),
            ("/adapters/chat", _chat_adapter, chat_to_event),
        ):
            app.router.add_post(f"{prefix}{route}", _vendor(route, adapter, convert))
        app.router.add_get(f"{prefix}/commands", get_commands)
        app.router.add_get(f"{prefix}/state", get_state)
        app.router.add_get(f"{prefix}/state/stream", get_state_stream)
        app.router.add_get(f"{prefix}/stats", get_stats)
        app.router.add_post(f"{prefix}/alerts/{{alert_id}}/acknowledge", post_ack)
        add_escalation_routes(app, prefix)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/v1/openapi.json", openapi)
    app.router.add_get("/metrics", metrics)
    add_dashboard_routes(app)
    add_agent_routes(app, ("/v1", "/v1/helplines/{helpline}"))
    return app


# The collector stays paused at most this long (a helpline that waits for Redis, say).
COLLECTOR_PAUSE_MAX_S = 30.0


async def _collector_on(opening: list[asyncio.Task[None]]) -> None:
    """Once every helpline is open (or failed), freeze what start-up made and resume the
    cycle collector: its passes over the imports and the recovered state, one every few
    thousand allocations, cost ``linje serve`` tens of milliseconds before ready. An
    opening that takes longer than ``COLLECTOR_PAUSE_MAX_S`` does not keep it paused."""
    await asyncio.wait(opening, timeout=COLLECTOR_PAUSE_MAX_S)
    freeze_heap(collect_young=False)
    gc.enable()


async def _open(engine: HelplineEngine, on_fatal: Callable[[BaseException], None] | None) -> None:
    try:
        await engine.open()
    except asyncio.CancelledError:
        raise
    except BaseException as exc:
        log.critical("helpline %s cannot start: %s", engine.id, exc)
        engine.failed = exc
        if on_fatal is not None:
            on_fatal(exc)
