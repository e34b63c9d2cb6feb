"""A realistic, seeded event mix for benchmarks: a busy helpline's weeks in events.

Agents of both teams log in and out around the handovers, go away and come
back; calls and chats arrive as a Poisson stream; most are answered by an agent
the router actually offered them to, some callers leave, some rings time out.
The generator drives a Router (``Router.apply``) while it generates, so every
answer refers to a real offer, and keeps only the events the router accepted;
it returns them for replay through fresh routers.
"""

from __future__ import annotations

import random

from router import Offer, Router
from router.config import HelplineConfig
from router.events import (
    AgentAway,
    AgentLoggedIn,
    AgentReady,
    ContactAbandoned,
    ContactAnswered,
    ContactArrived,
    ContactEnded,
    Event,
)

START = 1636956000.0  # Monday 2021-11-15 07:00 Europe/Oslo


def realistic_events(config: HelplineConfig, n_events: int, seed: int = 1) -> list[Event]:
    rng = random.Random(seed)
    router = Router(config)
    events: list[Event] = []
    pending: list[tuple[float, int, Event]] = []  # (time, seq, event) scheduled follow-ups
    seq = 0
    t = START

    def emit(event: Event) -> None:
        step = router.apply(event)
        if not step.accepted:
            return
        events.append(event)
        for c in step.commands:
            if isinstance(c, Offer) and rng.random() < 0.85:
                agent = rng.choice(c.agent_ids)
                schedule(event.at + rng.uniform(2, 15), "answer", c.contact_id, agent)

    def schedule(at: float, kind: str, cid: str, agent: str = "") -> None:
        nonlocal seq
        seq += 1
        pending.append((at, seq, (kind, cid, agent)))  # type: ignore[arg-type]

    n = 0

    def eid() -> str:
        nonlocal n
        n += 1
        return f"b{n}"

    agents = [(f"kss-{i}", "kss") for i in range(4)] + [(f"ok-{i}", "ok") for i in range(4)]
    for a, team in agents:
        emit(AgentLoggedIn(event_id=eid(), at=t, source="bench", agent_id=a, team=team,
                           channels=("phone", "chat")))  # fmt: skip
    contact = 0
    while len(events) < n_events:
        t_next = t + rng.expovariate(1 / 90)
        pending.sort()
        while pending and pending[0][0] <= t_next and len(events) < n_events:
            at, _, (kind, cid, agent) = pending.pop(0)  # type: ignore[misc]
            t = max(t, at)
            if kind == "answer":
                emit(ContactAnswered(event_id=eid(), at=t, source="bench", contact_id=cid,
                                     agent_id=agent))  # fmt: skip
                schedule(t + rng.lognormvariate(5.5, 0.6), "end", cid)
            elif kind == "end":
                emit(ContactEnded(event_id=eid(), at=t, source="bench", contact_id=cid))
            elif kind == "abandon":
                emit(ContactAbandoned(event_id=eid(), at=t, source="bench", contact_id=cid))
        t = t_next
        roll = rng.random()
        if roll < 0.03:
            a, _ = rng.choice(agents)
            emit(AgentAway(event_id=eid(), at=t, source="bench", agent_id=a, reason="break"))
        elif roll < 0.06:
            a, _ = rng.choice(agents)
            emit(AgentReady(event_id=eid(), at=t, source="bench", agent_id=a))
        else:
            contact += 1
            ch = "chat" if rng.random() < 0.15 else "phone"
            cid = f"k{contact}"
            emit(ContactArrived(event_id=eid(), at=t, source="bench", contact_id=cid,
                                channel=ch, queue=ch))  # fmt: skip
            schedule(t + rng.choice([4, 30, 120]), "abandon", cid)
    return events
