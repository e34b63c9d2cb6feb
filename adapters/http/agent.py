"""The agent's page and API: register what an answered contact was about.

An ``agent`` token carries the agent's id (its ``name`` in the token file). With
it, and with nothing else of the helpline:

- ``GET /agent``: the page (``adapters/static/agent.html``; its files at ``/ui/``).
- ``GET /v1/agent/contacts``: the agent's own answered contacts of the
  amendment window that have no registration yet, with the form and version to
  fill in for each.
- ``GET /v1/agent/forms``: the helpline's forms, every version, labels in
  Norwegian and English.
- ``POST /v1/agent/registrations``: one ``contact.registered`` event; the
  agent (``by``) and the sender (``source``) are the token's, never the body's,
  and the time is the service's clock.

``GET /v1/stats/content`` (supervisor, planner) gives the content statistics with
small-cell suppression (``router.content_stats``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from adapters.http.auth import V1_ROLES
from adapters.http.dashboard import FILES, HEADERS, TYPES
from adapters.http.problems import Problem
from router.content_stats import CONTENT_GROUPS, content_stats
from router.events import ContactRegistered

__all__ = ["AgentRegistration", "add_agent_routes"]


class AgentRegistration(BaseModel):
    """A registration from the agent page: answers by option code, no free text."""

    model_config = ConfigDict(extra="forbid", strict=True)
    event_id: str = Field(description="idempotency key chosen by the page", max_length=80)
    contact_id: str = Field(max_length=80)
    form: str = Field(max_length=40)
    version: int
    answers: dict[str, Any] = Field(
        description="field -> option code, list of codes or a whole number"
    )


def _iso(t: float, tz: dt.tzinfo) -> str:
    return dt.datetime.fromtimestamp(t, tz).isoformat(timespec="seconds")


async def agent_page(request: web.Request) -> web.StreamResponse:
    path = request.app[FILES]["agent.html"]
    resp = web.FileResponse(path, headers=HEADERS)
    resp.content_type = TYPES[".html"]
    return resp


async def get_contacts(request: web.Request) -> web.Response:
    from adapters.http.app import _engine, _known_params, _principal

    principal = _principal(request, V1_ROLES[("GET", "/agent/contacts")])
    _known_params(request, ())
    engine = _engine(request)
    tz = dt.UTC
    contacts = [
        {**c, "arrived_at": _iso(c["arrived_at"], tz), "answered_at": _iso(c["answered_at"], tz)}
        for c in engine.to_register(principal.name)
    ]
    return web.json_response({"agent": principal.name, "contacts": contacts})


async def get_forms(request: web.Request) -> web.Response:
    from adapters.http.app import _engine, _known_params, _principal

    _principal(request, V1_ROLES[("GET", "/agent/forms")])
    _known_params(request, ())
    forms = [f.model_dump(mode="json") for f in _engine(request).config.forms]
    return web.json_response({"forms": forms})


async def post_registration(request: web.Request) -> web.Response:
    from adapters.http.app import _body, _json, _principal, _submit, _validate

    body = await _body(request)
    principal = _principal(request, V1_ROLES[("POST", "/agent/registrations")])
    reg: AgentRegistration = _validate(AgentRegistration, _json(body))

    def build(by: str, at: float) -> ContactRegistered:
        return ContactRegistered(
            event_id=reg.event_id,
            at=at,
            source=by,
            contact_id=reg.contact_id,
            form=reg.form,
            version=reg.version,
            answers=reg.answers,
            by=by,
        )

    return await _submit(request, principal, build)


async def get_content_stats(request: web.Request) -> web.Response:
    from adapters.http.app import _engine, _known_params, _principal

    _principal(request, V1_ROLES[("GET", "/stats/content")])
    _known_params(request, ("by",))
    by = tuple(g for g in request.query.get("by", "").split(",") if g)
    if any(g not in CONTENT_GROUPS for g in by) or len(set(by)) != len(by):
        raise Problem(
            400,
            "bad-parameter",
            f"by takes distinct keys among {', '.join(CONTENT_GROUPS)}",
            field="by",
        )
    engine = _engine(request)
    return web.json_response(content_stats(engine.records(), engine.config, by=by))


def add_agent_routes(app: web.Application, prefixes: tuple[str, ...]) -> None:
    """The agent page at ``/agent`` and the agent and content-statistics API."""
    if "agent.html" not in app[FILES]:
        raise FileNotFoundError("the agent page's agent.html is missing from the static files")
    app.router.add_get("/agent", agent_page)
    for prefix in prefixes:
        app.router.add_get(f"{prefix}/agent/contacts", get_contacts)
        app.router.add_get(f"{prefix}/agent/forms", get_forms)
        app.router.add_post(f"{prefix}/agent/registrations", post_registration)
        app.router.add_get(f"{prefix}/stats/content", get_content_stats)
