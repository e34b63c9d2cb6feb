"""A deterministic stream of events and ticks for the store's durability tests.

``workload(config, seed=..., n_events=...)`` drives a real ``Router`` while it
invents the stream, so that most answers go to agents who really were rung;
a few events are refused on purpose (an unknown contact, a second arrival of
the same id) and a few are re-sent (duplicates). The stream crosses the
15:00/15:30 handovers of ``config/vo-linjen.toml``. ``clean_run`` replays the
same operations on a fresh in-memory ``Router``: the reference a store must
match however often it was killed on the way.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from router import (
    AgentAway,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentReady,
    CancelOffer,
    ChatFeedback,
    Command,
    ContactAbandoned,
    ContactAnswered,
    ContactArrived,
    ContactEnded,
    Event,
    HelplineConfig,
    Offer,
    OfferDeclined,
    Record,
    Reject,
    Router,
)
from router.step import REFUSED

__all__ = ["Op", "clean_run", "workload"]


@dataclass(frozen=True, slots=True)
class Op:
    """Either an event to ingest or a tick (``event`` None) at time ``at``."""

    at: float
    event: Event | None = None


class _Gen:
    def __init__(self, config: HelplineConfig, seed: int, start: str) -> None:
        self.router = Router(config)
        self.rng = random.Random(seed)
        tz = self.router.plan.tz
        self.t = dt.datetime.fromisoformat(start).replace(tzinfo=tz).timestamp()
        self.ops: list[Op] = []
        self.n = 0
        self.contacts = 0
        self.ringing: dict[str, set[str]] = {}
        self.serving: dict[str, str] = {}
        self.open: list[str] = []  # arrived, not ended
        self.ended_chats: list[str] = []
        self.away: set[str] = set()
        self.channel: dict[str, str] = {}

    def _see(self, commands: list[Command]) -> None:
        for c in commands:
            if isinstance(c, Offer):
                self.ringing.setdefault(c.contact_id, set()).update(c.agent_ids)
            elif isinstance(c, CancelOffer):
                self.ringing.get(c.contact_id, set()).difference_update(c.agent_ids)
            elif isinstance(c, Reject) and c.contact_id in self.open:
                self.open.remove(c.contact_id)

    def send(self, event: Event) -> bool:
        self.ops.append(Op(event.at, event))
        step = self.router.apply(event)
        # A refused event's commands are those of timers that fell due before it.
        self._see(step.commands)
        return step.status != REFUSED

    def env(self) -> dict[str, object]:
        self.n += 1
        return {"event_id": f"ev-{self.n}", "at": self.t, "source": "crash-test"}

    def tick(self) -> None:
        self.ops.append(Op(self.t))
        self._see(self.router.advance(self.t).commands)

    def step(self) -> None:
        rng = self.rng
        self.t += round(rng.uniform(0.5, 20.0), 3)
        x = rng.random()
        ringing = sorted(c for c, a in self.ringing.items() if a and c in self.open)
        if x < 0.25 or not self.open:
            self.contacts += 1
            cid = f"c{self.contacts}"
            channel = "phone" if rng.random() < 0.7 else "chat"
            if self.send(
                ContactArrived(**self.env(), contact_id=cid, channel=channel, queue=channel)
            ):
                self.open.append(cid)
                self.channel[cid] = channel
        elif x < 0.55 and ringing:
            cid = rng.choice(ringing)
            agent = rng.choice(sorted(self.ringing[cid]))
            if self.send(ContactAnswered(**self.env(), contact_id=cid, agent_id=agent)):
                self.serving[cid] = agent
                self.ringing.pop(cid, None)
        elif x < 0.70 and self.serving:
            cid = rng.choice(sorted(self.serving))
            self._end(cid, ContactEnded(**self.env(), contact_id=cid))
        elif x < 0.76:
            cid = rng.choice(self.open)
            self._end(cid, ContactAbandoned(**self.env(), contact_id=cid))
        elif x < 0.83:
            self.tick()
        elif x < 0.86 and ringing:
            cid = rng.choice(ringing)
            agent = rng.choice(sorted(self.ringing[cid]))
            self.send(OfferDeclined(**self.env(), contact_id=cid, agent_id=agent))
        elif x < 0.89:
            agent = rng.choice(["kss-1", "kss-2", "ok-1", "ok-2"])
            if agent in self.away:
                if self.send(AgentReady(**self.env(), agent_id=agent)):
                    self.away.discard(agent)
            elif self.send(AgentAway(**self.env(), agent_id=agent, reason="break")):
                self.away.add(agent)
        elif x < 0.92 and self.ended_chats:
            cid = rng.choice(self.ended_chats)
            self.send(ChatFeedback(**self.env(), contact_id=cid, rating=rng.randint(1, 10)))
        elif x < 0.95:
            # Refused on purpose: nobody knows this contact.
            self.send(ContactEnded(**self.env(), contact_id=f"nobody-{self.n}"))
        elif self.ops and self.ops[-1].event is not None:
            # An adapter re-sending its last event: a duplicate.
            self.send(self.ops[-1].event)
        else:
            self.tick()

    def _end(self, cid: str, event: Event) -> None:
        if self.send(event):
            self.open.remove(cid)
            self.ringing.pop(cid, None)
            self.serving.pop(cid, None)
            if self.channel[cid] == "chat":
                self.ended_chats.append(cid)


def workload(
    config: HelplineConfig, *, seed: int, n_events: int, start: str = "2021-11-15 14:40"
) -> list[Op]:
    """``n_events`` events (and some ticks), the same for the same seed."""
    g = _Gen(config, seed, start)
    for agent, team in (("kss-1", "kss"), ("kss-2", "kss"), ("ok-1", "ok"), ("ok-2", "ok")):
        g.send(AgentLoggedIn(**g.env(), agent_id=agent, team=team, channels=("phone", "chat")))
    logged_out = False
    while sum(op.event is not None for op in g.ops) < n_events:
        if not logged_out and g.n > n_events // 2:
            # The day office leaves: later contacts go to OK only.
            logged_out = True
            for agent in ("kss-1", "kss-2"):
                g.send(AgentLoggedOut(**g.env(), agent_id=agent))
        g.step()
    return g.ops


def clean_run(config: HelplineConfig, ops: list[Op]) -> tuple[list[Command], list[Record]]:
    """Every command and record of ``ops`` fed straight to a fresh in-memory router."""
    router = Router(config)
    commands: list[Command] = []
    records: list[Record] = []
    for op in ops:
        step = router.advance(op.at) if op.event is None else router.apply(op.event)
        commands += step.commands
        records += step.records
    return commands, records
