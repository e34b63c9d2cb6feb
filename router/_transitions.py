"""Every legal state transition of a contact and of an agent's presence, as data.

The core looks a (state, event) pair up here before it changes anything; a
pair that is not in a table is refused with the error class the table names,
so an illegal event never changes state. ``None`` as a target means the pair
is an idempotent no-op (accepted, nothing happens), e.g. ``contact.ended``
after ``contact.abandoned``: carriers send both when a caller hangs up.
"""

from __future__ import annotations

from enum import StrEnum

from router.errors import ContactAlreadyEnded, InvalidTransition, RoutingError

__all__ = [
    "AGENT_REFUSALS",
    "AGENT_TRANSITIONS",
    "CONTACT_REFUSALS",
    "CONTACT_TRANSITIONS",
    "ContactState",
    "Presence",
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


W, OF, S, E = (
    ContactState.WAITING,
    ContactState.OFFERED,
    ContactState.IN_SERVICE,
    ContactState.ENDED,
)

# (state, trigger) -> next state (None: accepted no-op). Triggers are event
# types plus the core's own internal moves (offer, lapse, reconcile).
CONTACT_TRANSITIONS: dict[tuple[ContactState, str], ContactState | None] = {
    (W, "offer"): OF,
    (OF, "offer"): OF,  # ring-all adds a newly ready agent to the ringing set
    (OF, "lapse"): W,  # last ringing agent timed out, declined or left
    (OF, "offer.declined"): OF,  # others still ringing; core moves to W via "lapse" if none
    (OF, "contact.answered"): S,
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
    (W, "chat.feedback"): W,
    (OF, "chat.feedback"): OF,
    (S, "chat.feedback"): S,
    (E, "chat.feedback"): E,  # the form opens when the chat ends
    (W, "contact.flagged"): W,
    (OF, "contact.flagged"): OF,
    (S, "contact.flagged"): S,
    (E, "contact.flagged"): E,  # duty to avert may be decided after the call
}

# Pairs that are refused, with the error to raise (anything else missing is
# an InvalidTransition).
CONTACT_REFUSALS: dict[tuple[ContactState, str], type[RoutingError]] = {
    (E, "contact.answered"): ContactAlreadyEnded,
    (E, "contact.abandoned"): ContactAlreadyEnded,
    (E, "offer.declined"): ContactAlreadyEnded,
    (W, "contact.answered"): InvalidTransition,  # refined to NotOffered by the core
}

LO, R, A = Presence.LOGGED_OUT, Presence.READY, Presence.AWAY

AGENT_TRANSITIONS: dict[tuple[Presence, str], Presence | None] = {
    (LO, "agent.logged_in"): R,
    (R, "agent.logged_in"): R,  # same team: the channel set is replaced
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
    (LO, "contact.answered"): InvalidTransition,
    (LO, "offer.declined"): InvalidTransition,
}
