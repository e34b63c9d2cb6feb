"""Supervisors' escalation routes: tick a checklist step, close, and the escalation figures.

``POST /v1/escalations/{escalation_id}/steps/{step}`` and
``POST /v1/escalations/{escalation_id}/close`` (body ``{"reason": "<code>"}``)
build the ``escalation.step_ticked`` / ``escalation.closed`` events the core
applies, stamped with the service's clock and with ``by`` the token's name
(never a field); they may also be posted on ``/v1/events``. Acknowledging is
``POST /v1/alerts/{alert_id}/acknowledge`` of the escalation's alert.
``GET /v1/stats/escalations`` folds the log's escalation records
(``router.escalation_stats``). All three take a supervisor's token only.
"""

from __future__ import annotations

import hashlib
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from adapters.http.auth import V1_ROLES
from adapters.http.problems import Problem
from router.escalation_stats import fold_escalations
from router.events import Event
from router.events_escalation import EscalationClosed, EscalationStepTicked

__all__ = ["CloseEscalation", "add_escalation_routes"]

TICK = ("POST", "/escalations/{escalation_id}/steps/{step}")
CLOSE = ("POST", "/escalations/{escalation_id}/close")
STATS = ("GET", "/stats/escalations")


class CloseEscalation(BaseModel):
    """How an escalation ends when its checklist is not complete: a configured reason code."""

    model_config = ConfigDict(extra="forbid", strict=True)
    reason: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$", examples=["not_triggered"])


def _event_id(kind: str, *parts: object) -> str:
    # Deterministic per request, and a valid identifier whatever the path held: the
    # event's own checks then name the field that is wrong.
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8", "surrogatepass"))
    return f"{kind}-{digest.hexdigest()[:32]}"


async def post_tick(request: web.Request) -> web.Response:
    from adapters.http import app as http  # the service module imports this one

    principal = http._principal(request, V1_ROLES[TICK])

    def build(by: str, at: float) -> Event:
        esc, step = request.match_info["escalation_id"], request.match_info["step"]
        return EscalationStepTicked(
            event_id=_event_id("tick", esc, step, by, at),
            at=at,
            source=by,
            escalation_id=esc,
            step=step,
            by=by,
        )

    return await http._submit(request, principal, build)


async def post_close(request: web.Request) -> web.Response:
    from adapters.http import app as http

    principal = http._principal(request, V1_ROLES[CLOSE])
    body: CloseEscalation = http._validate(CloseEscalation, http._json(await http._body(request)))

    def build(by: str, at: float) -> Event:
        esc = request.match_info["escalation_id"]
        return EscalationClosed(
            event_id=_event_id("close", esc, body.reason, by, at),
            at=at,
            source=by,
            escalation_id=esc,
            reason=body.reason,
            by=by,
        )

    return await http._submit(request, principal, build)


async def get_stats(request: web.Request) -> web.Response:
    from adapters.http import app as http

    http._principal(request, V1_ROLES[STATS])
    http._known_params(request, ("from", "to"))
    engine = http._engine(request)
    tz = ZoneInfo(engine.config.timezone)
    start, end = http._time_param(request, "from", tz), http._time_param(request, "to", tz)
    if start is not None and end is not None and end <= start:
        raise Problem(400, "bad-parameter", "to must be later than from", field="to")
    if not engine.ready:
        engine.snapshot()  # raises NotReady with the reason
    return web.json_response(fold_escalations(engine.records(), tz=tz, start=start, end=end))


def add_escalation_routes(app: web.Application, prefix: str) -> None:
    app.router.add_post(f"{prefix}/escalations/{{escalation_id}}/steps/{{step}}", post_tick)
    app.router.add_post(f"{prefix}/escalations/{{escalation_id}}/close", post_close)
    app.router.add_get(f"{prefix}/stats/escalations", get_stats)
