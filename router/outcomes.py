"""Outcomes: a pure classification of a finished contact from its facts.

DESIGN's taxonomy, first match wins: ``missing_data`` (no end before the
reconcile deadline), ``no_agent`` (no eligible agent logged in at any time
during the wait), ``short_abandon`` (left within ``short_abandon_s``),
``agents_busy`` (never rang anyone and never saw an eligible agent free),
else ``other`` with ``rang_unanswered`` (offered to someone who did not pick
up) or ``agents_away``. A contact the PBX or carrier turned away itself
(``contact.turned_away``, observed queues) is not unanswered: a line it reports
closed is ``rejected_closed`` whatever the coverage plan says, a full queue or
a diverted caller is ``turned_away``, the reason kept in the record. The record
keeps the raw facts beside the class so any other classification can be
recomputed from the log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields

from router._fast import positional_constructor
from router._state import Contact
from router.config import CLOSED
from router.records import ContactRecord

__all__ = [
    "answered_record",
    "classify",
    "closed_record",
    "turned_away_record",
    "unanswered_record",
]

# The one place a finished contact's record is built: positionally, every field in
# the record's own order (checked here at import), since one is built per contact.
_ORDER = (
    "contact_id",
    "channel",
    "queue",
    "team",
    "arrived_at",
    "ended_at",
    "outcome",
    "unanswered",
    "other_reason",
    "answered_at",
    "agent_id",
    "agent_team",
    "wait_s",
    "handle_s",
    "offers",
    "agents_rung",
    "logged_in_at_arrival",
    "busy_at_arrival",
    "logged_in_at_end",
    "busy_at_end",
    "fallback",
    "end_reconciled",
    "flags",
    "turned_away",
)
if tuple(f.name for f in fields(ContactRecord)) != _ORDER:  # pragma: no cover - a guard
    raise TypeError("ContactRecord's fields moved: update router.outcomes._ORDER")
_new_contact_record: Callable[..., ContactRecord] = positional_constructor(ContactRecord)


def classify(
    *,
    missing: bool,
    saw_logged_in: bool,
    wait_s: float,
    short_abandon_s: float,
    rung: bool,
    saw_free: bool,
) -> tuple[str, str | None]:
    """(unanswered class, other reason) of a contact that ended unanswered."""
    if missing:
        return "missing_data", None
    if not saw_logged_in:
        return "no_agent", None
    if wait_s < short_abandon_s:
        return "short_abandon", None
    if not rung and not saw_free:
        return "agents_busy", None
    return "other", "rang_unanswered" if rung else "agents_away"


def closed_record(c: Contact, team: str, at: float) -> ContactRecord:
    """A contact refused because its queue was closed."""
    return ContactRecord(
        contact_id=c.id,
        channel=c.channel,
        queue=c.queue,
        team=team,
        arrived_at=at,
        ended_at=at,
        outcome="rejected_closed",
    )


def _record(
    c: Contact,
    *,
    ended_at: float,
    logged_in_at_end: int,
    busy_at_end: int,
    outcome: str,
    unanswered: str | None,
    other_reason: str | None,
    answered_at: float | None,
    agent_id: str | None,
    agent_team: str | None,
    wait_s: float,
    handle_s: float | None,
    end_reconciled: bool,
    turned_away: str | None = None,
    team: str | None = None,
) -> ContactRecord:
    """A finished contact's record: its class beside the raw facts every record keeps.

    (Built in one call, without an intermediate dict: one record per contact.)
    """
    return _new_contact_record(
        c.id,  # contact_id
        c.channel,  # channel
        c.queue,  # queue
        c.team if team is None else team,  # team
        c.arrived_at,  # arrived_at
        ended_at,  # ended_at
        outcome,  # outcome
        unanswered,  # unanswered
        other_reason,  # other_reason
        answered_at,  # answered_at
        agent_id,  # agent_id
        agent_team,  # agent_team
        wait_s,  # wait_s
        handle_s,  # handle_s
        c.offers,  # offers
        len(c.rung),  # agents_rung
        c.logged_in_at_arrival,  # logged_in_at_arrival
        c.busy_at_arrival,  # busy_at_arrival
        logged_in_at_end,  # logged_in_at_end
        busy_at_end,  # busy_at_end
        c.fallback,  # fallback
        end_reconciled,  # end_reconciled
        c.flags,  # flags
        turned_away,  # turned_away
    )


def turned_away_record(
    c: Contact, *, reason: str, ended_at: float, logged_in_at_end: int, busy_at_end: int
) -> ContactRecord:
    """A contact the PBX or carrier turned away (``contact.turned_away``).

    ``closed``: ``rejected_closed`` (team ``closed``, as a contact the plan
    rejects); ``full`` / ``diverted``: ``turned_away``. Either way the reason and
    the wait are kept.
    """
    closed = reason == "closed"
    return _record(
        c,
        ended_at=ended_at,
        logged_in_at_end=logged_in_at_end,
        busy_at_end=busy_at_end,
        outcome="rejected_closed" if closed else "turned_away",
        unanswered=None,
        other_reason=None,
        answered_at=None,
        agent_id=None,
        agent_team=None,
        wait_s=ended_at - c.arrived_at,
        handle_s=None,
        end_reconciled=False,
        turned_away=reason,
        team=CLOSED if closed else None,
    )


def unanswered_record(
    c: Contact,
    *,
    ended_at: float,
    klass: str,
    reason: str | None,
    logged_in_at_end: int,
    busy_at_end: int,
    missing: bool,
) -> ContactRecord:
    return _record(
        c,
        ended_at=ended_at,
        logged_in_at_end=logged_in_at_end,
        busy_at_end=busy_at_end,
        outcome="unanswered",
        unanswered=klass,
        other_reason=reason,
        answered_at=None,
        agent_id=None,
        agent_team=None,
        wait_s=ended_at - c.arrived_at,
        handle_s=None,
        end_reconciled=missing,
    )


def answered_record(
    c: Contact,
    *,
    agent_id: str,
    agent_team: str,
    ended_at: float,
    logged_in_at_end: int,
    busy_at_end: int,
    reconciled: bool,
) -> ContactRecord:
    assert c.answered_at is not None
    return _record(
        c,
        ended_at=ended_at,
        logged_in_at_end=logged_in_at_end,
        busy_at_end=busy_at_end,
        outcome="answered",
        unanswered=None,
        other_reason=None,
        answered_at=c.answered_at,
        agent_id=agent_id,
        agent_team=agent_team,
        wait_s=c.answered_at - c.arrived_at,
        handle_s=ended_at - c.answered_at,
        end_reconciled=reconciled,
    )
