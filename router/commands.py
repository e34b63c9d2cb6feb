"""Commands out: what the core asks adapters to do (docs/ROUTING.md).

``seq`` is assigned by the core, increasing per helpline, so a replay of the
same events yields the same commands with the same cursors; adapters resume
their command stream from the last ``seq`` they saw. ``at`` is the instant
that caused the command (an event's time or a timer's deadline).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from router._fast import fast_init, to_dict_function

__all__ = [
    "COMMAND_TYPES",
    "Alert",
    "CancelOffer",
    "Command",
    "Offer",
    "Reject",
    "SetMembers",
    "command_from_dict",
    "command_to_dict",
]
__all__ += ["LegalHold"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    type: ClassVar[str] = ""
    seq: int
    at: float


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Offer(Command):
    """Ring these agents (phone) or push the chat to them."""

    type: ClassVar[str] = "offer"
    contact_id: str
    agent_ids: tuple[str, ...]
    ring_timeout_s: float


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class CancelOffer(Command):
    """Stop ringing these agents for this contact."""

    type: ClassVar[str] = "cancel_offer"
    contact_id: str
    agent_ids: tuple[str, ...]


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Reject(Command):
    """Refuse a contact (the queue is closed)."""

    type: ClassVar[str] = "reject"
    contact_id: str
    reason: str


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Alert(Command):
    """Something a supervisor must see: ``handover_gap``, ``agent_auto_away``, ``long_wait``."""

    type: ClassVar[str] = "alert"
    alert_id: str
    kind: str
    details: dict[str, Any]


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class LegalHold(Command):
    """Ask the vendor of the contact's channel to preserve its own trace of the contact
    under its own procedure (duty to avert); Linje records only that it asked."""

    type: ClassVar[str] = "legal_hold"
    contact_id: str
    channel: str
    escalation_id: str


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class SetMembers(Command):
    """The agents who should be reachable on ``queue`` now: the whole list, not a change.

    Applying it twice is harmless; ``version`` grows per queue, so an adapter
    ignores one older than the last it applied (a carrier ring group, a PBX queue).
    """

    type: ClassVar[str] = "set_members"
    queue: str
    agent_ids: tuple[str, ...]
    version: int


COMMAND_TYPES: dict[str, type[Command]] = {
    c.type: c for c in (Offer, CancelOffer, Reject, Alert, LegalHold, SetMembers)
}
_TO_DICT = {cls: to_dict_function(cls, "type", cls.type) for cls in COMMAND_TYPES.values()}


def command_to_dict(command: Command) -> dict[str, Any]:
    """The command as its JSON wire dict (``type`` plus fields, tuples as lists)."""
    return _TO_DICT[type(command)](command)


def command_from_dict(data: dict[str, Any]) -> Command:
    """Inverse of ``command_to_dict`` (used when reading stored commands back)."""
    cls = COMMAND_TYPES[data["type"]]
    kwargs: dict[str, Any] = {
        k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k != "type"
    }
    return cls(**kwargs)
