"""The live service for the HTTP crash loop, forked from a zygote so restarts are cheap.

Run as ``python -m tests.helpers.http_crash_server DATA_DIR START SNAPSHOT_EVERY``.
The process imports everything once; for each ``run PORT`` line on stdin it
forks a child that serves the helpline on ``127.0.0.1:PORT`` (the real
``build_app`` and embedded store, uvloop) and prints ``pid N``; when the child
has ended (killed by the test with SIGKILL, usually) it prints ``exit STATUS``.

The service runs on ``EventClock``: time that moves only with the events the
service accepts. Under a wall clock, ring time-outs would fire whenever the
scheduler got round to them, so no two runs, killed or not, would be alike;
on this clock the timers fire exactly when the next event's time passes them,
as they do in a clean in-memory run (the core guarantees that outcomes do not
depend on when ``advance`` is called, only that it is never called past the
next event's time).
"""

from __future__ import annotations

import asyncio
import math
import os
import sys
from pathlib import Path

from aiohttp import web

from adapters.config_file import load_config
from adapters.http.app import ENGINES, build_app
from adapters.http.clock import Clock
from adapters.http.engine import Engine
from adapters.http.limits import Limits
from tests.http_helpers import auth

ROOT = Path(__file__).resolve().parents[2]


class EventClock(Clock):
    """The helpline's own latest time (``start`` until the first event)."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.engine: Engine | None = None

    def now(self) -> float:
        store = self.engine.store if self.engine is not None else None
        if store is not None and store.router.now is not None:
            return store.router.now
        return self.start

    def real_seconds_until(self, t: float) -> float:
        return t - self.now()

    def latest_accepted(self, skew: float) -> float:
        return math.inf  # time follows the events here: no event is ahead of it


def serve(data: str, start: float, snapshot_every: int, port: int) -> None:
    config = load_config(ROOT / "config" / "vo-linjen.toml")
    clock = EventClock(start)
    app = build_app(
        [config],
        Path(data),
        auth(),
        clock=clock,
        snapshot_every=snapshot_every,
        limits=Limits(events_per_s=0),  # the loop sends as fast as it can
    )
    clock.engine = app[ENGINES][config.id]
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:  # pragma: no cover
        pass
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def main(argv: list[str]) -> int:
    data, start, snapshot_every = argv[0], float(argv[1]), int(argv[2])
    for line in sys.stdin:
        parts = line.split()
        if not parts or parts[0] != "run":
            break
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            try:
                serve(data, start, snapshot_every, int(parts[1]))
            finally:
                os._exit(0)
        sys.stdout.write(f"pid {pid}\n")  # one write per line (see store_crash_writer)
        sys.stdout.flush()
        _, status = os.waitpid(pid, 0)
        sys.stdout.write(f"exit {status}\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
