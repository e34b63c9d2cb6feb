"""Baseline for bench_http: a bare aiohttp endpoint that parses the same JSON and answers 202."""

from __future__ import annotations

import asyncio
import json
import sys

from aiohttp import web


async def events(request: web.Request) -> web.Response:
    json.loads(await request.read())
    return web.json_response({"results": []}, status=202)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


if __name__ == "__main__":
    import uvloop

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    app = web.Application(client_max_size=64 * 1024)
    app.router.add_post("/v1/events", events)
    app.router.add_get("/readyz", healthz)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
