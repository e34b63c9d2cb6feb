"""Events in: what adapters (and the simulator) tell the core.

Small frozen value objects, one class per wire ``type`` (docs/ROUTING.md, "Events
in"). Time is ``at``: POSIX seconds, already parsed from the wire's ISO 8601
timestamp at the edge, so the core never touches a clock or a time-zone
parser. Caller identity has no field here on purpose: there is nowhere to put
a phone number, an IP address or a nickname.

Every event validates itself on construction (``InvalidEvent`` naming the field);
``event_from_dict`` / ``event_to_dict`` convert to and from plain (log, wire) dicts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

from router._checks import CHANNELS, MAX_COMMENT, _check_channels, _check_word, _encodable
from router._event_base import (
    EVENT_TYPES,
    Event,
    event_digest,
    event_from_dict,
    event_to_dict,
    register_event_types,
)
from router.errors import InvalidEvent
from router.events_observed import (
    AgentJoinedQueue,
    AgentLeftQueue,
    ContactMoved,
    ContactRang,
    ContactRingEnded,
    ContactTurnedAway,
)
from router.forms import answers_shape
from router.privacy import scrub

__all__ = [
    "CHANNELS",
    "EVENT_TYPES",
    "AgentAway",
    "AgentLoggedIn",
    "AgentLoggedOut",
    "AgentReady",
    "AlertAcknowledged",
    "ChatFeedback",
    "ContactAbandoned",
    "ContactAnswered",
    "ContactArrived",
    "ContactEnded",
    "ContactFlagged",
    "ContactRegistered",
    "Event",
    "OfferDeclined",
    "TeamAbsent",
    "event_digest",
    "event_from_dict",
    "event_to_dict",
]
__all__ += ["register_event_types"]
__all__ += ["AgentJoinedQueue", "AgentLeftQueue", "ContactMoved", "ContactRang", "ContactRingEnded"]
__all__ += ["ContactTurnedAway"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactArrived(Event):
    """A caller entered a queue (phone rang in, chat requested)."""

    type: ClassVar[str] = "contact.arrived"
    _ids: ClassVar[tuple[str, ...]] = ("contact_id",)
    _words: ClassVar[tuple[str, ...]] = ("channel", "queue")
    contact_id: str
    channel: str
    queue: str

    def __post_init__(self) -> None:
        Event.__post_init__(self)
        if self.channel not in CHANNELS:
            raise InvalidEvent(
                f"ContactArrived.channel must be one of {', '.join(CHANNELS)}",
                field="channel",
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactAnswered(Event):
    """An agent picked up (phone) or joined (chat)."""

    type: ClassVar[str] = "contact.answered"
    _ids: ClassVar[tuple[str, ...]] = ("contact_id", "agent_id")
    contact_id: str
    agent_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactAbandoned(Event):
    """The caller left before being answered."""

    type: ClassVar[str] = "contact.abandoned"
    _ids: ClassVar[tuple[str, ...]] = ("contact_id",)
    contact_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactEnded(Event):
    """The conversation ended (or, for a contact never answered, the caller left)."""

    type: ClassVar[str] = "contact.ended"
    _ids: ClassVar[tuple[str, ...]] = ("contact_id",)
    contact_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OfferDeclined(Event):
    """An agent rejected a ringing offer."""

    type: ClassVar[str] = "offer.declined"
    _ids: ClassVar[tuple[str, ...]] = ("contact_id", "agent_id")
    contact_id: str
    agent_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentLoggedIn(Event):
    """An agent logged in for a team on some channels (added to any already logged in)."""

    type: ClassVar[str] = "agent.logged_in"
    _ids: ClassVar[tuple[str, ...]] = ("agent_id",)
    _words: ClassVar[tuple[str, ...]] = ("team",)
    agent_id: str
    team: str
    channels: tuple[str, ...]

    def __post_init__(self) -> None:
        Event.__post_init__(self)
        _check_channels("AgentLoggedIn", self.channels, empty_ok=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentLoggedOut(Event):
    """The agent left ``channels``, or (empty) every channel."""

    type: ClassVar[str] = "agent.logged_out"
    _ids: ClassVar[tuple[str, ...]] = ("agent_id",)
    agent_id: str
    channels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        Event.__post_init__(self)
        _check_channels("AgentLoggedOut", self.channels, empty_ok=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentReady(Event):
    """The agent is available again, on ``channels`` or (empty) all logged-in ones."""

    type: ClassVar[str] = "agent.ready"
    _ids: ClassVar[tuple[str, ...]] = ("agent_id",)
    agent_id: str
    channels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        Event.__post_init__(self)
        _check_channels("AgentReady", self.channels, empty_ok=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentAway(Event):
    """Break or other duties: no new offers on any channel."""

    type: ClassVar[str] = "agent.away"
    _ids: ClassVar[tuple[str, ...]] = ("agent_id",)
    _words: ClassVar[tuple[str, ...]] = ("reason",)
    agent_id: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatFeedback(Event):
    """The anonymous post-chat form: a rating 1-10 and an optional comment."""

    type: ClassVar[str] = "chat.feedback"
    _ids: ClassVar[tuple[str, ...]] = ("contact_id",)
    contact_id: str
    rating: int
    comment: str | None = None

    def __post_init__(self) -> None:
        Event.__post_init__(self)
        if isinstance(self.rating, bool) or not isinstance(self.rating, int):
            raise InvalidEvent("ChatFeedback.rating must be an integer 1-10", field="rating")
        if not 1 <= self.rating <= 10:
            raise InvalidEvent("ChatFeedback.rating must be 1-10", field="rating")
        if self.comment is not None and (
            not isinstance(self.comment, str)
            or len(self.comment) > MAX_COMMENT
            or not _encodable(self.comment)
        ):
            raise InvalidEvent(
                f"ChatFeedback.comment must be valid Unicode text of at most {MAX_COMMENT} "
                "characters",
                field="comment",
            )
        if self.comment is not None:
            # Free text may carry identity: it is stored scrubbed, whatever built the event.
            object.__setattr__(self, "comment", scrub(self.comment))


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactFlagged(Event):
    """A flag on a contact, e.g. ``duty_to_avert`` (straffeloven section 196)."""

    type: ClassVar[str] = "contact.flagged"
    _ids: ClassVar[tuple[str, ...]] = ("contact_id",)
    _words: ClassVar[tuple[str, ...]] = ("flag",)
    contact_id: str
    flag: str
    category: str | None = None  # a configured code of the flag's kind, never free text

    def __post_init__(self) -> None:
        Event.__post_init__(self)
        if self.category is not None:
            _check_word("ContactFlagged", "category", self.category)


@dataclass(frozen=True, slots=True, kw_only=True)
class TeamAbsent(Event):
    """A team declares it cannot staff its windows in [start, end): vacation, sickness."""

    type: ClassVar[str] = "team.absent"
    _words: ClassVar[tuple[str, ...]] = ("team",)
    team: str
    start: float = field(metadata={"wire": "from"})
    end: float = field(metadata={"wire": "to"})

    def __post_init__(self) -> None:
        Event.__post_init__(self)
        for name in ("start", "end"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise InvalidEvent(f"TeamAbsent.{name} must be a finite POSIX time", field=name)
        if self.end <= self.start:
            raise InvalidEvent("TeamAbsent.to must be later than from", field="to")


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertAcknowledged(Event):
    """A supervisor saw an alert; ``by`` names the supervisor (staff, never a caller)."""

    type: ClassVar[str] = "alert.acknowledged"
    _ids: ClassVar[tuple[str, ...]] = ("alert_id", "by")
    alert_id: str
    by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactRegistered(Event):
    """An answered contact's answers by option code (router.forms); ``by``: the agent's token."""

    type: ClassVar[str] = "contact.registered"
    _trusted_decode: ClassVar[bool] = False  # __post_init__ rebuilds the answers
    _ids: ClassVar[tuple[str, ...]] = ("contact_id", "by")
    _words: ClassVar[tuple[str, ...]] = ("form",)
    contact_id: str
    form: str
    version: int
    answers: dict[str, Any]
    by: str

    def __post_init__(self) -> None:
        Event.__post_init__(self)
        object.__setattr__(self, "answers", answers_shape(self.version, self.answers))


register_event_types(
    ContactArrived,
    ContactAnswered,
    ContactAbandoned,
    ContactEnded,
    OfferDeclined,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentReady,
    AgentAway,
    ChatFeedback,
    ContactFlagged,
    TeamAbsent,
    AlertAcknowledged,
    ContactRang,
    ContactRingEnded,
    ContactMoved,
    AgentJoinedQueue,
    AgentLeftQueue,
    ContactRegistered,
    ContactTurnedAway,
)
