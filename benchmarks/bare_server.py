"""Baseline for bench_http and paced: a bare aiohttp endpoint doing the same parse and answer.

Exactly this per request, on aiohttp with uvloop, one process, access log off:
read the body, ``json.loads`` it (the one parse Linje also does, without the
checks of ``adapters.http.bodies``, the pydantic validation, auth, routing or
the log), and answer ``{"results": [{"event_id": ..., "status": "accepted",
"commands": [], "log_seq": n}]}`` with ``web.json_response`` (one result per
event of a ``{"events": [...]}`` batch): the shape Linje answers, so both sides
serialise the same kind of answer and the wrk script reads the same
``event_id``s. Nothing is stored, nothing is fsynced.
"""

from __future__ import annotations

import asyncio
import json
import sys

from aiohttp import web

_seq = 0


async def events(request: web.Request) -> web.Response:
    global _seq
    data = json.loads(await request.read())
    batch = data.get("events", [data])
    results = []
    for event in batch:
        _seq += 1
        results.append({"event_id": event.get("event_id"), "status": "accepted",
                        "commands": [], "log_seq": _seq})  # fmt: skip
    return web.json_response({"results": results})


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


if __name__ == "__main__":
    import uvloop

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    app = web.Application(client_max_size=64 * 1024)
    app.router.add_post("/v1/events", events)
    app.router.add_get("/readyz", healthz)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
