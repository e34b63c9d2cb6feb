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
import zlib
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar, Self

from router._checks import (
    _ID_MATCH,
    _SUSPECT_SEARCH,
    _WORD_MATCH,
    CHANNELS,
    MAX_COMMENT,
    _check_channels,
    _check_id,
    _check_not_identity,
    _check_word,
    _encodable,
)
from router.errors import InvalidEvent
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


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Common envelope: idempotency key, time and origin."""

    type: ClassVar[str] = ""
    _ids: ClassVar[tuple[str, ...]] = ()
    _words: ClassVar[tuple[str, ...]] = ()

    event_id: str
    at: float
    source: str

    def __post_init__(self) -> None:
        # Hot path: every event passes here, so the checks are inlined.
        match, suspect = _ID_MATCH, _SUSPECT_SEARCH
        for f in ("event_id", "source", *self._ids):
            v = getattr(self, f)
            if v.__class__ is not str or match(v) is None:
                _check_id(type(self).__name__, f, v)
            if suspect(v) is not None:  # an @, a colon or a long number: look closer
                _check_not_identity(type(self).__name__, f, v)
        at = self.at
        if not (
            math.isfinite(at)
            if at.__class__ is float
            else isinstance(at, int) and not isinstance(at, bool)
        ):
            raise InvalidEvent(f"{type(self).__name__}.at must be a finite POSIX time", field="at")
        for f in self._words:
            v = getattr(self, f)
            if v.__class__ is not str or _WORD_MATCH(v) is None:
                _check_word(type(self).__name__, f, v)

    @classmethod
    def trusted(cls, **values: Any) -> Self:
        """Build an event without validating it.

        Only for drivers that mint every value themselves from known-good
        inputs (the simulator's millions of events); events from adapters,
        files and the wire are always built normally and validated.
        """
        obj = object.__new__(cls)
        for name, default in _DEFAULTS[cls]:
            value = values.pop(name, default)
            if value is MISSING:
                raise InvalidEvent(f"{cls.type}: missing field {name!r}", field=name)
            object.__setattr__(obj, name, value)
        if values:
            raise InvalidEvent(f"{cls.type}: unknown field {next(iter(values))!r}")
        return obj


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


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls
    for cls in (
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
        ContactRegistered,
    )
}

# Per event class: (python name, wire name) of every field, computed once.
_WIRE: dict[type[Event], tuple[tuple[str, str], ...]] = {
    cls: tuple((f.name, f.metadata.get("wire", f.name)) for f in fields(cls))
    for cls in EVENT_TYPES.values()
}
# Per event class: (field, default) in order; MISSING where a value is required.
_DEFAULTS: dict[type[Event], tuple[tuple[str, Any], ...]] = {
    cls: tuple((f.name, f.default) for f in fields(cls)) for cls in EVENT_TYPES.values()
}
_REQUIRED: dict[type[Event], frozenset[str]] = {
    c: frozenset(w for (_, w), (_, d) in zip(_WIRE[c], _DEFAULTS[c], strict=True) if d is MISSING)
    for c in EVENT_TYPES.values()
}


def event_digest(event: Event) -> int:
    """A stable fingerprint of the event's whole body (type and every field).

    Two events with one ``event_id`` are the same delivery only if their digests
    match (an idempotency key reused with another body is refused). Stable across
    processes (CRC-32 of the fields' text, no salted ``hash``), so a digest kept in
    a snapshot still compares after a restart.
    """
    parts = [event.type]
    parts += [str(getattr(event, name)) for name, _ in _DEFAULTS[type(event)]]
    return zlib.crc32("\x1f".join(parts).encode("utf-8", "surrogatepass"))


def event_to_dict(event: Event) -> dict[str, Any]:
    """The event as a plain dict with its wire field names and ``type``."""
    out: dict[str, Any] = {"type": event.type}
    for name, wire in _WIRE[type(event)]:
        value = getattr(event, name)
        out[wire] = list(value) if isinstance(value, tuple) else value
    return out


def event_from_dict(data: dict[str, Any]) -> Event:
    """Build an event from a plain dict (``at`` and times already POSIX seconds).

    Unknown fields and missing fields are refused with ``InvalidEvent`` naming them.
    """
    kind = data.get("type")
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise InvalidEvent(
            f"unknown event type {kind!r} (known: {', '.join(sorted(EVENT_TYPES))})",
            field="type",
        )
    names = dict((wire, name) for name, wire in _WIRE[cls])
    unknown = [k for k in data if k != "type" and k not in names]
    if unknown:
        raise InvalidEvent(f"{kind}: unknown field {unknown[0]!r}", field=unknown[0])
    missing = sorted(_REQUIRED[cls] - data.keys())
    if missing:
        raise InvalidEvent(f"{kind}: missing field {missing[0]!r}", field=missing[0])
    kwargs: dict[str, Any] = {}
    for wire, value in data.items():
        if wire == "type":
            continue
        kwargs[names[wire]] = tuple(value) if isinstance(value, list) else value
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a value of the wrong shape reached a check
        raise InvalidEvent(f"{kind}: {exc}") from exc
