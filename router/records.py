"""Records out: the facts the core concludes, folded into statistics.

Commands tell adapters what to do; records tell the statistics what happened.
A ``ContactRecord`` is produced exactly once per contact, when it ends, with
its outcome classified (docs/ARCHITECTURE.md "Domain") and the raw facts kept beside
the class so any other classification can be recomputed later.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

__all__ = [
    "OTHER_REASONS",
    "OUTCOMES",
    "RECORD_TYPES",
    "UNANSWERED_CLASSES",
    "ContactRecord",
    "FeedbackRecord",
    "FlagRecord",
    "GapRecord",
    "LateAnswerRecord",
    "NoAnswerRecord",
    "Record",
    "RegistrationRecord",
    "record_from_dict",
    "record_to_dict",
]

OUTCOMES = ("answered", "rejected_closed", "unanswered")
# In precedence order: the first that matches is the class (docs/ARCHITECTURE.md "Domain").
UNANSWERED_CLASSES = ("missing_data", "no_agent", "short_abandon", "agents_busy", "other")
OTHER_REASONS = ("rang_unanswered", "agents_away")


@dataclass(frozen=True, slots=True, kw_only=True)
class Record:
    kind: ClassVar[str] = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactRecord(Record):
    """One contact, from arrival to its end, with exactly one outcome."""

    kind: ClassVar[str] = "contact"
    contact_id: str
    channel: str
    queue: str
    team: str  # owning team at arrival, or "closed"
    arrived_at: float
    ended_at: float
    outcome: str  # one of OUTCOMES
    unanswered: str | None = None  # one of UNANSWERED_CLASSES
    other_reason: str | None = None  # one of OTHER_REASONS when unanswered == "other"
    answered_at: float | None = None
    agent_id: str | None = None
    agent_team: str | None = None
    wait_s: float = 0.0
    handle_s: float | None = None
    offers: int = 0  # offer commands that included this contact
    agents_rung: int = 0  # distinct agents that were rung
    logged_in_at_arrival: int = 0  # eligible agents logged in on the channel
    busy_at_arrival: int = 0
    logged_in_at_end: int = 0
    busy_at_end: int = 0
    fallback: bool = False  # routed to the fallback team at some point
    end_reconciled: bool = False  # no end event arrived before the reconcile deadline
    flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedbackRecord(Record):
    kind: ClassVar[str] = "feedback"
    contact_id: str
    channel: str
    team: str
    at: float
    rating: int


@dataclass(frozen=True, slots=True, kw_only=True)
class FlagRecord(Record):
    kind: ClassVar[str] = "flag"
    contact_id: str
    at: float
    flag: str


@dataclass(frozen=True, slots=True, kw_only=True)
class GapRecord(Record):
    """A period in which the owning team of a queue had nobody logged in."""

    kind: ClassVar[str] = "gap"
    queue: str
    team: str
    boundary_at: float  # the handover that began the owning team's window
    start: float
    end: float
    others_logged_in: tuple[str, ...] = ()  # fallback agents who could answer


@dataclass(frozen=True, slots=True, kw_only=True)
class NoAnswerRecord(Record):
    """An agent was offered a contact and did not take it."""

    kind: ClassVar[str] = "no_answer"
    agent_id: str
    team: str
    channel: str
    contact_id: str
    at: float
    declined: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class LateAnswerRecord(Record):
    """An agent picked up within ``late_answer_s`` after the router timed its ring out.

    The ring's ``NoAnswerRecord`` (at ``rang_out_at``) was already issued: the
    router learnt of the pick-up only after its own time-out. This record
    withdraws it, so the statistics do not count an answered ring as the
    agent's no-answer.
    """

    kind: ClassVar[str] = "late_answer"
    agent_id: str
    team: str
    channel: str
    contact_id: str
    at: float
    rang_out_at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class RegistrationRecord(Record):
    """A contact's content registration (``contact.registered``); a later one replaces it.

    ``team`` is the answering agent's team; ``answers`` are option codes and
    numbers of ``form`` version ``version`` (router.forms), never text.
    """

    kind: ClassVar[str] = "registration"
    contact_id: str
    channel: str
    team: str
    arrived_at: float
    at: float
    form: str
    version: int
    answers: dict[str, Any]
    amends: int = 0  # how many registrations of this contact came before this one


RECORD_TYPES: dict[str, type[Record]] = {
    r.kind: r
    for r in (
        ContactRecord,
        FeedbackRecord,
        FlagRecord,
        GapRecord,
        NoAnswerRecord,
        LateAnswerRecord,
        RegistrationRecord,
    )
}
_FIELDS = {cls: tuple(f.name for f in fields(cls)) for cls in RECORD_TYPES.values()}


def record_to_dict(record: Record) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": record.kind}
    for name in _FIELDS[type(record)]:
        value = getattr(record, name)
        out[name] = list(value) if isinstance(value, tuple) else value
    return out


def record_from_dict(data: dict[str, Any]) -> Record:
    cls = RECORD_TYPES[data["kind"]]
    return cls(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k != "kind"}
    )
