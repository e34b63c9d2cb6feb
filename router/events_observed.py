"""Events of observed routing: what a carrier or PBX that routes by itself did.

A queue with ``routing = "observe"`` gets no offers from Linje; its adapter
reports the rings it saw (``contact.rang``, ``contact.ring_ended``), moves of a
contact between queues (``contact.moved``), a caller the PBX turned away
itself (``contact.turned_away``: the line was closed, the queue full, the
caller diverted) and queue membership (``agent.joined_queue``,
``agent.left_queue``; these two serve either mode).
Registered with the other types in ``router.events``, which re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from router._checks import _ID_MATCH, _SUSPECT_SEARCH, _check_id, _check_not_identity
from router._event_base import Event
from router.errors import InvalidEvent

__all__ = [
    "AgentJoinedQueue",
    "AgentLeftQueue",
    "ContactMoved",
    "ContactRang",
    "ContactRingEnded",
    "ContactTurnedAway",
]

MAX_AGENTS = 500
# Why the PBX or carrier turned a caller away (``contact.turned_away``): its line
# was closed (Asterisk's CLOSED), its queue full (FULL), or its rules diverted the
# caller elsewhere (DIVERT_CA_RATIO, DIVERT_HOLDTIME).
TURNED_AWAY_REASONS = ("closed", "full", "diverted")


def _check_agent_ids(cls: str, ids: tuple[str, ...]) -> None:
    if not isinstance(ids, tuple) or not ids or len(ids) > MAX_AGENTS:
        raise InvalidEvent(f"{cls}.agent_ids must list 1-{MAX_AGENTS} agents", field="agent_ids")
    for v in ids:
        if not isinstance(v, str) or _ID_MATCH(v) is None:
            _check_id(cls, "agent_ids", v)
        if _SUSPECT_SEARCH(v) is not None:
            _check_not_identity(cls, "agent_ids", v)
    if len(set(ids)) != len(ids):
        raise InvalidEvent(f"{cls}.agent_ids names an agent twice", field="agent_ids")


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactRang(Event):
    """The carrier or PBX rang these agents for the contact."""

    type: ClassVar[str] = "contact.rang"
    _ids: ClassVar[tuple[str, ...]] = ("contact_id",)
    contact_id: str
    agent_ids: tuple[str, ...]

    def __post_init__(self) -> None:
        Event.__post_init__(self)
        _check_agent_ids("ContactRang", self.agent_ids)


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactRingEnded(Event):
    """The ring to these agents ended without an answer (timed out, declined)."""

    type: ClassVar[str] = "contact.ring_ended"
    _ids: ClassVar[tuple[str, ...]] = ("contact_id",)
    contact_id: str
    agent_ids: tuple[str, ...]

    def __post_init__(self) -> None:
        Event.__post_init__(self)
        _check_agent_ids("ContactRingEnded", self.agent_ids)


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactMoved(Event):
    """The contact, not answered yet, now waits in another queue of its channel."""

    type: ClassVar[str] = "contact.moved"
    _ids: ClassVar[tuple[str, ...]] = ("contact_id",)
    _words: ClassVar[tuple[str, ...]] = ("queue",)
    contact_id: str
    queue: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactTurnedAway(Event):
    """The PBX or carrier turned the caller away itself, for ``reason``
    (``TURNED_AWAY_REASONS``): the contact ends, answered by nobody."""

    type: ClassVar[str] = "contact.turned_away"
    _ids: ClassVar[tuple[str, ...]] = ("contact_id",)
    contact_id: str
    reason: str

    def __post_init__(self) -> None:
        Event.__post_init__(self)
        if self.reason not in TURNED_AWAY_REASONS:
            raise InvalidEvent(
                f"ContactTurnedAway.reason must be one of {', '.join(TURNED_AWAY_REASONS)}",
                field="reason",
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentJoinedQueue(Event):
    """The agent became a member of ``queue`` (an ADDMEMBER, a ring group change)."""

    type: ClassVar[str] = "agent.joined_queue"
    _ids: ClassVar[tuple[str, ...]] = ("agent_id",)
    _words: ClassVar[tuple[str, ...]] = ("queue",)
    agent_id: str
    queue: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentLeftQueue(Event):
    """The agent is no longer a member of ``queue``."""

    type: ClassVar[str] = "agent.left_queue"
    _ids: ClassVar[tuple[str, ...]] = ("agent_id",)
    _words: ClassVar[tuple[str, ...]] = ("queue",)
    agent_id: str
    queue: str
