"""Escalations (duty to avert): a flag on a contact that reaches a person.

A ``contact.flagged`` of a configured kind (``duty_to_avert``, straffeloven
section 196; ``self_harm_risk``; ...), during a contact or up to
``raise_window_s`` after it ended, raises an escalation: an
``alert(kind="escalation")`` at once to the supervisors of every team (the
owning team and the other organisation), and, for a kind with ``legal_hold``,
a ``legal_hold`` command to the adapter of the contact's channel. Each level
of the configured chain waits ``ack_timeout_s`` for an acknowledgement
(``alert.acknowledged`` of any of its alerts, a first ticked step, or a close); then the
next level is alerted. The chain runs on the core's timers, so it goes on
across handovers: every level's alert also names the team on duty for the
contact's queue now. A supervisor ticks the handbook's steps
(``escalation.step_ticked``); the escalation closes when the last required step
is ticked, or with ``escalation.closed`` and a configured reason code.
Everything is a code or a staff id: no free text, no caller identity. Each
fact is an ``EscalationRecord`` (``router.escalation_stats`` folds them).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from mypy_extensions import mypyc_attr

from router._base import expired
from router._observe import ObserveMixin
from router.commands import LegalHold
from router.config import CLOSED, EscalationLevel, HelplineConfig
from router.errors import EscalationRefused, FlagRefused, UnknownEscalation
from router.events import (
    AlertAcknowledged,
    ContactFlagged,
)
from router.events_escalation import (
    EscalationClosed,
    EscalationStepTicked,
    LegalHoldAcknowledged,
)
from router.records import EscalationRecord
from router.tables import ContactState, TimerKind

__all__ = [
    "CHECKLIST_COMPLETE",
    "EscalationRefused",
    "EscalationState",
    "EscalationsMixin",
    "FlagRefused",
    "UnknownEscalation",
]

ESCALATE = TimerKind.ESCALATE
# The close reason recorded when the last required step of the checklist is ticked.
CHECKLIST_COMPLETE = "checklist_complete"


@dataclass(slots=True)
class EscalationState:
    id: str
    contact_id: str
    channel: str
    queue: str
    team: str  # the team that owned the contact (its agent's team once answered)
    agent_id: str | None
    flag: str
    category: str | None
    raised_at: float
    raised_by: str
    level: int = 0  # the highest chain level alerted (1-based)
    alert_ids: list[str] = field(default_factory=list)
    alerted: list[tuple[float, tuple[str, ...]]] = field(default_factory=list)  # per level
    acked_by: str | None = None
    acked_at: float | None = None
    ticks: dict[str, tuple[str, float]] = field(default_factory=dict)  # step -> (by, at)
    hold_requested_at: float | None = None
    hold_acked_at: float | None = None
    closed_at: float | None = None
    closed_by: str | None = None
    close_reason: str | None = None


def _facts(e: EscalationState) -> dict[str, Any]:
    """What every alert and view of an escalation says about it: codes and ids only."""
    return {
        "escalation_id": e.id,
        "contact_id": e.contact_id,
        "channel": e.channel,
        "queue": e.queue,
        "team": e.team,
        "agent_id": e.agent_id,
        "flag": e.flag,
        "category": e.category,
    }


def _codes(items: Any) -> str:
    return ", ".join(i.code for i in items) or "none"


@mypyc_attr(allow_interpreted_subclasses=True)
class EscalationsMixin(ObserveMixin):
    def __init__(self, config: HelplineConfig) -> None:
        super().__init__(config)
        self._escalations: dict[str, EscalationState] = {}
        self._esc_by_contact: dict[str, str] = {}  # contact -> its latest escalation
        self._closed_escalations: deque[tuple[float, str]] = deque()
        self._esc_seq = 0

    # ------------------------------------------------------------- raising
    def _check_flagged(self, ev: ContactFlagged) -> None:
        c = self._contact(ev.contact_id)
        self._check_contact_note(ev)  # type: ignore[attr-defined]
        cfg = self.config.escalations
        kind = cfg.flags.get(ev.flag)
        if kind is None:
            raise FlagRefused(
                f"flag is not a configured flag kind (configured: {', '.join(cfg.flags)})",
                field="flag",
            )
        if ev.category is not None and ev.category not in {x.code for x in kind.categories}:
            raise FlagRefused(
                "category is not a configured category of this flag kind "
                f"(configured: {_codes(kind.categories)})",
                field="category",
            )
        if c.state is ContactState.ENDED and c.ended_at is not None:
            now = ev.at if self.now is None else max(self._clock, ev.at)
            if now - c.ended_at > cfg.raise_window_s:
                raise FlagRefused(
                    f"contact {c.id} ended {now - c.ended_at:.0f} s ago; a flag is accepted "
                    f"up to {cfg.raise_window_s:g} s after a contact ends",
                    field="contact_id",
                )

    def _on_flag(self, ev: ContactFlagged) -> None:
        self._on_flagged(ev)  # type: ignore[attr-defined]
        c = self._contacts[ev.contact_id]
        prev = self._escalations.get(self._esc_by_contact.get(c.id, ""))
        if prev is not None and prev.closed_at is None:
            return  # one open escalation per contact: the flag is recorded, nothing more
        now = self._fact
        agent = self._agents.get(c.agent_id) if c.agent_id else None
        self._esc_seq += 1
        e = EscalationState(
            id=f"esc-{self._esc_seq}",
            contact_id=c.id,
            channel=c.channel,
            queue=c.queue,
            team=agent.team if agent is not None else c.team,
            agent_id=c.agent_id,
            flag=ev.flag,
            category=ev.category,
            raised_at=now,
            raised_by=ev.source,
        )
        self._escalations[e.id] = e
        self._esc_by_contact[c.id] = e.id
        self._esc_record(e, "raised", by=ev.source)
        self._alert_level(e, 1)
        if not self.config.escalations.flags[ev.flag].legal_hold:
            return
        if prev is not None and prev.hold_requested_at is not None:
            # Asked once for this contact already: the vendor keeps that trace.
            e.hold_requested_at, e.hold_acked_at = prev.hold_requested_at, prev.hold_acked_at
            return
        self._emit(LegalHold, contact_id=c.id, channel=c.channel, escalation_id=e.id)
        e.hold_requested_at = now
        self._esc_record(e, "legal_hold_requested", by=ev.source)

    # ------------------------------------------------------------ the chain
    def _teams_of(self, e: EscalationState, level: EscalationLevel) -> set[str]:
        teams = set(self.config.teams)
        if level.team == "all" or (level.team == "owner" and e.team not in teams):
            return teams
        return {e.team if level.team == "owner" else level.team}

    def _on_duty(self, e: EscalationState) -> str:
        q = self._queues.get(e.queue)
        if q is None:
            return e.team
        return q.segment.owner if q.segment.owner != CLOSED else q.last_team

    def _alert_level(self, e: EscalationState, n: int) -> None:
        chain = self.config.escalations.chain
        level = chain[n - 1]
        addressed = self._teams_of(e, level)
        on_duty = self._on_duty(e)
        # The first alert goes to both organisations at once; every level's alert also
        # reaches the team on duty now (the incoming team after a handover).
        teams = set(self.config.teams)
        to = sorted(teams if n == 1 else (addressed | {on_duty}) & teams)
        now = self._clock
        alert_id = self._alert(
            "escalation",
            {
                **_facts(e),
                "level": n,
                "levels": len(chain),
                "role": level.role,
                "addressed": sorted(addressed),
                "to": to,
                "on_duty": on_duty,
                "raised_at": round(e.raised_at, 3),
            },
        )
        e.level = n
        e.alert_ids.append(alert_id)
        e.alerted.append((now, tuple(to)))
        self._esc_record(e, "alerted", level=n)
        if n < len(chain):
            self._timers.set(now + level.ack_timeout_s, ESCALATE, e.id)

    def _escalate(self, escalation_id: str) -> None:
        """A level's acknowledgement time ran out: alert the next level."""
        e = self._escalations.get(escalation_id)
        if e is None or e.closed_at is not None or e.acked_at is not None:
            return
        if e.level < len(self.config.escalations.chain):
            self._alert_level(e, e.level + 1)

    # ------------------------------------------------------ acknowledgement
    def _on_alert_ack(self, ev: AlertAcknowledged) -> None:
        self._on_ack(ev)  # type: ignore[attr-defined]
        alert = self._alerts[ev.alert_id]
        if alert.kind == "escalation":
            e = self._escalations.get(alert.details.get("escalation_id", ""))
            if e is not None and e.closed_at is None and e.acked_at is None:
                self._acknowledge(e, ev.by)

    def _acknowledge(self, e: EscalationState, by: str) -> None:
        e.acked_by, e.acked_at = by, self._fact
        self._stop_chain(e, by)
        self._esc_record(e, "acknowledged", by=by, level=e.level)

    def _stop_chain(self, e: EscalationState, by: str | None) -> None:
        self._timers.cancel(ESCALATE, e.id)
        for alert_id in e.alert_ids:
            alert = self._alerts.get(alert_id)
            if alert is not None and alert.acked_by is None and by is not None:
                alert.acked_by, alert.acked_at = by, self._clock
            self._close_alert(alert_id)

    # ------------------------------------------------------ checklist, close
    def _open_escalation(self, escalation_id: str) -> EscalationState:
        e = self._escalations.get(escalation_id)
        if e is None:
            raise UnknownEscalation(f"unknown escalation {escalation_id!r}", field="escalation_id")
        if e.closed_at is not None:
            raise EscalationRefused(
                f"escalation {e.id} is closed ({e.close_reason})", field="escalation_id"
            )
        return e

    def _check_tick(self, ev: EscalationStepTicked) -> None:
        e = self._open_escalation(ev.escalation_id)
        steps = self.config.escalations.checklist
        if ev.step not in {s.code for s in steps}:
            raise EscalationRefused(
                f"step is not a step of the configured checklist (steps: {_codes(steps)})",
                field="step",
            )
        if ev.step in e.ticks:
            raise EscalationRefused(
                f"step {ev.step} of escalation {e.id} was already ticked by {e.ticks[ev.step][0]}",
                field="step",
            )

    def _on_tick(self, ev: EscalationStepTicked) -> None:
        e = self._escalations[ev.escalation_id]
        if e.acked_at is None:
            self._acknowledge(e, ev.by)  # someone is working on it: the chain stops
        e.ticks[ev.step] = (ev.by, self._fact)
        self._esc_record(e, "step_ticked", by=ev.by, step=ev.step)
        required = [s.code for s in self.config.escalations.checklist if s.required]
        if required and all(s in e.ticks for s in required):
            self._close_escalation(e, CHECKLIST_COMPLETE, ev.by)

    def _check_close(self, ev: EscalationClosed) -> None:
        self._open_escalation(ev.escalation_id)
        reasons = self.config.escalations.close_reasons
        if ev.reason not in {r.code for r in reasons}:
            raise EscalationRefused(
                f"reason is not a configured close reason (configured: {_codes(reasons)})",
                field="reason",
            )

    def _on_close(self, ev: EscalationClosed) -> None:
        e = self._escalations[ev.escalation_id]
        if e.acked_at is None:
            self._acknowledge(e, ev.by)  # whoever closes it has seen it
        self._close_escalation(e, ev.reason, ev.by)

    def _close_escalation(self, e: EscalationState, reason: str, by: str) -> None:
        e.closed_at, e.closed_by, e.close_reason = self._fact, by, reason
        self._stop_chain(e, None)
        self._closed_escalations.append((self._clock, e.id))
        self._esc_record(e, "closed", by=by, reason=reason)

    # ----------------------------------------------------------- legal hold
    def _check_hold_ack(self, ev: LegalHoldAcknowledged) -> None:
        e = self._escalations.get(self._esc_by_contact.get(ev.contact_id, ""))
        if e is None or e.hold_requested_at is None:
            raise UnknownEscalation(
                f"no legal_hold was asked for contact {ev.contact_id}", field="contact_id"
            )

    def _on_hold_ack(self, ev: LegalHoldAcknowledged) -> None:
        e = self._escalations[self._esc_by_contact[ev.contact_id]]
        if e.hold_acked_at is None:  # a second confirmation changes nothing
            e.hold_acked_at = self._fact
            self._esc_record(e, "legal_hold_acknowledged", by=ev.source)

    # ------------------------------------------------------------ the rest
    def _esc_record(self, e: EscalationState, action: str, **extra: Any) -> None:
        self._record(
            EscalationRecord(
                escalation_id=e.id,
                action=action,
                at=self._fact,
                raised_at=e.raised_at,
                contact_id=e.contact_id,
                channel=e.channel,
                queue=e.queue,
                team=e.team,
                flag=e.flag,
                category=e.category,
                **extra,
            )
        )

    def _purge_escalations(self, horizon: float) -> None:
        for esc_id in expired(self._closed_escalations, horizon):
            e = self._escalations.pop(esc_id, None)
            if e is not None and self._esc_by_contact.get(e.contact_id) == e.id:
                del self._esc_by_contact[e.contact_id]

    def escalation_views(self) -> list[dict[str, Any]]:
        """The open escalations, oldest first, as the supervisor's view shows them."""
        cfg = self.config.escalations
        out = []
        for e in self._escalations.values():
            if e.closed_at is not None:
                continue
            out.append(
                {
                    **_facts(e),
                    "alert_id": e.alert_ids[-1] if e.alert_ids else None,
                    "raised_at": round(e.raised_at, 3),
                    "raised_by": e.raised_by,
                    "level": e.level,
                    "levels": len(cfg.chain),
                    "alerted": [{"at": round(t, 3), "to": list(to)} for t, to in e.alerted],
                    "on_duty": self._on_duty(e),
                    "acknowledged_by": e.acked_by,
                    "acknowledged_at": None if e.acked_at is None else round(e.acked_at, 3),
                    "checklist": [
                        {
                            "step": s.code,
                            "required": s.required,
                            "ticked_by": e.ticks[s.code][0] if s.code in e.ticks else None,
                            "ticked_at": (
                                round(e.ticks[s.code][1], 3) if s.code in e.ticks else None
                            ),
                        }
                        for s in cfg.checklist
                    ],
                    "legal_hold": (
                        None
                        if e.hold_requested_at is None
                        else {
                            "requested_at": round(e.hold_requested_at, 3),
                            "acknowledged_at": (
                                None if e.hold_acked_at is None else round(e.hold_acked_at, 3)
                            ),
                        }
                    ),
                }
            )
        return sorted(out, key=lambda v: (v["raised_at"], v["escalation_id"]))
