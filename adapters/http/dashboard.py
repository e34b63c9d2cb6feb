"""The supervisor dashboard: static HTML, CSS and JavaScript modules shipped in the package.

``GET /`` is the page and ``GET /ui/{file}`` its assets, served from
``adapters/static`` (no build step). Only files found there at start-up are
served, by exact name, so no request path ever reaches the file system. The
page holds no data and needs no credentials: it signs in with a supervisor
token (kept in the browser's session storage) and reads ``/v1/state/stream``.

A strict Content-Security-Policy allows only this origin's scripts, styles and
connections: the page can talk to nothing else, and nothing can frame it.
"""

from __future__ import annotations

from pathlib import Path

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


def _asset(path: Path) -> web.FileResponse:
    resp = web.FileResponse(path, headers=HEADERS)
    resp.content_type = TYPES[path.suffix]
    return resp


async def index(request: web.Request) -> web.StreamResponse:
    return _asset(request.app[FILES]["index.html"])


async def asset(request: web.Request) -> web.StreamResponse:
    path = request.app[FILES].get(request.match_info["file"])
    if path is None:
        raise Problem(404, "not-found", "no such dashboard file")
    return _asset(path)


def add_dashboard_routes(app: web.Application, static: Path = STATIC_DIR) -> None:
    """Serve the dashboard at ``/`` and its files at ``/ui/{file}``."""
    files = {p.name: p for p in sorted(static.iterdir()) if p.is_file() and p.suffix in TYPES}
    if "index.html" not in files:
        raise FileNotFoundError(f"the dashboard's index.html is missing from {static}")
    app[FILES] = files
    app.router.add_get("/", index)
    app.router.add_get("/ui/{file}", asset)
