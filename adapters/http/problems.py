"""RFC 9457 problem details: every error the service answers is one of these.

``type`` is a URI naming the problem class (``urn:linje:problem:<code>``, the
``code`` of the ``LinjeError`` behind it), ``title`` is fixed per type,
``detail`` says what was wrong with this request, and ``field`` (an extension
member) names the offending field where there is one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from router.errors import LinjeError

__all__ = ["PROBLEM_JSON", "Problem", "problem_middleware", "problem_response"]

log = logging.getLogger("linje.http")
PROBLEM_JSON = "application/problem+json"

TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict with the current state",
    410: "Gone",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Unprocessable event",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}


class Problem(Exception):
    """An HTTP error raised inside a handler, answered as problem JSON."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.field = field
        self.headers = headers or {}
        self.extra = extra


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    field: str | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> web.Response:
    body: dict[str, Any] = {
        "type": f"urn:linje:problem:{code}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if field is not None:
        body["field"] = field
    if instance is not None:
        body["instance"] = instance
    body.update(extra)
    return web.Response(
        status=status,
        text=json.dumps(body),
        content_type=PROBLEM_JSON,
        headers=headers,
    )


def from_linje_error(err: LinjeError, **extra: Any) -> web.Response:
    return problem_response(err.status, err.code, err.detail, field=err.field, **extra)


@web.middleware
async def problem_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Turn every error into problem JSON; never leak a traceback."""
    try:
        return await handler(request)
    except Problem as p:
        return problem_response(
            p.status,
            p.code,
            p.detail,
            field=p.field,
            instance=request.path,
            headers=p.headers,
            **p.extra,
        )
    except LinjeError as err:
        return from_linje_error(err, instance=request.path)
    except web.HTTPRequestEntityTooLarge:
        return problem_response(
            413,
            "body-too-large",
            f"request body is larger than {request.app._client_max_size} bytes",
            instance=request.path,
        )
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = exc.reason.lower().replace(" ", "-")
        return problem_response(
            exc.status,
            code,
            exc.text or exc.reason,
            instance=request.path,
            headers={k: v for k, v in exc.headers.items() if k.lower() == "allow"},
        )
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem_response(500, "internal", "internal error; see the server log")
