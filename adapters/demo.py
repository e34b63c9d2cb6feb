"""``linje serve --demo``: a synthetic adapter playing helpline traffic over HTTP.

It is a real client of the live service: it logs agents in, posts calls and
chats, listens to the command stream, answers rings after each team's reach
time, lets some callers hang up, and ends conversations. The service runs on an
accelerated clock that starts so that the 15:30 weekday handover comes about a
minute (real time) after start: long enough for a newcomer to open the dashboard
and sign in, soon enough to see queues, rings, answers, abandons and then the
handover.

On shutdown the traffic stops first (``on_shutdown``, before the service waits
for its open requests), so it never posts to a server that has stopped
listening.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import random
import secrets
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web

from adapters.http.app import AUTH
from adapters.http.clock import Clock, ScaledClock
from router.config import HelplineConfig
from router.coverage import CoveragePlan
from router.errors import ConfigError

__all__ = [
    "DEMO_MARKER",
    "HANDOVER_LEAD_S",
    "check_demo_dir",
    "demo_clock",
    "handover_at",
    "new_demo_run",
    "start_demo",
]

log = logging.getLogger("linje.demo")
DEMO_MARKER = ".linje-demo"
DEMO_RUN = "run-"  # each demo run logs into a new folder DATA/run-<UTC time>
PHONE_AGENTS = {"kss-1": "kss", "kss-2": "kss", "ok-1": "ok", "ok-2": "ok"}
CHAT_AGENTS = {"kss-c": "kss", "ok-c": "ok"}
# Seconds to reach the phone: the office answers fast, the crisis centre's staff
# have other duties (the pilot report: OK's staff reach the phone slower).
REACH_S = {"kss": (3.0, 9.0), "ok": (8.0, 30.0)}
# Real seconds from start to the 15:30 handover: time to open the dashboard and sign in.
HANDOVER_LEAD_S = 60.0
HANDOVER = dt.time(15, 30)


def handover_at(config: HelplineConfig, today: dt.date | None = None) -> float:
    """15:30 local on the next working day (not a weekend or public holiday) from ``today``."""
    plan = CoveragePlan(config)
    tz = ZoneInfo(config.timezone)
    day = today or dt.datetime.now(tz).date()
    while day.weekday() >= 5 or plan.is_holiday(day):
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, HANDOVER, tzinfo=tz).timestamp()


def demo_clock(
    config: HelplineConfig, speed: float, lead_s: float = HANDOVER_LEAD_S
) -> ScaledClock:
    """A clock on which the next working day's 15:30 handover is ``lead_s`` real seconds away.

    At ``make demo``'s speed (10) it starts at 15:20 local: ten virtual minutes, one real minute.
    """
    return ScaledClock(handover_at(config) - lead_s * speed, speed)


def check_demo_dir(data: Path) -> None:
    """Refuse a ``--demo`` data folder that holds anything but earlier demo runs.

    Reads only; nothing is created, written or deleted. A folder is fit for a
    demo if it does not exist, is empty, or holds the demo marker and nothing
    but ``run-*`` folders of earlier demo runs. Anything else may be a real log
    (a stray marker proves nothing), so it is refused.
    """
    if not data.exists():
        return
    if not data.is_dir():
        raise ConfigError(f"{data} is not a folder; give the demo its own --data folder")
    entries = list(data.iterdir())
    if not entries:
        return
    names = {e.name for e in entries}
    foreign = [e for e in entries if e.name != DEMO_MARKER and not (e.is_dir() and _is_run(e.name))]
    if DEMO_MARKER not in names or foreign:
        raise ConfigError(f"{data} holds a real log; give the demo its own --data folder")


def _is_run(name: str) -> bool:
    return name.startswith(DEMO_RUN)


def new_demo_run(data: Path) -> Path:
    """Mark ``data`` as a demo folder and create a fresh folder for this run's log.

    Nothing is ever deleted: earlier runs stay in their own ``run-*`` folders
    (delete them by hand when you like). Call only after every option passed.
    """
    data.mkdir(parents=True, exist_ok=True)
    marker = data / DEMO_MARKER
    if not marker.exists():
        marker.write_text(
            "created by linje serve --demo; each demo run logs into a new run-* folder here\n"
        )
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    for n in range(1, 1000):
        run = data / f"{DEMO_RUN}{stamp}{'' if n == 1 else f'-{n}'}"
        try:
            run.mkdir()
        except FileExistsError:
            continue
        return run
    raise ConfigError(f"{data}: too many demo runs at {stamp}")


def start_demo(app: web.Application, base: str, config: HelplineConfig, clock: Clock) -> None:
    token = secrets.token_urlsafe(24)

    async def on_startup(app: web.Application) -> None:
        app[AUTH].add_token("adapter", "demo", token)
        demo = app[_DEMO] = Demo(base, token, clock)
        demo.start()

    async def on_shutdown(app: web.Application) -> None:
        await app[_DEMO].stop()

    app.on_startup.append(on_startup)
    # First of the shutdown hooks: aiohttp has just stopped listening, and the
    # service is about to wait for its open requests; the traffic must stop now.
    app.on_shutdown.insert(0, on_shutdown)


class Demo:
    def __init__(self, base: str, token: str, clock: Clock, seed: int = 7) -> None:
        self.base = base
        self.clock = clock
        self.rng = random.Random(seed)
        self.headers = {"Authorization": f"Bearer {token}"}
        self.n = 0
        self.live: set[str] = set()  # contacts still waiting
        self.busy: set[str] = set()
        self.session: aiohttp.ClientSession | None = None
        self.main: asyncio.Task[None] | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self.main = asyncio.create_task(self.run())

    async def stop(self) -> None:
        """Stop the traffic: every task of it, the main one last (it owns the HTTP session)."""
        tasks = [*self.tasks, *([self.main] if self.main else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(self._guard(coro))
        self.tasks.add(task)  # keep a reference until it is done
        task.add_done_callback(self.tasks.discard)

    async def _guard(self, coro: Any) -> None:
        try:
            await coro
        except aiohttp.ClientConnectionError as exc:
            log.warning("demo traffic: the service is not reachable (%s)", exc)
        except Exception:
            log.exception("demo traffic: a contact's step failed")

    async def sleep(self, virtual_s: float) -> None:
        await asyncio.sleep(virtual_s / self.clock.speed)

    async def post(self, type_: str, **fields: Any) -> dict[str, Any]:
        assert self.session is not None
        self.n += 1
        event = {
            "event_id": f"demo-{self.n}",
            "type": type_,
            "source": "demo",
            "at": dt.datetime.fromtimestamp(self.clock.now(), dt.UTC).isoformat(),
            **fields,
        }
        async with self.session.post(
            f"{self.base}/v1/events", json=event, headers=self.headers
        ) as r:
            body: dict[str, Any] = await r.json()
            return body

    async def run(self) -> None:
        try:
            async with aiohttp.ClientSession() as session:
                self.session = session
                await self._wait_ready()
                for agent, team in PHONE_AGENTS.items():
                    await self.post(
                        "agent.logged_in", agent_id=agent, team=team, channels=["phone"]
                    )
                for agent, team in CHAT_AGENTS.items():
                    await self.post("agent.logged_in", agent_id=agent, team=team, channels=["chat"])
                await asyncio.gather(
                    self._commands(), self._arrivals("phone", 35.0), self._arrivals("chat", 150.0)
                )
        except asyncio.CancelledError:
            raise
        except aiohttp.ClientConnectionError as exc:
            # The service closed its connections: no traceback, it is not the demo's fault.
            log.warning("demo traffic stopped: the service is not reachable (%s)", exc)
        except Exception:
            log.exception("demo traffic stopped")

    async def _wait_ready(self) -> None:
        assert self.session is not None
        while True:
            try:
                async with self.session.get(f"{self.base}/readyz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)

    async def _arrivals(self, channel: str, mean_gap_s: float) -> None:
        while True:
            await self.sleep(self.rng.expovariate(1 / mean_gap_s))
            self.n += 1
            cid = f"demo-{channel}-{self.n}"
            self.live.add(cid)
            await self.post("contact.arrived", contact_id=cid, channel=channel, queue=channel)
            # A fifth hang up within seconds (the pilot report: ~20 % in a Swedish peer
            # line's first year).
            patience = (
                self.rng.uniform(3, 9) if self.rng.random() < 0.2 else self.rng.expovariate(1 / 90)
            )
            self._spawn(self._leave(cid, patience))

    async def _leave(self, cid: str, patience: float) -> None:
        await self.sleep(patience)
        if cid in self.live:
            self.live.discard(cid)
            await self.post("contact.abandoned", contact_id=cid)

    async def _commands(self) -> None:
        assert self.session is not None
        url = self.base.replace("http", "ws", 1) + "/v1/commands"
        async with self.session.ws_connect(url, headers=self.headers) as ws:
            async for msg in ws:
                command = json.loads(msg.data)
                if command.get("type") == "offer":
                    self._spawn(self._pick_up(command))

    async def _pick_up(self, offer: dict[str, Any]) -> None:
        free = [a for a in offer["agent_ids"] if a not in self.busy]
        if not free:
            return
        agent = self.rng.choice(free)
        team = PHONE_AGENTS.get(agent) or CHAT_AGENTS.get(agent, "ok")
        await self.sleep(self.rng.uniform(*REACH_S[team]))
        cid = offer["contact_id"]
        if cid not in self.live or agent in self.busy:
            return
        answer = await self.post("contact.answered", contact_id=cid, agent_id=agent)
        if answer.get("results", [{}])[0].get("status") != "accepted":
            return
        self.live.discard(cid)
        self.busy.add(agent)
        await self.sleep(self.rng.lognormvariate(4.6, 0.5))  # about 100 s conversations
        await self.post("contact.ended", contact_id=cid)
        self.busy.discard(agent)


_DEMO = web.AppKey("demo", Demo)
