"""Helpers for talking to a ``Router`` in tests, shipped for adapter authors too.

``Script`` builds events with fresh ids and local wall-clock times, feeds
them to a router (``Router.apply`` / ``Router.advance``) and returns the
commands, raising a refused event's error; ``brief`` turns commands into
short tuples that read well in assertions::

    s = Script(Router(config))
    s.at("2021-11-15 15:29:50")
    assert brief(s.arrive("c1")) == [("offer", "c1", ("kss-1", "kss-2"))]
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from router.commands import Alert, CancelOffer, Command, LegalHold, Offer, Reject, SetMembers
from router.core import Router
from router.events import (
    AgentAway,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentReady,
    AlertAcknowledged,
    ChatFeedback,
    ContactAbandoned,
    ContactAnswered,
    ContactArrived,
    ContactEnded,
    ContactFlagged,
    ContactRegistered,
    Event,
    OfferDeclined,
    TeamAbsent,
)
from router.records import Record
from router.step import Step

__all__ = ["Script", "brief", "rosters"]


def brief(commands: list[Command]) -> list[tuple[Any, ...]]:
    """Commands as compact tuples: ("offer", contact, agents), ("alert", kind), ...

    Rosters (``set_members``) are left out: ``rosters`` lists them.
    """
    out: list[tuple[Any, ...]] = []
    for c in commands:
        if isinstance(c, SetMembers):
            continue
        if isinstance(c, Offer | CancelOffer):
            out.append((c.type, c.contact_id, c.agent_ids))
        elif isinstance(c, Reject):
            out.append((c.type, c.contact_id, c.reason))
        elif isinstance(c, Alert):
            out.append((c.type, c.kind))
        elif isinstance(c, LegalHold):
            out.append((c.type, c.contact_id, c.channel))
        else:  # pragma: no cover
            out.append((c.type,))
    return out


def rosters(commands: list[Command]) -> list[tuple[str, tuple[str, ...], int]]:
    """The ``set_members`` commands as (queue, agent ids, version)."""
    return [(c.queue, c.agent_ids, c.version) for c in commands if isinstance(c, SetMembers)]


class Script:
    """Feeds a router events at local times of the helpline's time zone."""

    def __init__(self, router: Router, *, source: str = "test") -> None:
        self.router = router
        self.source = source
        self.t = 0.0
        self._n = 0
        self.records: list[Record] = []
        # Commands of timers that fired before a refused event: the start of
        # the next result (the refusal itself is raised).
        self._held: list[Command] = []

    # time -----------------------------------------------------------------
    def ts(self, local: str) -> float:
        """POSIX time of a local 'YYYY-MM-DD HH:MM[:SS]' in the helpline's zone."""
        naive = dt.datetime.fromisoformat(local)
        return naive.replace(tzinfo=self.router.plan.tz).timestamp()

    def at(self, local: str) -> None:
        self.t = self.ts(local)

    def after(self, seconds: float) -> None:
        self.t += seconds

    def advance(self, seconds: float | None = None, *, to: str | None = None) -> list[Command]:
        if to is not None:
            self.t = self.ts(to)
        elif seconds is not None:
            self.t += seconds
        return self._take(self.router.advance(self.t))

    # events ---------------------------------------------------------------
    def send(self, event: Event) -> list[Command]:
        """Apply ``event``; its commands. A refusal is raised (``step.error``)."""
        return self._take(self.router.apply(event))

    def _take(self, step: Step) -> list[Command]:
        self.records += step.records
        out, self._held = self._held + step.commands, []
        if step.error is not None:
            self._held = out
            raise step.error
        return out

    def _env(self, event_id: str | None) -> dict[str, Any]:
        self._n += 1
        return {"event_id": event_id or f"e{self._n}", "at": self.t, "source": self.source}

    def arrive(
        self, cid: str, channel: str = "phone", queue: str | None = None, *, eid: str | None = None
    ) -> list[Command]:
        return self.send(
            ContactArrived(
                **self._env(eid), contact_id=cid, channel=channel, queue=queue or channel
            )
        )

    def answer(self, cid: str, agent: str, *, eid: str | None = None) -> list[Command]:
        return self.send(ContactAnswered(**self._env(eid), contact_id=cid, agent_id=agent))

    def abandon(self, cid: str, *, eid: str | None = None) -> list[Command]:
        return self.send(ContactAbandoned(**self._env(eid), contact_id=cid))

    def end(self, cid: str, *, eid: str | None = None) -> list[Command]:
        return self.send(ContactEnded(**self._env(eid), contact_id=cid))

    def decline(self, cid: str, agent: str, *, eid: str | None = None) -> list[Command]:
        return self.send(OfferDeclined(**self._env(eid), contact_id=cid, agent_id=agent))

    def login(
        self,
        agent: str,
        team: str,
        channels: tuple[str, ...] = ("phone",),
        *,
        eid: str | None = None,
    ) -> list[Command]:
        return self.send(
            AgentLoggedIn(**self._env(eid), agent_id=agent, team=team, channels=channels)
        )

    def logout(
        self, agent: str, channels: tuple[str, ...] = (), *, eid: str | None = None
    ) -> list[Command]:
        return self.send(AgentLoggedOut(**self._env(eid), agent_id=agent, channels=channels))

    def ready(
        self, agent: str, channels: tuple[str, ...] = (), *, eid: str | None = None
    ) -> list[Command]:
        return self.send(AgentReady(**self._env(eid), agent_id=agent, channels=channels))

    def away(self, agent: str, reason: str = "break", *, eid: str | None = None) -> list[Command]:
        return self.send(AgentAway(**self._env(eid), agent_id=agent, reason=reason))

    def feedback(self, cid: str, rating: int, *, eid: str | None = None) -> list[Command]:
        return self.send(ChatFeedback(**self._env(eid), contact_id=cid, rating=rating))

    def flag(
        self, cid: str, flag: str, category: str | None = None, *, eid: str | None = None
    ) -> list[Command]:
        return self.send(
            ContactFlagged(**self._env(eid), contact_id=cid, flag=flag, category=category)
        )

    def absent(self, team: str, start: str, end: str, *, eid: str | None = None) -> list[Command]:
        return self.send(
            TeamAbsent(**self._env(eid), team=team, start=self.ts(start), end=self.ts(end))
        )

    def ack(self, alert_id: str, by: str, *, eid: str | None = None) -> list[Command]:
        return self.send(AlertAcknowledged(**self._env(eid), alert_id=alert_id, by=by))

    def register(
        self,
        cid: str,
        by: str,
        answers: dict[str, Any],
        *,
        form: str = "phone",
        version: int = 1,
        eid: str | None = None,
    ) -> list[Command]:
        return self.send(
            ContactRegistered(
                **self._env(eid),
                contact_id=cid,
                form=form,
                version=version,
                answers=answers,
                by=by,
            )
        )

    # results --------------------------------------------------------------
    def outcome(self, cid: str) -> tuple[str, str | None, str | None]:
        """(outcome, unanswered class, other reason) of a contact that ended."""
        for r in self.records:
            if getattr(r, "contact_id", None) == cid and r.kind == "contact":
                return (r.outcome, r.unanswered, r.other_reason)  # type: ignore[attr-defined]
        raise AssertionError(f"no record for contact {cid}")
