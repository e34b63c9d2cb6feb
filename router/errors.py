"""One error hierarchy, split by whose fault it is.

``BadInput`` (and its ``RoutingError`` family) is the caller's fault: the event
was refused and the core's state is exactly as before. ``InternalError`` is our
bug. Every error carries the HTTP status the service maps it to and a short
``code`` used as the problem type (RFC 9457) so adapters can branch on it.
"""

from __future__ import annotations

__all__ = [
    "AgentBusy",
    "AlreadyAnswered",
    "AlreadyLoggedIn",
    "BadInput",
    "CheckpointError",
    "ConfigError",
    "ContactAlreadyEnded",
    "EscalationRefused",
    "FeedbackRefused",
    "FlagRefused",
    "IdempotencyConflict",
    "InternalError",
    "InvalidEvent",
    "InvalidTransition",
    "LinjeError",
    "NotOffered",
    "RoutingError",
    "TimeWentBackwards",
    "UnknownAgent",
    "UnknownAlert",
    "UnknownContact",
    "UnknownEscalation",
    "UnknownName",
]


class LinjeError(Exception):
    """Base of every error Linje raises on purpose."""

    status: int = 500
    code: str = "internal"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class InternalError(LinjeError):
    """An invariant of the core broke: our bug, never the caller's."""

    status = 500
    code = "internal"


class BadInput(LinjeError):
    """The caller sent something we refuse; nothing was changed."""

    status = 400
    code = "bad-input"


class ConfigError(BadInput):
    """A configuration file is invalid; names the file, the key and the reason."""

    code = "invalid-config"

    def __init__(self, detail: str, *, file: str | None = None, key: str | None = None) -> None:
        where = ": ".join(p for p in (file, key) if p)
        super().__init__(f"{where}: {detail}" if where else detail, field=key)
        self.file = file
        self.key = key


class InvalidEvent(BadInput):
    """The event itself is malformed (bad field value, unknown type)."""

    status = 422
    code = "invalid-event"


class RoutingError(BadInput):
    """The event is well formed but not acceptable in the current state."""

    status = 409
    code = "routing-conflict"


class UnknownName(RoutingError):
    """The event refers to something the core does not know."""

    status = 422
    code = "unknown-reference"


class UnknownAgent(UnknownName):
    code = "unknown-agent"


class UnknownContact(UnknownName):
    code = "unknown-contact"


class UnknownAlert(UnknownName):
    code = "unknown-alert"


class ContactAlreadyEnded(RoutingError):
    code = "contact-ended"


class NotOffered(RoutingError):
    code = "not-offered"


class AgentBusy(RoutingError):
    code = "agent-busy"


class AlreadyLoggedIn(RoutingError):
    code = "already-logged-in"


class InvalidTransition(RoutingError):
    code = "invalid-transition"


class FeedbackRefused(RoutingError):
    """A post-chat form that does not belong to one ended, answered chat, or a second one."""

    code = "feedback-refused"


class IdempotencyConflict(RoutingError):
    """An ``event_id`` already accepted with another body: the first body is kept."""

    code = "event-id-reused"


class TimeWentBackwards(RoutingError):
    status = 422
    code = "time-went-backwards"


class AlreadyAnswered(RoutingError):
    code = "already-answered"


class FlagRefused(RoutingError):
    """A flag of an unknown kind or category, or on a contact that ended too long ago."""

    code = "flag-refused"


class UnknownEscalation(UnknownName):
    code = "unknown-escalation"


class EscalationRefused(RoutingError):
    """A step or close reason not configured, a step ticked twice, a closed escalation."""

    code = "escalation-refused"


class CheckpointError(LinjeError):
    """The data is not a checkpoint this code can load."""

    status = 500
    code = "bad-checkpoint"
