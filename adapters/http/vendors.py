"""Vendor-shaped webhooks: a carrier's queue and a chat vendor, mapped to core events.

Vendors send what their platforms know, including who is calling. Those
fields are declared here only so they can be named and dropped: the mapping
copies the fields it needs into a core event and nothing else, so a caller's
number, IP address or nickname never becomes part of an event, a log record,
a metric or a trace. Free-text feedback is scrubbed of anything that looks like
a phone number, an e-mail or an IP address before it becomes an event.

Event ids: a vendor's delivery id when it sends one; else one derived from the
payload's identifying fields, so a redelivered webhook is a duplicate.

A queue routed by the vendor itself (``routing = "observe"``) is reported with
the observed facts: rings the vendor started and that ended unanswered, moves
between queues, members joining and leaving a queue, a call the carrier turned
away itself (``call_rejected`` with ``reason``: its line closed, its queue
full, the caller diverted; after the call's ``call_queued``, in the same batch
if need be) (docs/ROUTING.md, "Routing modes").
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from adapters.http.wire import WireTime
from router.errors import InvalidEvent
from router.events import (
    AgentAway,
    AgentJoinedQueue,
    AgentLeftQueue,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentReady,
    ChatFeedback,
    ContactAbandoned,
    ContactAnswered,
    ContactArrived,
    ContactEnded,
    ContactMoved,
    ContactRang,
    ContactRingEnded,
    ContactTurnedAway,
    Event,
)
from router.privacy import scrub

__all__ = ["CarrierEvent", "ChatVendorEvent", "carrier_to_event", "chat_to_event", "scrub"]

_ID = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,79}$"


class CarrierEvent(BaseModel):
    """A carrier queue webhook (one per call or member event)."""

    model_config = ConfigDict(extra="ignore", strict=True)
    event: Literal[
        "call_queued",  # call offered to the queue
        "ringing",  # ringing at an extension (the carrier following our offer)
        "answered",  # answered by an extension
        "caller_hangup",  # caller hung up (before or during the conversation)
        "call_completed",  # call ended
        "member_login",
        "member_logout",
        "member_pause",
        "member_unpause",
        # Observed routing: the carrier's queue rings by itself.
        "ring_started",  # it rang these extensions for the call
        "ring_no_answer",  # their ring ended unanswered
        "call_moved",  # the call now waits in ``queue``
        "member_joined_queue",  # the extension was added to ``queue``'s ring group
        "member_left_queue",
        "call_rejected",  # the carrier turned the queued call away for ``reason``
    ]
    timestamp: WireTime
    delivery_id: str | None = Field(None, pattern=_ID)
    call_id: str | None = Field(None, pattern=_ID)
    queue: str = "phone"
    extension: str | None = Field(None, pattern=_ID)  # the staff member's extension / agent id
    # ring_started / ring_no_answer: the extensions rung (or ``extension`` alone)
    extensions: list[Annotated[str, Field(pattern=_ID)]] | None = Field(None, max_length=500)
    team: str | None = None
    pause_reason: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]{0,39}$")
    reason: Literal["closed", "full", "diverted"] | None = None  # call_rejected: why
    # Identity the carrier may include; declared only to be dropped, never copied.
    caller_number: str | None = Field(None, exclude=True, repr=False)
    caller_name: str | None = Field(None, exclude=True, repr=False)
    caller_ip: str | None = Field(None, exclude=True, repr=False)


class ChatVendorEvent(BaseModel):
    """A chat vendor webhook (chat lifecycle, operator presence, feedback form)."""

    model_config = ConfigDict(extra="ignore", strict=True)
    event: Literal[
        "chat_requested",
        "operator_joined",
        "visitor_left",
        "chat_closed",
        "feedback",
        "operator_online",
        "operator_offline",
        "operator_away",
        # Observed routing: the vendor hands chats out by itself.
        "chat_offered",  # it offered the chat to these operators
        "offer_expired",  # their offer ended unanswered
        "chat_moved",  # the chat now waits in ``queue``
        "operator_joined_queue",
        "operator_left_queue",
    ]
    timestamp: WireTime
    delivery_id: str | None = Field(None, pattern=_ID)
    chat_id: str | None = Field(None, pattern=_ID)
    queue: str = "chat"
    operator: str | None = Field(None, pattern=_ID)
    # chat_offered / offer_expired: the operators (or ``operator`` alone)
    operators: list[Annotated[str, Field(pattern=_ID)]] | None = Field(None, max_length=500)
    team: str | None = None
    rating: int | None = Field(None, ge=1, le=10)
    comment: str | None = Field(None, max_length=2000, repr=False)
    # Identity the vendor may include; declared only to be dropped, never copied.
    visitor_nickname: str | None = Field(None, exclude=True, repr=False)
    visitor_ip: str | None = Field(None, exclude=True, repr=False)
    visitor_email: str | None = Field(None, exclude=True, repr=False)


def _event_id(prefix: str, *parts: object) -> str:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:24]
    return f"{prefix}-{digest}"


def _need(value: str | None, name: str, event: str) -> str:
    if not value:
        raise InvalidEvent(f"{event} needs {name}", field=name)
    return value


def _agents(many: list[str] | None, one: str | None, names: str, event: str) -> tuple[str, ...]:
    if many:
        return tuple(many)
    return (_need(one, names, event),)


# Observed facts, the same for both vendors: (event, contact or agent event, what).
_OBSERVED: dict[str, tuple[str, type[Any]]] = {
    "ring_started": ("contact", ContactRang),
    "ring_no_answer": ("contact", ContactRingEnded),
    "call_moved": ("contact", ContactMoved),
    "member_joined_queue": ("agent", AgentJoinedQueue),
    "member_left_queue": ("agent", AgentLeftQueue),
    "chat_offered": ("contact", ContactRang),
    "offer_expired": ("contact", ContactRingEnded),
    "chat_moved": ("contact", ContactMoved),
    "operator_joined_queue": ("agent", AgentJoinedQueue),
    "operator_left_queue": ("agent", AgentLeftQueue),
}


def _observed(
    event: str,
    env: dict[str, Any],
    contact: tuple[str | None, str],
    agents: tuple[list[str] | None, str | None, str],
    queue: str,
) -> Event:
    """A vendor's observed fact (``_OBSERVED``) as its core event."""
    kind, cls = _OBSERVED[event]
    many, one, names = agents
    if kind == "agent":
        fact: Event = cls(**env, agent_id=_need(one, names, event), queue=queue)
        return fact
    cid = _need(contact[0], contact[1], event)
    if cls is ContactMoved:
        return ContactMoved(**env, contact_id=cid, queue=queue)
    fact = cls(**env, contact_id=cid, agent_ids=_agents(many, one, names + "s", event))
    return fact


def carrier_to_event(p: CarrierEvent, source: str) -> Event | None:
    """The core event for a carrier webhook (None: nothing for the router to do)."""
    at = p.timestamp.timestamp()
    who = ",".join(p.extensions) if p.extensions else p.extension
    eid = p.delivery_id or _event_id("car", p.event, p.call_id, who, at)
    env: dict[str, Any] = {"event_id": eid, "at": at, "source": source}
    if p.event in _OBSERVED:
        return _observed(
            p.event, env, (p.call_id, "call_id"), (p.extensions, p.extension, "extension"), p.queue
        )
    if p.event == "call_queued":
        cid = _need(p.call_id, "call_id", p.event)
        return ContactArrived(**env, contact_id=cid, channel="phone", queue=p.queue)
    if p.event == "ringing":
        return None  # the router asked for it; nothing new
    if p.event == "answered":
        cid = _need(p.call_id, "call_id", p.event)
        return ContactAnswered(
            **env, contact_id=cid, agent_id=_need(p.extension, "extension", p.event)
        )
    if p.event == "caller_hangup":
        return ContactAbandoned(**env, contact_id=_need(p.call_id, "call_id", p.event))
    if p.event == "call_completed":
        return ContactEnded(**env, contact_id=_need(p.call_id, "call_id", p.event))
    if p.event == "call_rejected":
        return ContactTurnedAway(
            **env,
            contact_id=_need(p.call_id, "call_id", p.event),
            reason=_need(p.reason, "reason", p.event),
        )
    agent = _need(p.extension, "extension", p.event)
    if p.event == "member_login":
        return AgentLoggedIn(
            **env, agent_id=agent, team=_need(p.team, "team", p.event), channels=("phone",)
        )
    if p.event == "member_logout":
        return AgentLoggedOut(**env, agent_id=agent, channels=("phone",))
    if p.event == "member_pause":
        return AgentAway(**env, agent_id=agent, reason=p.pause_reason or "paused")
    return AgentReady(**env, agent_id=agent, channels=("phone",))


def chat_to_event(p: ChatVendorEvent, source: str) -> Event | None:
    """The core event for a chat vendor webhook."""
    at = p.timestamp.timestamp()
    who = ",".join(p.operators) if p.operators else p.operator
    eid = p.delivery_id or _event_id("chat", p.event, p.chat_id, who, at)
    env: dict[str, Any] = {"event_id": eid, "at": at, "source": source}
    if p.event in _OBSERVED:
        return _observed(
            p.event, env, (p.chat_id, "chat_id"), (p.operators, p.operator, "operator"), p.queue
        )
    if p.event == "chat_requested":
        cid = _need(p.chat_id, "chat_id", p.event)
        return ContactArrived(**env, contact_id=cid, channel="chat", queue=p.queue)
    if p.event == "operator_joined":
        cid = _need(p.chat_id, "chat_id", p.event)
        return ContactAnswered(
            **env, contact_id=cid, agent_id=_need(p.operator, "operator", p.event)
        )
    if p.event == "visitor_left":
        return ContactAbandoned(**env, contact_id=_need(p.chat_id, "chat_id", p.event))
    if p.event == "chat_closed":
        return ContactEnded(**env, contact_id=_need(p.chat_id, "chat_id", p.event))
    if p.event == "feedback":
        if p.rating is None:
            raise InvalidEvent("feedback needs rating (1-10)", field="rating")
        known = (p.visitor_nickname, p.visitor_email, p.visitor_ip)
        comment = scrub(p.comment, known) if p.comment else None
        return ChatFeedback(
            **env, contact_id=_need(p.chat_id, "chat_id", p.event), rating=p.rating, comment=comment
        )
    agent = _need(p.operator, "operator", p.event)
    if p.event == "operator_online":
        return AgentLoggedIn(
            **env, agent_id=agent, team=_need(p.team, "team", p.event), channels=("chat",)
        )
    if p.event == "operator_offline":
        return AgentLoggedOut(**env, agent_id=agent, channels=("chat",))
    return AgentAway(**env, agent_id=agent, reason="away")
