"""Handover, gaps and alerts: who owns each queue now, and when nobody of it is there.

The coverage plan (``router.coverage``) says who owns a queue in each segment
of time; one timer per queue fires at the segment's end. A gap is open while
the owning team of an open queue has nobody logged in on its channel, once a
contact waits or ``grace_min`` after the boundary has passed; it is a
``handover_gap`` alert and, when it closes, a ``GapRecord``.
"""

from __future__ import annotations

import math

from mypy_extensions import mypyc_attr

from router._escalations import EscalationsMixin
from router._state import GapState, QueueState
from router.config import CLOSED
from router.coverage import Absence
from router.errors import UnknownAlert, UnknownName
from router.events import AlertAcknowledged, TeamAbsent
from router.records import GapRecord
from router.tables import TimerKind

__all__ = ["HandoverMixin"]

HANDOVER, GRACE = TimerKind.HANDOVER, TimerKind.GRACE


@mypyc_attr(allow_interpreted_subclasses=True)
class HandoverMixin(EscalationsMixin):
    def _start(self, t: float) -> None:
        """The first instant the core sees: every queue's segment and timers."""
        self.now = self._clock = t
        self.started_at = t
        self.today.roll(t)
        for name, q in self.config.queues.items():
            seg = self.plan.segment(name, t, self._absences)
            self._queues[name] = QueueState(
                name=name,
                channel=q.channel,
                strategy=q.effective_strategy,
                segment=seg,
                last_team=seg.owner,
                fallback=q.fallback,
                grace_s=q.grace_min * 60,
            )
            self._timers.set(seg.end, HANDOVER, name)
            if seg.owner != CLOSED:
                # Nobody could log in before the service existed: the grace runs
                # from the later of the boundary and the start.
                self._timers.set(max(t, seg.start) + q.grace_min * 60, GRACE, name)

    def _refresh_segment(self, q: QueueState) -> None:
        now = self._clock
        seg = self.plan.segment(q.name, now, self._absences)
        old = q.segment.owner
        q.segment = seg
        q.teams = None
        self._moved.add(q.channel)
        self._gaps_due = True
        self._want.add(q.channel)
        self._timers.set(seg.end, HANDOVER, q.name)
        if seg.owner == old:
            return
        self._close_gap(q)
        if seg.owner != CLOSED:
            q.last_team = seg.owner
            self._timers.set(now + q.grace_s, GRACE, q.name)

    # ---------------------------------------------------------------- gaps
    def _close_gap(self, q: QueueState) -> None:
        gap = q.gap
        if gap is None:
            return
        q.gap = None
        self._close_alert(gap.alert_id)
        others = sorted(a.id for a in self._on[q.channel].values() if a.team != gap.team)
        self._record(
            GapRecord(
                queue=q.name,
                team=gap.team,
                boundary_at=gap.boundary_at,
                start=gap.start,
                end=self._clock,
                others_logged_in=tuple(others),
            )
        )

    def _check_gaps(self) -> None:
        """Open and close gaps; note the earliest time one would open by time alone."""
        now = self._clock
        soonest = math.inf
        for q in self._queues.values():
            owner = q.segment.owner
            nobody = owner != CLOSED and self._team_logged(q, owner) == 0
            if q.gap is not None and (not nobody or q.gap.team != owner):
                self._close_gap(q)
            if q.gap is not None:
                self._update_gap_alert(q)
                continue
            if not nobody:
                continue
            start = q.segment.start
            due = (start if self.started_at is None else max(start, self.started_at)) + q.grace_s
            if self._qwaiting[q.name] == 0 and now < due:
                soonest = min(soonest, due)
                continue
            alert_id = self._alert(
                "handover_gap",
                {
                    "queue": q.name,
                    "channel": q.channel,
                    "team": owner,
                    "boundary_at": q.segment.start,
                    "logged_in": self._sides(owner, q.channel),
                    "fallback": q.fallback,
                },
            )
            q.gap = GapState(team=owner, boundary_at=q.segment.start, start=now, alert_id=alert_id)
        self._gap_at = soonest
        self._gaps_due = False

    def _sides(self, owner: str, ch: str) -> dict[str, list[str]]:
        """Who is logged in on ``ch`` for the owning team and each of its fallbacks."""
        sides = {owner: self._logged_names(owner, ch)}
        for fb in self.plan.fallbacks(owner):
            sides[fb] = self._logged_names(fb, ch)
        return sides

    def _update_gap_alert(self, q: QueueState) -> None:
        """An open gap's alert shows who is logged in now (a new dict: the raised
        alert's command keeps what it said then)."""
        assert q.gap is not None
        alert = self._alerts.get(q.gap.alert_id)
        if alert is None:
            return
        sides = self._sides(q.gap.team, q.channel)
        if alert.details.get("logged_in") != sides:
            alert.details = {**alert.details, "logged_in": sides}

    def _logged_names(self, team: str, ch: str) -> list[str]:
        return list(self._names_of(team, ch))

    # -------------------------------------------------------- teams, alerts
    def _check_absent(self, ev: TeamAbsent) -> None:
        if ev.team not in self.config.teams:
            raise UnknownName(f"unknown team {ev.team!r}", field="team")

    def _on_absent(self, ev: TeamAbsent) -> None:
        self._absences.append(Absence(team=ev.team, start=ev.start, end=ev.end))
        for q in self._queues.values():
            self._refresh_segment(q)

    def _check_ack(self, ev: AlertAcknowledged) -> None:
        if ev.alert_id not in self._alerts:
            raise UnknownAlert(f"unknown alert {ev.alert_id!r}", field="alert_id")

    def _on_ack(self, ev: AlertAcknowledged) -> None:
        alert = self._alerts[ev.alert_id]
        if alert.acked_by is None:
            alert.acked_by = ev.by
            alert.acked_at = self._clock
