"""The supervisor's view of a ``Router``: plain, ordered, JSON-ready data.

Built from the router's public read accessors only (no private state, no
import of ``router.core``). No caller data can appear here: contacts are known
only by the adapter's opaque id, agents by their staff id.
"""

from __future__ import annotations

from typing import Any, Protocol

from router._state import Agent, AlertState, Contact, QueueState
from router.config import CLOSED, HelplineConfig
from router.coverage import Absence, CoveragePlan
from router.tables import ContactState
from router.today import Today

__all__ = ["RECENT_ALERT_S", "RouterView", "build_snapshot"]

# Closed alerts nobody acknowledged stay on the supervisor's screen this long.
RECENT_ALERT_S = 3600.0


class RouterView(Protocol):
    """What the snapshot reads of a router (``router.core.Router`` provides it)."""

    config: HelplineConfig
    plan: CoveragePlan
    today: Today
    arrived_total: int
    ended_total: int

    @property
    def now(self) -> float | None: ...
    def queue_states(self) -> list[QueueState]: ...
    def waiting_in(self, queue: QueueState) -> list[Contact]: ...
    def waiting_contacts(self) -> list[Contact]: ...
    def agent_states(self) -> list[Agent]: ...
    def alert_states(self) -> list[AlertState]: ...
    def eligible_teams(self, queue: QueueState) -> tuple[frozenset[str], str, bool]: ...
    def capacity(self, channel: str) -> int: ...
    def absences(self) -> list[Absence]: ...
    def ringing_of(self, contact: Contact) -> list[str]: ...
    def escalation_views(self) -> list[dict[str, Any]]: ...


def _r(x: float) -> float:
    return round(x, 3)


def build_snapshot(router: RouterView) -> dict[str, Any]:
    now = router.now
    if now is None:
        return {
            "helpline": router.config.id,
            "now": None,
            "queues": [],
            "agents": [],
            "alerts": [],
            "escalations": [],
            "today": router.today.as_dict(),
            "totals": {"arrived": 0, "ended": 0, "waiting": 0, "offered": 0, "in_service": 0},
        }
    plan = router.plan
    absences = router.absences()
    queues = []
    for q in router.queue_states():
        teams, owner, fallback = router.eligible_teams(q)
        seg = q.segment
        waiting = [
            {
                "contact_id": c.id,
                "state": c.state.value,
                "arrived_at": _r(c.arrived_at),
                "wait_s": _r(now - c.arrived_at),
                "ringing": router.ringing_of(c),
            }
            for c in router.waiting_in(q)
        ]
        next_owner = plan.owner(q.name, seg.end, absences) if seg.change_at_end else None
        queues.append(
            {
                "queue": q.name,
                "channel": q.channel,
                "strategy": q.strategy,
                "owner": seg.owner,
                "open": seg.owner != CLOSED,
                "serving_team": owner if owner != CLOSED else None,
                "since": _r(seg.start),
                "next_handover": _r(seg.end) if seg.change_at_end else None,
                "next_owner": next_owner,
                "eligible_teams": sorted(teams),
                "fallback_active": fallback,
                "gap": (
                    {"team": q.gap.team, "since": _r(q.gap.start), "alert_id": q.gap.alert_id}
                    if q.gap
                    else None
                ),
                "waiting": waiting,
                "oldest_wait_s": max((w["wait_s"] for w in waiting), default=0.0),
            }
        )
    agents = []
    for a in router.agent_states():
        channels: dict[str, Any] = {}
        for ch in router.config.channels:
            chs = a.channels.get(ch)
            if chs is None:
                channels[ch] = {"state": "logged_out"}
                continue
            channels[ch] = {
                "state": chs.state.value,
                "since": _r(chs.since),
                "time_in_state_s": _r(now - chs.since),
                "active": list(chs.active),
                "offered": list(chs.offered),
                "capacity": router.capacity(ch),
            }
        agents.append(
            {
                "agent_id": a.id,
                "team": a.team,
                "presence": a.presence.value,
                "away_reason": a.away_reason,
                "no_answer_streak": a.no_answer_streak,
                "channels": channels,
            }
        )
    alerts = [
        {
            "alert_id": al.id,
            "kind": al.kind,
            "raised_at": _r(al.raised_at),
            "open": al.open,
            "closed_at": _r(al.closed_at) if al.closed_at is not None else None,
            "acknowledged_by": al.acked_by,
            "acknowledged_at": _r(al.acked_at) if al.acked_at is not None else None,
            "details": al.details,
        }
        for al in router.alert_states()
        if al.open
        or (
            al.acked_by is None and al.closed_at is not None and now - al.closed_at < RECENT_ALERT_S
        )
    ]
    in_waiting = router.waiting_contacts()
    offered = sum(1 for c in in_waiting if c.state is ContactState.OFFERED)
    return {
        "helpline": router.config.id,
        "now": _r(now),
        "local_time": plan.local(now).isoformat(),
        "holiday": plan.holiday_name(plan.local(now).date()),
        "queues": queues,
        "agents": agents,
        "alerts": alerts,
        "escalations": router.escalation_views(),
        "today": router.today.as_dict(),
        "totals": {
            "arrived": router.arrived_total,
            "ended": router.ended_total,
            "waiting": len(in_waiting) - offered,
            "offered": offered,
            "in_service": router.arrived_total - router.ended_total - len(in_waiting),
        },
    }
