"""SIGTERM is a graceful shutdown: open supervisor streams end, the log is closed, exit 0."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp

from tests.http_helpers import bearer
from tests.serve_process import Server, write_auth


async def test_sigterm_with_a_live_state_stream_open_exits_promptly_and_cleanly(
    tmp_path: Path,
) -> None:
    server = Server(tmp_path / "data", write_auth(tmp_path / "auth.toml"))
    try:
        server.wait_ready()
        async with aiohttp.ClientSession() as session:
            stream = await session.get(
                f"{server.base}/v1/state/stream", headers=bearer("supervisor")
            )
            assert (await asyncio.wait_for(stream.content.readline(), 5)).startswith(b"id:")
            started = time.monotonic()
            code = await asyncio.to_thread(server.stop)
            took = time.monotonic() - started
            stream.close()
        assert code == 0
        assert took < 4.0  # the stream did not hold shutdown to its 5 s timeout
    finally:
        server.stop()
    # The log was closed cleanly: a restart recovers without a torn tail.
    again = Server(tmp_path / "data", write_auth(tmp_path / "auth2.toml"))
    try:
        again.wait_ready()
    finally:
        assert again.stop() == 0
