"""Every state of a contact and of an agent's channel, and every transition, as data.

This module owns the states. The core never assigns a state by hand: it looks
the (state, trigger) pair up here and the table's target becomes the state
(``move_contact``, ``move_presence``), as h11's ``_state.py`` does. A pair that
is not a row is refused with the error class the refusal table names (or
``InvalidTransition``) and nothing changes. ``None`` as a target is an
accepted no-op: ``contact.ended`` after ``contact.abandoned`` (carriers send
both when a caller hangs up).

Triggers are event types plus the core's own moves:

* ``offer`` / ``lapse``: the core rang agents / the last ringing agent timed
  out, declined or left;
* ``late_answer``: a pick-up from an agent whose offer lapsed at most
  ``late_answer_s`` ago, with room on the channel (the carrier and the router
  race at the ring timeout). The core chooses this trigger instead of
  ``contact.answered`` when that condition holds; it is the only conditional
  transition;
* ``closed``: the contact arrived while its queue was closed;
* ``reconcile``: no end event arrived before the reconcile deadline;
* ``auto_away``: the agent let ``max_no_answer`` offers in a row ring out;
* ``observed_answer``: in a queue that routes itself (``routing = "observe"``)
  a pick-up reported by the carrier or PBX, which needs no offer from Linje.

Which triggers a queue's routing mode admits is data too: ``MODE_TRIGGERS``
(observed rings only where the PBX routes, Linje's offers only where it decides).

What an agent's channel *shows* (ready, offered, busy, wrap-up, away) follows
from its presence and what it holds; ``channel_state`` reads it off
``CHANNEL_DISPLAY``.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

from router.errors import (
    ContactAlreadyEnded,
    FeedbackRefused,
    InvalidTransition,
    NotOffered,
    RoutingError,
)

__all__ = [
    "AGENT_REFUSALS",
    "AGENT_TRANSITIONS",
    "CHANNEL_DISPLAY",
    "CHANNEL_PRESENCE",
    "CONTACT_REFUSALS",
    "CONTACT_TRANSITIONS",
    "MODE_TRIGGERS",
    "ChannelState",
    "ContactState",
    "Presence",
    "TimerKind",
    "agent_next",
    "channel_state",
    "contact_next",
    "mode_allows",
]


class ContactState(StrEnum):
    WAITING = "waiting"  # queued, ringing nobody
    OFFERED = "offered"  # ringing (phone) or pushed (chat) to one or more agents
    IN_SERVICE = "in_service"  # answered, conversation going on
    ENDED = "ended"


class Presence(StrEnum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    AWAY = "away"


class ChannelState(StrEnum):
    """What a supervisor sees for one agent on one channel."""

    LOGGED_OUT = "logged_out"
    READY = "ready"
    OFFERED = "offered"
    BUSY = "busy"
    WRAP_UP = "wrap_up"
    AWAY = "away"


class TimerKind(IntEnum):
    """The core's timers; the value orders nothing (ties break on the set order)."""

    RING = 0
    RETRY = 1
    WRAP = 2
    HANDOVER = 3
    GRACE = 4
    RECONCILE = 5
    LONG_WAIT = 6
    ESCALATE = 7  # an escalation level's acknowledgement time ran out


W, OF, S, E = (
    ContactState.WAITING,
    ContactState.OFFERED,
    ContactState.IN_SERVICE,
    ContactState.ENDED,
)

CONTACT_TRANSITIONS: dict[tuple[ContactState, str], ContactState | None] = {
    (W, "closed"): E,  # arrived while its queue is closed: rejected at once
    (W, "offer"): OF,
    (OF, "offer"): OF,  # ring-all adds a newly ready agent to the ringing set
    (OF, "lapse"): W,  # last ringing agent timed out, declined or left
    (OF, "offer.declined"): OF,  # others may still ring; "lapse" follows if none does
    (OF, "contact.answered"): S,
    (W, "late_answer"): S,  # conditional: picked up just as the ring timed out
    (OF, "late_answer"): S,  # the same while the contact rings other agents
    (S, "contact.answered"): None,  # the same pick-up reported twice
    (W, "contact.abandoned"): E,
    (OF, "contact.abandoned"): E,
    (S, "contact.abandoned"): E,  # caller hung up mid-conversation: a normal end
    (W, "contact.ended"): E,  # an unanswered call's end is its abandonment
    (OF, "contact.ended"): E,
    (S, "contact.ended"): E,
    (E, "contact.ended"): None,  # hangup then end: both from the carrier
    (W, "reconcile"): E,
    (OF, "reconcile"): E,
    (S, "reconcile"): E,
    (E, "chat.feedback"): None,  # the form opens when the chat ends (one per answered chat)
    (W, "contact.flagged"): None,
    (OF, "contact.flagged"): None,
    (S, "contact.flagged"): None,
    (E, "contact.flagged"): None,  # duty to avert may be decided after the call
    # Observed routing: the carrier or PBX rings, Linje follows.
    (W, "contact.rang"): OF,
    (OF, "contact.rang"): OF,  # it rings more agents (ring-all, a hunt moving on)
    (S, "contact.rang"): None,  # a ring reported after the pick-up (same-second order)
    (OF, "contact.ring_ended"): OF,  # "lapse" follows once nobody rings
    (S, "contact.ring_ended"): None,
    (W, "observed_answer"): S,  # the PBX connected it: no offer from Linje needed
    (OF, "observed_answer"): S,
    (W, "contact.moved"): None,  # to another queue of its channel, still waiting
    (OF, "contact.moved"): None,
    (W, "contact.turned_away"): E,  # the PBX closed, was full or diverted the caller
    (OF, "contact.turned_away"): E,  # (DIVERT_HOLDTIME may come while members ring)
}

# Refused pairs and the error each raises (any other missing pair: InvalidTransition).
CONTACT_REFUSALS: dict[tuple[ContactState, str], type[RoutingError]] = {
    (E, "contact.answered"): ContactAlreadyEnded,
    (E, "late_answer"): ContactAlreadyEnded,
    (E, "contact.abandoned"): ContactAlreadyEnded,
    (E, "offer.declined"): ContactAlreadyEnded,
    (W, "contact.answered"): NotOffered,  # only a ringing agent (or a late_answer) picks up
    (W, "offer.declined"): NotOffered,
    (W, "chat.feedback"): FeedbackRefused,  # the chat vendor's form opens when it ends
    (OF, "chat.feedback"): FeedbackRefused,
    (S, "chat.feedback"): FeedbackRefused,
    (E, "contact.rang"): ContactAlreadyEnded,
    (E, "contact.ring_ended"): ContactAlreadyEnded,
    (W, "contact.ring_ended"): NotOffered,  # nobody was ringing
    (E, "observed_answer"): ContactAlreadyEnded,
    (E, "contact.moved"): ContactAlreadyEnded,
    (E, "contact.turned_away"): ContactAlreadyEnded,
    # (S, "contact.turned_away") is no row: an answered caller was not turned away.
}

# Triggers that only one routing mode admits; any other trigger serves both.
# In an observed queue the PBX rings (Linje offers nothing, times nothing out,
# sets nobody away); in a decided queue rings are Linje's own offers.
MODE_TRIGGERS: dict[str, frozenset[str]] = {
    "offer": frozenset({"decide"}),
    "offer.declined": frozenset({"decide"}),
    "late_answer": frozenset({"decide"}),
    "auto_away": frozenset({"decide"}),
    "contact.rang": frozenset({"observe"}),
    "contact.ring_ended": frozenset({"observe"}),
    "observed_answer": frozenset({"observe"}),
    # Only where the PBX decides may it turn a caller away (in decide mode Linje
    # rejects a contact itself, by its coverage plan: the ``closed`` row).
    "contact.turned_away": frozenset({"observe"}),
}

LO, R, A = Presence.LOGGED_OUT, Presence.READY, Presence.AWAY

# An agent's presence over all its channels (ready if any channel is ready).
AGENT_TRANSITIONS: dict[tuple[Presence, str], Presence | None] = {
    (LO, "agent.logged_in"): R,
    (R, "agent.logged_in"): R,  # same team: more channels
    (A, "agent.logged_in"): A,
    (R, "agent.logged_out"): LO,
    (A, "agent.logged_out"): LO,
    (LO, "agent.logged_out"): None,  # a second logout is harmless
    (R, "agent.ready"): R,
    (A, "agent.ready"): R,
    (R, "agent.away"): A,
    (A, "agent.away"): A,  # a new reason
    (R, "auto_away"): A,
}

AGENT_REFUSALS: dict[tuple[Presence, str], type[RoutingError]] = {
    (LO, "agent.ready"): InvalidTransition,
    (LO, "agent.away"): InvalidTransition,
    (A, "auto_away"): InvalidTransition,
    (LO, "auto_away"): InvalidTransition,
}

# One channel's presence; a channel exists only while logged in on it.
CHANNEL_PRESENCE: dict[tuple[Presence, str], Presence] = {
    (R, "agent.ready"): R,
    (A, "agent.ready"): R,
    (R, "agent.away"): A,
    (A, "agent.away"): A,
    (R, "auto_away"): A,
    (A, "auto_away"): A,
}

# (holds a contact in service, has one ringing, in wrap-up, presence) -> what it shows.
# First true condition wins: busy, then offered, then wrap-up, then away, else ready.
CHANNEL_DISPLAY: dict[tuple[bool, bool, bool, Presence], ChannelState] = {
    (busy, offered, wrap, p): (
        ChannelState.BUSY
        if busy
        else ChannelState.OFFERED
        if offered
        else ChannelState.WRAP_UP
        if wrap
        else ChannelState.AWAY
        if p is A
        else ChannelState.READY
    )
    for busy in (False, True)
    for offered in (False, True)
    for wrap in (False, True)
    for p in (R, A)
}


def contact_next(state: ContactState, trigger: str, contact_id: str) -> ContactState | None:
    """The table's target for ``(state, trigger)``; raises the refusal naming the contact."""
    try:
        return CONTACT_TRANSITIONS[(state, trigger)]
    except KeyError:
        err = CONTACT_REFUSALS.get((state, trigger), InvalidTransition)
        raise err(
            f"{trigger} is not allowed for contact {contact_id} in state {state.value}"
        ) from None


def agent_next(presence: Presence, trigger: str, agent_id: str) -> Presence | None:
    """The agent table's target for ``(presence, trigger)``; raises the refusal naming the agent."""
    try:
        return AGENT_TRANSITIONS[(presence, trigger)]
    except KeyError:
        err = AGENT_REFUSALS.get((presence, trigger), InvalidTransition)
        raise err(f"{trigger} is not allowed for agent {agent_id} ({presence.value})") from None


def mode_allows(mode: str, trigger: str) -> bool:
    """Whether a queue routed in ``mode`` admits ``trigger`` (``MODE_TRIGGERS``)."""
    modes = MODE_TRIGGERS.get(trigger)
    return modes is None or mode in modes


def channel_state(busy: bool, offered: bool, wrap: bool, presence: Presence) -> ChannelState:
    return CHANNEL_DISPLAY[(busy, offered, wrap, presence)]
