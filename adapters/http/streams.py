"""Live streams: adapters' command stream (WebSocket) and supervisors' state stream.

State pushes are coalesced: at most ``MAX_RATE`` per second, each carrying the
latest snapshot, built once and shared. Every reader has a one-slot mailbox
that is overwritten, so a slow reader only ever misses intermediate states,
and one that does not take a write within ``SLOW_READER_S`` is dropped. The
router never waits for a reader.

Command streams are lossless: a reader first gets every logged command after
its cursor, then live ones; if it falls ``MAX_BACKLOG`` commands behind it is
closed (code 1013) and resumes from its cursor when it reconnects. Each adapter
gets only the commands of the channels it serves (``adapters.http.audience``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import Callable
from typing import Any

from aiohttp import WSCloseCode, web

from adapters.http.engine_api import HelplineEngine

__all__ = ["MAX_RATE", "SLOW_READER_S", "StateHub", "command_stream", "state_stream"]

log = logging.getLogger("linje.streams")
MAX_RATE = 10.0
# A write blocked this long drops the reader. With STREAM_SNDBUF the first write
# blocks within a few tenths of a second of the reader's last read, so a reader
# that stops reading is gone within 5 s (docs/RELIABILITY.md, bench_slow_reader).
SLOW_READER_S = 4.5
MAX_BACKLOG = 10_000
MAX_STATE_READERS = 200
KEEPALIVE_S = 15.0
STREAM_SNDBUF = 128 * 1024


class _Reader:
    __slots__ = ("closed", "slot", "wake")

    def __init__(self) -> None:
        self.slot: str | None = None
        self.wake = asyncio.Event()
        self.closed = False  # the service is shutting down: end the stream

    def close(self) -> None:
        self.closed = True
        self.wake.set()

    def offer(self, payload: str) -> None:
        self.slot = payload  # older, unsent states are simply replaced
        self.wake.set()

    async def next(self, timeout: float) -> str | None:
        try:
            await asyncio.wait_for(self.wake.wait(), timeout)
        except TimeoutError:
            return None
        self.wake.clear()
        payload, self.slot = self.slot, None
        return payload


class StateHub:
    """Builds one snapshot per change (at most MAX_RATE a second) for all readers."""

    def __init__(self, engine: HelplineEngine) -> None:
        self.engine = engine
        self.readers: set[_Reader] = set()
        self._dirty = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.latest: str | None = None
        engine.change_listeners.add(self._dirty.set)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"state-hub-{self.engine.id}")

    async def stop(self) -> None:
        self.engine.change_listeners.discard(self._dirty.set)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            if self.readers and self.engine.ready:
                self.latest = json.dumps(self.engine.snapshot())
                for reader in list(self.readers):
                    reader.offer(self.latest)
            await asyncio.sleep(1 / MAX_RATE)

    def close_readers(self) -> None:
        """End every live state stream (graceful shutdown must not wait for them)."""
        for reader in list(self.readers):
            reader.close()

    def join(self) -> _Reader:
        if len(self.readers) >= MAX_STATE_READERS:
            raise web.HTTPServiceUnavailable(text="too many live state readers")
        reader = _Reader()
        self.readers.add(reader)
        reader.offer(json.dumps(self.engine.snapshot()))
        return reader


async def state_stream(request: web.Request, hub: StateHub) -> web.StreamResponse:
    """Server-Sent Events, or a WebSocket when the client asks to upgrade."""
    reader = hub.join()
    _small_send_buffer(request)
    try:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await _state_ws(request, reader)
        return await _state_sse(request, reader)
    finally:
        hub.readers.discard(reader)


def _small_send_buffer(request: web.Request) -> None:
    # The kernel grows a socket's send buffer to megabytes (loopback, fast links): a
    # reader that stopped reading would absorb seconds of pushes before a write
    # even blocks and SLOW_READER_S starts. A fixed buffer of a few states makes
    # the first write after the stall block, and the drop follows SLOW_READER_S later.
    sock = request.transport.get_extra_info("socket") if request.transport else None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, STREAM_SNDBUF)


async def _state_sse(request: web.Request, reader: _Reader) -> web.StreamResponse:
    resp = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await resp.prepare(request)
    n = 0
    while True:
        payload = await reader.next(KEEPALIVE_S)
        if reader.closed:
            return resp
        n += 1
        chunk = (
            f"id: {n}\nevent: state\ndata: {payload}\n\n" if payload else ": keep-alive\n\n"
        ).encode()
        try:
            await asyncio.wait_for(resp.write(chunk), SLOW_READER_S)
        except (TimeoutError, ConnectionError, RuntimeError):
            log.info("state stream: dropped a reader that stopped reading")
            if request.transport is not None:
                request.transport.abort()
            return resp


async def _state_ws(request: web.Request, reader: _Reader) -> web.StreamResponse:
    ws = web.WebSocketResponse(heartbeat=KEEPALIVE_S)
    await ws.prepare(request)
    reader_task = asyncio.create_task(_drain(ws))
    try:
        while not ws.closed:
            payload = await reader.next(KEEPALIVE_S)
            if reader.closed:
                break
            if payload is None:
                continue
            try:
                await asyncio.wait_for(ws.send_str(payload), SLOW_READER_S)
            except (TimeoutError, ConnectionError, RuntimeError):
                log.info("state stream: dropped a WebSocket reader that stopped reading")
                break
    finally:
        reader_task.cancel()
        await ws.close(code=WSCloseCode.GOING_AWAY)
    return ws


async def _drain(ws: web.WebSocketResponse) -> None:
    async for _ in ws:
        pass  # clients have nothing to say; reading keeps pings and closes flowing


async def command_stream(
    request: web.Request,
    engine: HelplineEngine,
    cursor: int | None,
    keep: Callable[[dict[str, Any]], bool],
    channels: list[str] | None,
) -> web.StreamResponse:
    """Commands with seq > cursor (all logged ones first), then live ones, as JSON texts:
    those ``keep`` takes (the adapter's channels; ``channels`` is told in the hello)."""
    ws = web.WebSocketResponse(heartbeat=KEEPALIVE_S)
    await ws.prepare(request)
    queue: asyncio.Queue[list[dict[str, Any]] | None] = asyncio.Queue()

    def listener(commands: list[dict[str, Any]]) -> None:
        queue.put_nowait(None if queue.qsize() > MAX_BACKLOG else commands)

    # No await between reading the backlog and subscribing: nothing can slip between.
    start = engine.last_command_seq if cursor is None else cursor
    backlog = engine.commands_since(start)
    engine.command_listeners.add(listener)
    reader_task = asyncio.create_task(_drain(ws))
    last = start
    try:
        hello = {"type": "hello", "helpline": engine.id, "cursor": start, "channels": channels}
        await ws.send_str(json.dumps(hello))
        pending: list[dict[str, Any]] | None = backlog
        while pending is not None and not ws.closed:
            for command in pending:
                if command["seq"] > last:
                    if keep(command):
                        await ws.send_str(json.dumps(command))
                    last = command["seq"]
            getter = asyncio.create_task(queue.get())
            done, _ = await asyncio.wait({getter, reader_task}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                break
            pending = getter.result()
        if pending is None and not ws.closed:
            await ws.close(
                code=WSCloseCode.TRY_AGAIN_LATER, message=b"fell behind; resume from cursor"
            )
    finally:
        engine.command_listeners.discard(listener)
        reader_task.cancel()
        if not ws.closed:
            await ws.close()
    return ws
