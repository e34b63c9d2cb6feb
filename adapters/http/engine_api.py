"""What the HTTP layer needs from one helpline's engine, whatever store is behind it.

Two implementations: ``adapters.http.engine.Engine`` (the embedded log on this
machine) and ``adapters.cluster.engine.RedisEngine`` (a node of a Redis
deployment). Handlers, streams and telemetry are typed against this protocol.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from adapters.http.audience import ContactChannels, command_channel
from router.commands import Command, command_to_dict
from router.snapshot import RECENT_ALERT_S

if TYPE_CHECKING:
    from adapters.http.clock import Clock
    from adapters.http.telemetry import EngineProbe
    from adapters.store.embedded import IngestResult
    from router.config import HelplineConfig
    from router.core import Router
    from router.events import Event
    from router.records import Record

__all__ = ["HelplineEngine", "Listeners", "LiveGauges", "live_gauges", "live_snapshot"]


class Listeners(ABC):
    """Who hears about an engine's changes: command streams and the state hub.

    Shared by both engines; listeners are called synchronously and must never
    block (they only queue or flag), so routing never waits for a reader.
    """

    def __init__(self) -> None:
        self.version = 0
        self.command_listeners: set[Callable[[list[dict[str, Any]]], None]] = set()
        self.change_listeners: set[Callable[[], None]] = set()
        self.contact_channels = ContactChannels()

    @abstractmethod
    def _router(self) -> Router:
        """The router whose state the views read (each engine's own)."""

    @abstractmethod
    def records(self) -> list[Record]:
        """Every record the helpline's log holds, in order."""

    def gauges(self, now: float) -> LiveGauges:
        """What ``/metrics`` shows of the live state at ``now`` (``live_gauges``)."""
        return live_gauges(self._router(), now)

    def to_register(self, agent_id: str) -> list[dict[str, Any]]:
        """The agent's answered contacts still without a content registration."""
        return self._router().to_register(agent_id)

    def command_channel(self, command: dict[str, Any]) -> str | None:
        """The channel whose adapters get this command (None: every adapter)."""
        router = self._router()
        return command_channel(
            command,
            lambda cid: self.contact_channels.channel_of(cid, router, self.records),
            {name: q.channel for name, q in router.config.queues.items()},
        )

    def _publish(self, commands: Sequence[Command]) -> None:
        """Hand new commands to the command streams, then tell state readers."""
        if commands:
            dicts = [command_to_dict(c) for c in commands]
            for listener in list(self.command_listeners):
                listener(dicts)
        self._changed()

    def _changed(self) -> None:
        self.version += 1
        for listener in list(self.change_listeners):
            listener()


@dataclass(frozen=True, slots=True)
class LiveGauges:
    """The figures the ``/metrics`` gauges read from one helpline's live state.

    ``queues``: (queue, channel, contacts waiting or ringing, longest wait in s);
    ``agents``: (team, channel, state) -> agents, only the pairs that have one.
    """

    queues: tuple[tuple[str, str, int, float], ...]
    agents: dict[tuple[str, str, str], int]


def live_gauges(router: Router, now: float) -> LiveGauges:
    """The gauges' figures read straight from the router, on the event loop's thread.

    The same values as the live snapshot's (``live_snapshot``: queue lengths,
    the oldest arrival of each, each agent's state per channel, waits measured
    to ``now`` rounded to the millisecond as ``server_time`` is), without
    building it: a scrape costs the contacts waiting and the agents, not the
    retained alerts, escalations and ended contacts the snapshot also walks
    (100 ms of the loop at 240k retained events).
    """
    if router.now is None:
        return LiveGauges((), {})
    now = round(now, 3)
    queues = []
    for q in router.queue_states():
        waiting = router.waiting_in(q)
        oldest = min((round(c.arrived_at, 3) for c in waiting), default=None)
        wait = 0.0 if oldest is None else round(now - oldest, 3)
        queues.append((q.name, q.channel, len(waiting), wait))
    agents: dict[tuple[str, str, str], int] = {}
    channels = router.config.channels
    for a in router.agent_states():
        for ch in channels:
            chs = a.channels.get(ch)
            key = (a.team, ch, "logged_out" if chs is None else chs.state.value)
            agents[key] = agents.get(key, 0) + 1
    return LiveGauges(tuple(queues), agents)


def live_snapshot(router: Router, clock: Clock, config: HelplineConfig) -> dict[str, Any]:
    """The router's snapshot plus what a live viewer needs, the same on every store.

    ``server_time`` and ``clock_speed`` let a dashboard tick waits between
    pushes; ``timezone`` lets it show local times. The router's own times stop
    at its last step (``now``: the last event or timer); every duration "until
    now" (``wait_s``, ``oldest_wait_s``, ``time_in_state_s``) is measured here
    to the service's clock instead, so a caller left waiting with no event
    since shows the real wait (as the ``linje_queue_oldest_wait_seconds`` gauge).
    """
    snap = router.snapshot()
    server_time = round(clock.now(), 3)
    if snap["now"] is not None:
        t = max(server_time, snap["now"])
        _measure_to(snap, t)
        local = router.plan.local(t)
        snap["local_time"] = local.isoformat()
        snap["holiday"] = router.plan.holiday_name(local.date())
    snap["server_time"] = server_time
    snap["clock_speed"] = clock.speed
    snap["timezone"] = config.timezone
    snap["last_command_seq"] = router.last_command_seq
    return snap


def _measure_to(snap: dict[str, Any], t: float) -> None:
    """Durations measured to ``t`` (never before the router's last step: an event
    may be stamped a little ahead of the service's clock)."""
    for q in snap["queues"]:
        for w in q["waiting"]:
            w["wait_s"] = round(t - w["arrived_at"], 3)
        q["oldest_wait_s"] = max((w["wait_s"] for w in q["waiting"]), default=0.0)
    for a in snap["agents"]:
        for ch in a["channels"].values():
            if "since" in ch:
                ch["time_in_state_s"] = round(t - ch["since"], 3)
    # A closed alert nobody acknowledged stays for RECENT_ALERT_S, also to this clock.
    snap["alerts"] = [
        al
        for al in snap["alerts"]
        if al["open"]
        or al["acknowledged_by"] is not None
        or al["closed_at"] is None
        or t - al["closed_at"] < RECENT_ALERT_S
    ]


class HelplineEngine(Protocol):
    """One helpline in the live service."""

    config: HelplineConfig
    id: str
    clock: Clock
    failed: BaseException | None
    version: int
    probe: EngineProbe
    command_listeners: set[Callable[[list[dict[str, Any]]], None]]
    change_listeners: set[Callable[[], None]]

    @property
    def ready(self) -> bool:
        """Serving: recovered or folded, and its store reachable."""

    async def open(self) -> None:
        """Recover (embedded) or fold the log (Redis); the service is not ready before."""

    async def close(self) -> None: ...

    async def submit(self, events: list[Event]) -> list[IngestResult]:
        """Apply events in order; returns once they are durable (never a false ack)."""

    def poke(self) -> None:
        """Look at the next timer deadline again."""

    def commands_since(self, cursor: int) -> list[dict[str, Any]]:
        """Commands with ``seq`` > ``cursor`` in order (stream resume)."""

    def command_channel(self, command: dict[str, Any]) -> str | None:
        """The channel whose adapters get this command (None: every adapter)."""

    @property
    def last_command_seq(self) -> int: ...

    def snapshot(self) -> dict[str, Any]:
        """Live state for supervisors."""

    def gauges(self, now: float) -> LiveGauges:
        """The live state's figures the ``/metrics`` gauges show."""

    def records(self) -> list[Record]: ...

    def to_register(self, agent_id: str) -> list[dict[str, Any]]: ...

    def stats(
        self, *, group_by: tuple[str, ...], start: float | None, end: float | None
    ) -> dict[str, Any]: ...
