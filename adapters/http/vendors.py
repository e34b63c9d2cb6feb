"""Vendor-shaped webhooks: a carrier's queue and a chat vendor, mapped to core events.

Vendors send what their platforms know, including who is calling. Those
fields are declared here only so they can be named and dropped: the mapping
copies the fields it needs into a core event and nothing else, so a caller's
number, IP address or nickname never becomes part of an event, a log record,
a metric or a trace. Free-text feedback is scrubbed of anything that looks like
a phone number, an e-mail or an IP address before it becomes an event.

Event ids: a vendor's delivery id when it sends one; else one derived from the
payload's identifying fields, so a redelivered webhook is a duplicate.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from adapters.http.wire import WireTime
from router.errors import InvalidEvent
from router.events import (
    AgentAway,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentReady,
    ChatFeedback,
    ContactAbandoned,
    ContactAnswered,
    ContactArrived,
    ContactEnded,
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
    ]
    timestamp: WireTime
    delivery_id: str | None = Field(None, pattern=_ID)
    call_id: str | None = Field(None, pattern=_ID)
    queue: str = "phone"
    extension: str | None = Field(None, pattern=_ID)  # the staff member's extension / agent id
    team: str | None = None
    pause_reason: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]{0,39}$")
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
    ]
    timestamp: WireTime
    delivery_id: str | None = Field(None, pattern=_ID)
    chat_id: str | None = Field(None, pattern=_ID)
    queue: str = "chat"
    operator: str | None = Field(None, pattern=_ID)
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


def carrier_to_event(p: CarrierEvent, source: str) -> Event | None:
    """The core event for a carrier webhook (None: nothing for the router to do)."""
    at = p.timestamp.timestamp()
    eid = p.delivery_id or _event_id("car", p.event, p.call_id, p.extension, at)
    env: dict[str, Any] = {"event_id": eid, "at": at, "source": source}
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
    eid = p.delivery_id or _event_id("chat", p.event, p.chat_id, p.operator, at)
    env: dict[str, Any] = {"event_id": eid, "at": at, "source": source}
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
