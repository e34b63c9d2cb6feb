"""What-if by simulation: a recorded log's arrivals re-run on another configuration.

When another configuration changes who is offered what (a longer ring, a
different strategy), the recorded answers no longer fit: the agent who
answered was not ringing any more, or not yet. ``linje replay`` then falls
back to this module (``adapters/replay.py``): the recorded arrivals (times,
channels, queues) are fed to the simulator's driver on the other
configuration, with behaviour estimated from the same log, and the agents'
presence (log-ins, log-outs, away and ready, team absences) replayed as
recorded.

Estimates, each stated in words in ``WhatIf.estimates``:

* patience, per channel: a Kaplan-Meier estimate over the callers (an abandon
  ends a wait, an answer censors it: that caller would have waited at least
  so long), resampled as 1,000 quantiles, so the short abandons (under
  ``short_abandon_s``) come at their own share; beyond the longest recorded
  abandon, exponential with the censored maximum-likelihood mean (all waits
  over all abandons);
* pick-up, per team: every ring of the log (an ``offer`` to one agent) ends
  in an answer (a pick-up after that many seconds), a ring-out or decline, or
  a cancel (someone else answered, the caller left). A Kaplan-Meier estimate
  per channel over rings, ring-outs and cancels censored, gives the share of
  rings never picked up; the driver has one ``no_pickup_share`` per team, the
  channels' shares weighted by their rings. The reach time is resampled from
  the answered rings of the team and channel (all teams' when a team has none);
* handle time, per channel: resampled from the answered contacts;
* return after the core's auto-pause, per team: exponential with the mean
  time from a logged ``agent_auto_away`` alert to that agent's next ready
  (that ready is behaviour, not presence: it is not replayed).

The driver (``sim.driver.Simulation``) is used as it is, with a rota of no
one: a subclass schedules the logged presence events as items of its own
kind and, after the last contact, plays the presence left until the log's
end, so handover gaps are closed as in the record.

Nothing here reads or writes caller identity: the log has none, and the
simulated contacts are ``c1``, ``c2``... as in every simulation.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from router import Alert, CancelOffer, Command, ContactRecord, Event, NoAnswerRecord, Offer, Record
from router.config import HelplineConfig
from router.errors import BadInput
from router.events import (
    AgentAway,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentReady,
    ContactAnswered,
    ContactArrived,
    OfferDeclined,
    TeamAbsent,
)
from sim import _events as ev
from sim.arrivals import Arrival
from sim.distributions import Dist, Empirical, Exponential, Fixed, Never, Patience
from sim.driver import ABANDON, END, PICKUP, SILENT, Simulation, Streams, _Agent
from sim.rota import Timeline
from sim.scenario import Callers, TeamBehaviour

__all__ = ["LogEntryLike", "WhatIf", "estimate", "simulate_log"]

PRESENCE = 100  # the driver's scheduled-item kinds are 0..9
ASSUMED_HANDLE_S = 600.0
MAX_NO_PICKUP = 0.95
PATIENCE_QUANTILES = 1000


class LogEntryLike(Protocol):
    """What is read of a log entry (``adapters.store.entries.LogEntry`` is one)."""

    @property
    def at(self) -> float: ...
    @property
    def event(self) -> Event | None: ...
    @property
    def commands(self) -> Sequence[Command]: ...
    @property
    def records(self) -> Sequence[Record]: ...


@dataclass(slots=True)
class WhatIf:
    """The recorded arrivals and presence, and the behaviour estimated from the log."""

    arrivals: list[Arrival] = field(default_factory=list)
    presence: list[Event] = field(default_factory=list)
    callers: dict[str, Callers] = field(default_factory=dict)
    teams: dict[str, TeamBehaviour] = field(default_factory=dict)
    estimates: list[str] = field(default_factory=list)
    start: float = 0.0
    end: float = 0.0
    presence_refused: Counter[str] = field(default_factory=Counter)
    still_open: int = 0  # contacts the simulation left waiting or in service


def _n(k: int, what: str) -> str:
    return f"{k} {what}" if k == 1 else f"{k} {what}s"


def _s(x: float) -> str:
    return f"{x:.0f} s"


def _kaplan_meier(obs: Iterable[tuple[float, bool]]) -> tuple[list[tuple[float, float]], float]:
    """Kaplan-Meier over (time, happened) observations, the rest censored at their time:
    the (time, share happened by then) of each event, and the share that never happened
    within the observations (the estimate after the last one)."""
    steps: list[tuple[float, float]] = []
    ordered = sorted(obs, key=lambda o: (o[0], not o[1]))  # events before censorings
    s, at_risk = 1.0, len(ordered)
    for t, happened in ordered:
        if happened:
            s *= 1.0 - 1.0 / at_risk
            steps.append((t, 1.0 - s))
        at_risk -= 1
    return steps, s


def _patience(channel: str, contacts: Sequence[ContactRecord], short_s: float) -> tuple[Dist, str]:
    """Kaplan-Meier over callers (an abandon ends a wait, an answer censors it), as quantiles."""
    # Contacts a caller could have left: not rejected as closed, not closed by reconcile.
    seen = [
        (r.ended_at - r.arrived_at if r.outcome == "unanswered" else r.wait_s, r.outcome)
        for r in contacts
        if r.outcome != "rejected_closed"
        and not r.end_reconciled
        and r.unanswered != "missing_data"
    ]
    left = sorted(w for w, outcome in seen if outcome == "unanswered")
    if not left:
        return Never(dist="never"), (
            f"patience, {channel}: none of {len(seen)} callers left unanswered; "
            "they wait until answered"
        )
    steps, tail = _kaplan_meier((w, outcome == "unanswered") for w, outcome in seen)
    # Beyond the longest abandon: exponential with the censored maximum-likelihood mean.
    mean = max(math.fsum(w for w, _ in seen) / len(left), 1.0)
    tail_at = steps[-1][0]
    values: list[float] = []
    i = 0
    for k in range(PATIENCE_QUANTILES):
        u = (k + 0.5) / PATIENCE_QUANTILES
        if u < 1.0 - tail:
            while steps[i][1] < u:
                i += 1
            values.append(steps[i][0])
        else:
            values.append(tail_at - mean * math.log((1.0 - u) / tail))
    short = sum(1 for w in left if w < short_s)
    return Empirical(dist="empirical", values=tuple(values)), (
        f"patience, {channel}: Kaplan-Meier from {len(left)} abandons of {len(seen)} callers "
        f"(answered waits censored), {short} within {_s(short_s)}; beyond the longest "
        f"({_s(tail_at)}, {tail * 100:.1f} % still waiting) exponential mean {_s(mean)}"
    )


def estimate(entries: Iterable[LogEntryLike], config: HelplineConfig) -> WhatIf:
    """Arrivals, presence and behaviour from a recorded log, for ``config``."""
    out = WhatIf()
    first: float | None = None
    last: float | None = None
    contacts: dict[str, ContactRecord] = {}
    channel_of: dict[str, str] = {}
    team_of: dict[str, str] = {}
    # Open rings: (contact, agent) -> (start, ring timeout, team, channel).
    ringing: dict[tuple[str, str], tuple[float, float, str, str]] = {}
    # (team, channel) -> (ring time, picked up)
    rings: dict[tuple[str, str], list[tuple[float, bool]]] = defaultdict(list)
    reach: dict[tuple[str, str], list[float]] = defaultdict(list)  # (team, channel) -> s
    paused: dict[str, float] = {}
    returns: dict[str, list[float]] = defaultdict(list)

    def close(key: tuple[str, str], at: float, picked: bool) -> None:
        start, timeout, team, ch = ringing.pop(key)
        t = at - start
        rings[(team, ch)].append((t if picked else min(t, timeout), picked))
        if picked:
            reach[(team, ch)].append(max(t, 0.0))

    def on_event(e: Event) -> None:
        if isinstance(e, ContactArrived):
            out.arrivals.append(Arrival(at=e.at, channel=e.channel, queue=e.queue))
            channel_of[e.contact_id] = e.channel
        elif isinstance(e, AgentReady) and e.agent_id in paused:
            # Back from the core's auto-pause: behaviour (the simulated core pauses
            # agents on its own rings), not presence.
            returns[team_of.get(e.agent_id, "")].append(e.at - paused.pop(e.agent_id))
        elif isinstance(e, AgentLoggedIn | AgentLoggedOut | AgentAway | AgentReady | TeamAbsent):
            out.presence.append(e)
            if isinstance(e, AgentLoggedIn):
                team_of[e.agent_id] = e.team
            elif isinstance(e, AgentLoggedOut):
                paused.pop(e.agent_id, None)
        elif isinstance(e, ContactAnswered) and (e.contact_id, e.agent_id) in ringing:
            close((e.contact_id, e.agent_id), e.at, True)
        elif isinstance(e, OfferDeclined) and (e.contact_id, e.agent_id) in ringing:
            close((e.contact_id, e.agent_id), math.inf, False)

    def on_command(c: Command) -> None:
        if isinstance(c, Offer):
            ch = channel_of.get(c.contact_id, "phone")
            for aid in c.agent_ids:
                if (c.contact_id, aid) in ringing:  # rung again: the last ring lapsed
                    close((c.contact_id, aid), c.at, False)
                ringing[(c.contact_id, aid)] = (c.at, c.ring_timeout_s, team_of.get(aid, ""), ch)
        elif isinstance(c, CancelOffer):
            for aid in c.agent_ids:
                if (c.contact_id, aid) in ringing:
                    close((c.contact_id, aid), c.at, False)
        elif isinstance(c, Alert) and c.kind == "agent_auto_away":
            paused[str(c.details.get("agent_id"))] = c.at

    def on_record(r: Record) -> None:
        if isinstance(r, ContactRecord):
            contacts[r.contact_id] = r
        elif isinstance(r, NoAnswerRecord):
            key = (r.contact_id, r.agent_id)
            # Not a ring begun after this lapse (a re-ring in the same step).
            if key in ringing and ringing[key][0] < r.at:
                close(key, math.inf, False)

    for entry in entries:
        first = entry.at if first is None else min(first, entry.at)
        last = entry.at if last is None else max(last, entry.at)
        e = entry.event
        # Timers that fell due before an event come first in its step.
        before = [c for c in entry.commands if e is not None and c.at < e.at]
        for c in before:
            on_command(c)
        if e is not None:
            last = max(last, e.at)
            on_event(e)
        for c in entry.commands:
            if not (e is not None and c.at < e.at):
                on_command(c)
        for r in entry.records:
            on_record(r)
    out.start = first if first is not None else 0.0
    out.end = last if last is not None else out.start
    _callers(out, list(contacts.values()), config)
    _teams(out, rings, reach, returns, config)
    return out


def _callers(out: WhatIf, contacts: list[ContactRecord], config: HelplineConfig) -> None:
    by_channel: dict[str, list[ContactRecord]] = defaultdict(list)
    for r in contacts:
        by_channel[r.channel].append(r)
    handles = {
        ch: [
            r.handle_s
            for r in rs
            if r.outcome == "answered" and r.handle_s and not r.end_reconciled
        ]
        for ch, rs in by_channel.items()
    }
    order: list[str] = list(config.channels)
    for ch in sorted({a.channel for a in out.arrivals}, key=order.index):
        patience, line = _patience(ch, by_channel.get(ch, []), config.short_abandon_s)
        out.estimates.append(line)
        values = handles.get(ch) or []
        if values:
            handle: Dist = Empirical(dist="empirical", values=tuple(float(v) for v in values))
            out.estimates.append(
                f"handle, {ch}: resampled from {len(values)} answered contacts "
                f"(mean {_s(handle.average)})"
            )
        else:
            handle = Fixed(dist="fixed", value=ASSUMED_HANDLE_S)
            out.estimates.append(
                f"handle, {ch}: no answered contacts; assumed {_s(ASSUMED_HANDLE_S)}"
            )
        out.callers[ch] = Callers(patience=Patience(rest=patience), handle=handle)


def _teams(
    out: WhatIf,
    rings: dict[tuple[str, str], list[tuple[float, bool]]],
    reach: dict[tuple[str, str], list[float]],
    returns: dict[str, list[float]],
    config: HelplineConfig,
) -> None:
    pooled: dict[str, list[float]] = defaultdict(list)
    for (_, ch), values in sorted(reach.items()):
        pooled[ch].extend(values)
    for team in config.teams:
        # Per channel (a chat push waits longer than a ring); the simulator has one
        # share per team: the channels' shares weighted by their rings.
        shares = [
            (ch, _kaplan_meier(rings[(team, ch)])[1], len(rings[(team, ch)]))
            for ch in config.channels
            if rings.get((team, ch))
        ]
        n = sum(k for _, _, k in shares)
        if not n:
            out.estimates.append(f"pick-up, {team}: no rings in the log; picks up at once")
            continue
        no_pickup = min(math.fsum(x * k for _, x, k in shares) / n, MAX_NO_PICKUP)
        words = [f"{ch} {x * 100:.1f} % of {_n(k, 'ring')} never picked up" for ch, x, k in shares]
        if len(shares) > 1:
            words.append(f"{no_pickup * 100:.1f} % used for both")
        dists: dict[str, Dist] = {}
        for ch in config.channels:
            own = reach.get((team, ch), [])
            values = own or pooled.get(ch, [])
            if not values:
                continue
            dists[ch] = Empirical(dist="empirical", values=tuple(values))
            whose = "" if own else ", all teams'"
            words.append(f"{ch} reach resampled from {_n(len(values), 'answer')}{whose}")
        back = returns.get(team, [])
        extra: dict[str, Any] = {}
        if back:
            mean = max(math.fsum(back) / len(back), 1.0)
            extra["auto_away_return"] = Exponential(dist="exponential", mean=mean)
            words.append(f"back from an auto-pause after exponential mean {_s(mean)}")
        out.teams[team] = TeamBehaviour(reach=dists, no_pickup_share=no_pickup, **extra)
        out.estimates.append(f"pick-up, {team}: " + "; ".join(words))


class _Replayed(Simulation):
    """The driver with the recorded presence instead of a rota."""

    def __init__(self, whatif: WhatIf, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.whatif = whatif

    def _begin(self) -> None:
        super()._begin()
        for e in self.whatif.presence:
            self._push(max(e.at, self.start), PRESENCE, e)

    def _agent_item(self, t: float, kind: int, payload: Any) -> None:
        if kind != PRESENCE:
            super()._agent_item(t, kind, payload)
            return
        e = payload
        try:
            self._presence(t, e)
        except BadInput as exc:  # the other configuration refuses it (say, an unknown team)
            self.whatif.presence_refused[f"{e.type}: {exc.code}"] += 1
            agent = self._agents.get(getattr(e, "agent_id", ""))
            if agent is not None and isinstance(e, AgentLoggedIn):
                agent.logged = False

    def _presence(self, t: float, e: Event) -> None:
        if isinstance(e, TeamAbsent):
            self._send(ev.team_absent(self._next_eid(), t, e.team, e.start, e.end))
            return
        agent = self._agents.get(getattr(e, "agent_id", ""))
        if isinstance(e, AgentLoggedIn):
            if agent is None:
                tb = self._teams.get(e.team)
                if tb is None:
                    self.whatif.presence_refused[f"{e.type}: unknown team"] += 1
                    return
                agent = _Agent(e.agent_id, e.team, tuple(e.channels), tb)
                self._agents[e.agent_id] = agent
            if agent.logged:
                self._set_flag(t, agent, "leaving", False)
            else:
                agent.channels = tuple(e.channels)
                self._login(t, agent)
        elif agent is None or not agent.logged:
            return
        elif isinstance(e, AgentLoggedOut):
            if agent.active:
                self._set_flag(t, agent, "leaving", True)  # logs out when its contact ends
            else:
                self._logout(t, agent)
        elif isinstance(e, AgentAway):
            before = agent.duty or agent.auto or agent.leaving
            agent.duty = True
            if not before:
                self._send(ev.away(self._next_eid(), t, agent.id, e.reason))
        elif isinstance(e, AgentReady):
            before = agent.duty or agent.auto or agent.leaving
            agent.duty = agent.auto = False
            if before and not agent.leaving:
                self._send(ev.ready(self._next_eid(), t, agent.id))

    def finish(self) -> list[Record]:
        """After the last contact: the presence left until the log's end, then the clock."""
        heap, end = self._heap, self.end
        while heap and heap[0][0] <= end:
            t, _, kind, payload = heapq.heappop(heap)
            while self._due is not None and self._due <= t:
                self._on_step(self.router.advance(self._due))
            if kind not in (PICKUP, ABANDON, SILENT, END):  # no contact is left
                self._agent_item(t, kind, payload)
        self._on_step(self.router.advance(max(end, self.router.now or end)))
        return self.records


def simulate_log(
    entries: Iterable[LogEntryLike], config: HelplineConfig, *, seed: int | str
) -> tuple[list[Record], WhatIf]:
    """Re-run a recorded log's arrivals on ``config``; the records and the estimates."""
    whatif = estimate(entries, config)
    for what, names, known in (
        ("channels", {a.channel for a in whatif.arrivals}, set(config.channels)),
        ("queues", {a.queue for a in whatif.arrivals}, set(config.queues)),
    ):
        if names - known:
            lacking = ", ".join(sorted(names - known))
            raise BadInput(f"the log has contacts on {what} the configuration lacks: {lacking}")
    sim = _Replayed(
        whatif,
        config=config,
        arrivals=whatif.arrivals,
        callers=whatif.callers,
        teams=whatif.teams,
        timeline=Timeline(pools=(), changes=()),
        streams=Streams(seed),
        start=whatif.start,
        end=whatif.end,
    )
    sim.run()
    records = sim.finish()
    whatif.still_open = sim.router.arrived_total - sim.router.ended_total
    return records, whatif
