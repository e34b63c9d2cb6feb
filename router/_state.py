"""Mutable per-entity state of the core (contacts, agents' channels, queues, alerts).

States themselves (``ContactState``, ``Presence``, ``ChannelState``) are owned
by ``router.tables``; these records only hold them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from router.coverage import Segment
from router.tables import ChannelState, ContactState, Presence

__all__ = ["Agent", "AgentChannel", "AlertState", "Contact", "GapState", "QueueState"]


# init=False: the constructor below is compiled by the native build (docs/PERFORMANCE.md),
# where dataclass's generated one would stay interpreted; eq and repr come from dataclass.
@dataclass(slots=True, init=False)
class Contact:
    id: str
    channel: str
    queue: str
    arrived_at: float
    seq: int
    team: str  # owning team at arrival ("closed" if rejected)
    state: ContactState = ContactState.WAITING
    # agent -> time the ring times out
    ringing: dict[str, float] = field(default_factory=dict)
    # agent -> time before which it is not rung again for this contact (None: nobody);
    # created on first use: most contacts never need it, and fewer objects per
    # contact is less work for Python's garbage collector
    cooldown: dict[str, float] | None = None
    # agent -> time its offer lapsed (for a late pick-up within late_answer_s)
    lapsed: dict[str, float] | None = None
    rung: set[str] = field(default_factory=set)
    offers: int = 0
    # What the contact saw while it waited, as of its first look (at the end of
    # the step it arrived in) plus the queue's epochs then: an epoch that moved
    # since means the queue had an eligible agent logged in / free at some step.
    saw_logged_in: bool = False
    saw_free: bool = False
    logged_epoch: int = 0
    free_epoch: int = 0
    fallback: bool = False
    logged_in_at_arrival: int = 0
    busy_at_arrival: int = 0
    agent_id: str | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    flags: tuple[str, ...] = ()
    feedback: bool = False  # its post-chat form has been received
    long_wait_alert: str | None = None

    def __init__(  # noqa: PLR0917 - the dataclass's positional signature, kept
        self,
        id: str,
        channel: str,
        queue: str,
        arrived_at: float,
        seq: int,
        team: str,
        state: ContactState = ContactState.WAITING,
        ringing: dict[str, float] | None = None,
        cooldown: dict[str, float] | None = None,
        lapsed: dict[str, float] | None = None,
        rung: set[str] | None = None,
        offers: int = 0,
        saw_logged_in: bool = False,
        saw_free: bool = False,
        logged_epoch: int = 0,
        free_epoch: int = 0,
        fallback: bool = False,
        logged_in_at_arrival: int = 0,
        busy_at_arrival: int = 0,
        agent_id: str | None = None,
        answered_at: float | None = None,
        ended_at: float | None = None,
        flags: tuple[str, ...] = (),
        feedback: bool = False,
        long_wait_alert: str | None = None,
    ) -> None:
        self.id = id
        self.channel = channel
        self.queue = queue
        self.arrived_at = arrived_at
        self.seq = seq
        self.team = team
        self.state = state
        self.ringing = {} if ringing is None else ringing
        self.cooldown = cooldown
        self.lapsed = lapsed
        self.rung = set() if rung is None else rung
        self.offers = offers
        self.saw_logged_in = saw_logged_in
        self.saw_free = saw_free
        self.logged_epoch = logged_epoch
        self.free_epoch = free_epoch
        self.fallback = fallback
        self.logged_in_at_arrival = logged_in_at_arrival
        self.busy_at_arrival = busy_at_arrival
        self.agent_id = agent_id
        self.answered_at = answered_at
        self.ended_at = ended_at
        self.flags = flags
        self.feedback = feedback
        self.long_wait_alert = long_wait_alert


@dataclass(slots=True)
class AgentChannel:
    """One agent on one channel; the indexes of the core follow its flags."""

    agent_id: str
    team: str
    channel: str
    seq: int  # the agent's login order: strategies break ties on it
    presence: Presence
    since: float  # when the displayed state last changed
    idle_since: float  # when it last became free (longest-idle strategy)
    state: ChannelState = ChannelState.READY  # displayed, kept current by the core
    active: dict[str, None] = field(default_factory=dict)  # contacts in service
    offered: dict[str, None] = field(default_factory=dict)  # contacts ringing here
    wrap_until: float | None = None
    occupied: bool = False  # counted in the core's occupied index
    takes: bool = False  # in the core's ready index (can be offered a contact now)


@dataclass(slots=True)
class Agent:
    id: str
    team: str
    seq: int  # order of first login: ties in strategies break on it
    channels: dict[str, AgentChannel] = field(default_factory=dict)
    away_reason: str | None = None
    no_answer_streak: int = 0
    auto_away_alert: str | None = None

    @property
    def presence(self) -> Presence:
        if not self.channels:
            return Presence.LOGGED_OUT
        for c in self.channels.values():
            if c.presence is Presence.READY:
                return Presence.READY
        return Presence.AWAY


@dataclass(slots=True)
class GapState:
    team: str
    boundary_at: float
    start: float
    alert_id: str


@dataclass(slots=True)
class QueueState:
    name: str
    channel: str
    strategy: str
    segment: Segment
    last_team: str  # last open owner: serves contacts still queued after closing
    fallback: bool = True  # may borrow the fallback teams' agents (config)
    grace_s: float = 300.0
    gap: GapState | None = None
    # Eligibility, cached until who is logged in on the channel or the owner changes.
    teams: tuple[str, ...] | None = None
    teams_were: tuple[str, ...] | None = None  # the last eligibility computed (rosters)
    serving: str = ""
    fallback_active: bool = False
    rr_last: str | None = None  # round-robin cursor (agent id)
    # Whether an eligible agent was logged in / free at the last step, and how
    # many times either went from none to some (contacts compare epochs).
    census: tuple[int, int] = (0, 0)  # (logged in, occupied) at the last census
    any_logged: bool = False
    any_free: bool = False
    logged_epoch: int = 0
    free_epoch: int = 0


@dataclass(slots=True)
class AlertState:
    id: str
    kind: str
    raised_at: float
    details: dict[str, Any]
    open: bool = True
    closed_at: float | None = None
    acked_by: str | None = None
    acked_at: float | None = None
