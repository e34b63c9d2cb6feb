"""Cheap construction of core events for the simulator's inner loop.

(The core's general way to skip validation is ``Event.trusted(**fields)``;
these specialised constructors do the same for the four contact events the
inner loop sends, about twice as fast, because every simulated caller costs
three or four of them.)

Events validate themselves on construction (identifier patterns, channel
names), which is right at the edge but costs more than the routing decision
itself in a simulation of millions of events. The simulator mints every
identifier itself (``c123``, ``s456``; agent ids such as ``kss.phone.1`` pass the full
checks once, when the agent logs in), so contact events are built as the same
frozen objects without re-running the checks: equal, field for field, to what
the validated constructor makes (tested in ``tests/test_sim_driver.py``).
"""

from __future__ import annotations

from router._fast import positional_constructor
from router.events import (
    AgentAway,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentReady,
    ContactAbandoned,
    ContactAnswered,
    ContactArrived,
    ContactEnded,
    TeamAbsent,
)

__all__ = [
    "SOURCE",
    "abandoned",
    "answered",
    "arrived",
    "away",
    "ended",
    "logged_in",
    "logged_out",
    "ready",
    "team_absent",
]

SOURCE = "sim"
# Each builds the frozen event from every field in order, through the slots'
# descriptors, without running its __init__ (router._fast.positional_constructor).
_arrived = positional_constructor(ContactArrived)
_answered = positional_constructor(ContactAnswered)
_abandoned = positional_constructor(ContactAbandoned)
_ended = positional_constructor(ContactEnded)


def arrived(eid: str, at: float, cid: str, channel: str, queue: str) -> ContactArrived:
    return _arrived(eid, at, SOURCE, cid, channel, queue)  # type: ignore[no-any-return]


def answered(eid: str, at: float, cid: str, aid: str) -> ContactAnswered:
    return _answered(eid, at, SOURCE, cid, aid)  # type: ignore[no-any-return]


def abandoned(eid: str, at: float, cid: str) -> ContactAbandoned:
    return _abandoned(eid, at, SOURCE, cid)  # type: ignore[no-any-return]


def ended(eid: str, at: float, cid: str) -> ContactEnded:
    return _ended(eid, at, SOURCE, cid)  # type: ignore[no-any-return]


# Agent and team events are rare (shift changes, breaks): the validated
# constructors are cheap enough and keep the checks.
def logged_in(eid: str, at: float, aid: str, team: str, channels: tuple[str, ...]) -> AgentLoggedIn:
    return AgentLoggedIn(
        event_id=eid, at=at, source=SOURCE, agent_id=aid, team=team, channels=channels
    )


def logged_out(eid: str, at: float, aid: str) -> AgentLoggedOut:
    return AgentLoggedOut(event_id=eid, at=at, source=SOURCE, agent_id=aid)


def away(eid: str, at: float, aid: str, reason: str) -> AgentAway:
    return AgentAway(event_id=eid, at=at, source=SOURCE, agent_id=aid, reason=reason)


def ready(eid: str, at: float, aid: str) -> AgentReady:
    return AgentReady(event_id=eid, at=at, source=SOURCE, agent_id=aid)


def team_absent(eid: str, at: float, team: str, start: float, end: float) -> TeamAbsent:
    return TeamAbsent(event_id=eid, at=at, source=SOURCE, team=team, start=start, end=end)
