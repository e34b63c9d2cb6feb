"""The supervisor dashboard: static HTML, CSS and JavaScript modules shipped in the package.

``GET /`` is the page and ``GET /ui/{file}`` its assets, served from
``adapters/static`` (no build step). Only files found there at start-up are
served, by exact name, so no request path ever reaches the file system. The
page holds no data and needs no credentials: it signs in with a supervisor
token (kept in the browser's session storage) and reads ``/v1/state/stream``.

``GET /ui/helplines.json`` (a supervisor's token; no file, the one name on the
``/ui/{file}`` route that needs one) gives the display names the live state
does not carry: each helpline's and team's ``name`` from its config, the labels of
its escalations' flag kinds, chain levels, checklist steps and close reasons, and
who signed in (``you``: the token's name and team, if it names one).

A strict Content-Security-Policy allows only this origin's scripts, styles and
connections: the page can talk to nothing else, and nothing can frame it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from adapters.http.problems import Problem

__all__ = ["STATIC_DIR", "add_dashboard_routes"]

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".json": "application/json",
}
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Always revalidate (cheap: ETag / Last-Modified), so an upgrade shows at once.
    "Cache-Control": "no-cache",
}
FILES = web.AppKey("dashboard_files", dict[str, Path])
NAMES = "helplines.json"


def _asset(path: Path) -> web.FileResponse:
    resp = web.FileResponse(path, headers=HEADERS)
    resp.content_type = TYPES[path.suffix]
    return resp


async def index(request: web.Request) -> web.StreamResponse:
    return _asset(request.app[FILES]["index.html"])


async def asset(request: web.Request) -> web.StreamResponse:
    if request.match_info["file"] == NAMES:
        return await names(request)
    path = request.app[FILES].get(request.match_info["file"])
    if path is None:
        raise Problem(404, "not-found", "no such dashboard file")
    return _asset(path)


async def names(request: web.Request) -> web.StreamResponse:
    """Display names for the page's header and team headings (a supervisor's token)."""
    # Imported here: adapters.http.app builds the service and imports this module.
    from adapters.http.app import AUTH, ENGINES

    principal = request.app[AUTH].bearer(request.headers.get("Authorization"))
    if principal is None:
        raise Problem(
            401,
            "unauthorized",
            "missing or unknown bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if principal.role != "supervisor":
        raise Problem(
            403, "forbidden", f"role {principal.role} may not use {request.method} {request.path}"
        )
    helplines: dict[str, Any] = {
        engine.id: {
            "name": engine.config.name or engine.id,
            "teams": {team: cfg.name or team for team, cfg in engine.config.teams.items()},
            "escalations": engine.config.escalations.model_dump(mode="json"),
        }
        for engine in request.app[ENGINES].values()
    }
    you = {"name": principal.name, "team": principal.team}
    return web.json_response(
        {"helplines": helplines, "you": you}, headers={**HEADERS, "Cache-Control": "no-store"}
    )


def add_dashboard_routes(app: web.Application, static: Path = STATIC_DIR) -> None:
    """Serve the dashboard at ``/`` and its files (and names) at ``/ui/{file}``."""
    files = {p.name: p for p in sorted(static.iterdir()) if p.is_file() and p.suffix in TYPES}
    if "index.html" not in files:
        raise FileNotFoundError(f"the dashboard's index.html is missing from {static}")
    files.pop(NAMES, None)  # the names are never a file
    app[FILES] = files
    app.router.add_get("/", index)
    app.router.add_get("/ui/{file}", asset)
