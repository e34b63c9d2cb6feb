"""The application class: aiohttp's own error answers as RFC 9457 problem JSON.

aiohttp answers a request its HTTP parser refuses (an over-long header line,
``Content-Length`` together with ``Transfer-Encoding``, a bad chunk size, a
garbled request line) from ``RequestHandler.handle_error``, outside every
middleware, as ``text/plain`` with the parser's message, and logs the peer's
address. Here that one method answers problem JSON instead, says only what
class of error it was (the parser's message may quote the request's bytes),
and logs no address. Everything else is aiohttp's.

The hook is ``Application._make_handler``, the factory both ``web.run_app``
and the test server use for the low-level server; it is private API, so
``tests/test_limits.py`` sends malformed HTTP over raw sockets to a real
``linje serve`` process and checks every answer.
"""

from __future__ import annotations

import json
import logging
import warnings
from typing import Any

from aiohttp import web, web_protocol, web_server
from aiohttp.web_request import BaseRequest

from adapters.http.problems import PROBLEM_JSON, TITLES

__all__ = ["ProblemApplication"]

log = logging.getLogger("linje.http")


class _ProblemRequestHandler(web_protocol.RequestHandler):
    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        kind = type(exc).__name__ if exc is not None else None
        if status >= 500:
            log.error("error handling a request (%s)", kind or status, exc_info=exc)
        else:
            log.info("refused a malformed HTTP request (%s)", kind or status)
        if request.writer.output_size > 0:  # as aiohttp: an answer already began
            raise ConnectionError("response already started; cannot send an error")
        if status >= 500:
            code, detail = "internal", "internal error; see the server log"
        else:
            code = "malformed-http"
            detail = f"the request is not valid HTTP/1.1 ({kind or 'refused by the parser'})"
        body = {
            "type": f"urn:linje:problem:{code}",
            "title": TITLES.get(status, "Error"),
            "status": status,
            "detail": detail,
        }
        resp = web.Response(status=status, text=json.dumps(body), content_type=PROBLEM_JSON)
        resp.force_close()
        return resp


class _ProblemServer(web_server.Server):
    def __call__(self) -> web_protocol.RequestHandler:
        return _ProblemRequestHandler(self, loop=self._loop, **self._kwargs)


with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # "inheritance is discouraged"

    class ProblemApplication(web.Application):
        """``web.Application`` whose low-level server answers parser errors as problems."""

        def _make_handler(self, **kwargs: Any) -> web_server.Server:
            server = super()._make_handler(**kwargs)
            server.__class__ = _ProblemServer
            return server
