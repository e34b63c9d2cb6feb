"""Events in for escalations (duty to avert): supervisors work them, adapters confirm holds.

Kept beside ``router.events`` (registered into its tables on import, which
``router.core`` does): ``escalation.step_ticked`` and ``escalation.closed``
(supervisors; ``by`` is the authenticated principal) and
``legal_hold.acknowledged`` (the channel's adapter). Codes and ids only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from router.events import Event, register_event_types

__all__ = ["EscalationClosed", "EscalationStepTicked", "LegalHoldAcknowledged"]


@dataclass(frozen=True, slots=True, kw_only=True)
class EscalationStepTicked(Event):
    """A supervisor ticked one step of an escalation's procedure checklist."""

    type: ClassVar[str] = "escalation.step_ticked"
    _ids: ClassVar[tuple[str, ...]] = ("escalation_id", "by")
    _words: ClassVar[tuple[str, ...]] = ("step",)
    escalation_id: str
    step: str
    by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EscalationClosed(Event):
    """A supervisor closed an escalation with one of the configured reason codes."""

    type: ClassVar[str] = "escalation.closed"
    _ids: ClassVar[tuple[str, ...]] = ("escalation_id", "by")
    _words: ClassVar[tuple[str, ...]] = ("reason",)
    escalation_id: str
    reason: str
    by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LegalHoldAcknowledged(Event):
    """The channel's adapter confirms its vendor took the ``legal_hold`` request."""

    type: ClassVar[str] = "legal_hold.acknowledged"
    _ids: ClassVar[tuple[str, ...]] = ("contact_id",)
    contact_id: str


register_event_types(EscalationStepTicked, EscalationClosed, LegalHoldAcknowledged)
