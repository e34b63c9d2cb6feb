"""Records out: the facts the core concludes, folded into statistics.

Commands tell adapters what to do; records tell the statistics what happened.
A ``ContactRecord`` is produced exactly once per contact, when it ends, with
its outcome classified (docs/ARCHITECTURE.md "Domain") and the raw facts kept beside
the class so any other classification can be recomputed later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from router._fast import fast_init, to_dict_function

__all__ = [
    "OTHER_REASONS",
    "OUTCOMES",
    "RECORD_TYPES",
    "TURNED_AWAY",
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
__all__ += ["ESCALATION_ACTIONS", "EscalationRecord"]

# ``turned_away``: the PBX or carrier turned the caller away itself (queue full,
# caller diverted); a line it reports closed is ``rejected_closed``.
OUTCOMES = ("answered", "rejected_closed", "turned_away", "unanswered")
# In precedence order: the first that matches is the class (docs/ARCHITECTURE.md "Domain").
UNANSWERED_CLASSES = ("missing_data", "no_agent", "short_abandon", "agents_busy", "other")
OTHER_REASONS = ("rang_unanswered", "agents_away")
# The reasons of outcome ``turned_away`` (``ContactRecord.turned_away``).
TURNED_AWAY = ("full", "diverted")


@dataclass(frozen=True, slots=True, kw_only=True)
class Record:
    kind: ClassVar[str] = ""


@fast_init
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
    # Why the PBX or carrier turned the caller away (``contact.turned_away``):
    # ``closed`` (outcome rejected_closed) or one of TURNED_AWAY (outcome turned_away).
    turned_away: str | None = None


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class FeedbackRecord(Record):
    kind: ClassVar[str] = "feedback"
    contact_id: str
    channel: str
    team: str
    at: float
    rating: int


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class FlagRecord(Record):
    kind: ClassVar[str] = "flag"
    contact_id: str
    at: float
    flag: str


@fast_init
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


@fast_init
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


@fast_init
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


# What happened to an escalation, one record each (docs/ROUTING.md "Escalations").
ESCALATION_ACTIONS = (
    "raised",
    "alerted",
    "acknowledged",
    "step_ticked",
    "legal_hold_requested",
    "legal_hold_acknowledged",
    "closed",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class EscalationRecord(Record):
    """One fact of an escalation (duty to avert): raised, a level alerted, acknowledged,
    a step ticked, the legal hold asked for and confirmed, closed. Codes and staff ids
    only: ``by`` is the authenticated principal (or the adapter that raised it)."""

    kind: ClassVar[str] = "escalation"
    escalation_id: str
    action: str  # one of ESCALATION_ACTIONS
    at: float
    raised_at: float
    contact_id: str
    channel: str
    queue: str
    team: str  # the team that owned the contact
    flag: str
    category: str | None = None
    level: int = 0  # the chain level alerted (1-based; 0: not a level's record)
    by: str | None = None
    step: str | None = None
    reason: str | None = None  # the close reason code


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
        EscalationRecord,
        RegistrationRecord,
    )
}
_TO_DICT = {cls: to_dict_function(cls, "kind", cls.kind) for cls in RECORD_TYPES.values()}


def record_to_dict(record: Record) -> dict[str, Any]:
    return _TO_DICT[type(record)](record)


def record_from_dict(data: dict[str, Any]) -> Record:
    cls = RECORD_TYPES[data["kind"]]
    return cls(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k != "kind"}
    )
