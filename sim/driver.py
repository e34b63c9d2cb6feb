"""The simulator's driving loop: the real router in virtual time.

A deterministic discrete-event loop in the style of simpy's core: a heap of
``(time, seq, kind, payload)`` where ``seq`` breaks ties, so the same inputs
and seed replay the same run. Arrivals come from a sorted list beside the
heap; the router's own timers (ring timeouts, handovers, wrap-up, reconcile)
are fired through ``Router.advance`` whenever ``next_deadline()`` comes first.

The driver plays everyone outside the router: callers (patience, hanging up,
silent chat abandonment), agents (time to reach the phone, rings let ring
out, other duties, coming back after an auto-pause, logging in and out by the
rota) and the clock. It acts on the router's commands exactly as an adapter
would: an ``offer`` becomes a pick-up after the agent's reach time unless the
caller leaves or the ring times out first; a ``cancel_offer`` stops it. The
router's records are the truth about outcomes: the statistics are folded from
them by ``router.stats``, as in the live service.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mypy_extensions import mypyc_attr

from router import Alert, CancelOffer, Command, ContactRecord, Event, Offer, Record, Router
from router.config import HelplineConfig
from router.step import Step, collector_paused
from sim import _events as ev
from sim.arrivals import Arrival
from sim.distributions import Sampler
from sim.rota import Timeline
from sim.scenario import Callers, TeamBehaviour

__all__ = ["Absent", "RunStats", "Simulation", "Streams"]

INF = math.inf
# Kinds of scheduled items, in no particular order (ties break on seq).
PICKUP, ABANDON, SILENT, END, ROTA, LOGIN, AWAY, BACK, RETURN, ABSENT = range(10)


class Streams:
    """One seeded generator per source of randomness (common random numbers).

    Separate streams keep a change in one place (say, a faster reach time)
    from reshuffling every other draw, so two scenarios with the same seed
    differ only where they really differ.
    """

    NAMES = ("arrivals", "patience", "handle", "reach", "pickup", "away", "login")

    def __init__(self, seed: int | str) -> None:
        self.seed = seed
        for name in self.NAMES:
            setattr(self, name, random.Random(f"linje-sim/{seed}/{name}"))

    arrivals: random.Random
    patience: random.Random
    handle: random.Random
    reach: random.Random
    pickup: random.Random
    away: random.Random
    login: random.Random


@dataclass(frozen=True, slots=True)
class Absent:
    team: str
    start: float
    end: float


@dataclass(slots=True)
class RunStats:
    """Counters of one run (for progress and benchmarks, not for the statistics)."""

    contacts: int = 0
    events: int = 0
    ticks: int = 0
    sim_start: float = 0.0
    sim_end: float = 0.0


class _Call:
    __slots__ = ("channel", "cid", "gone", "handle", "silent", "silent_handle", "state")

    def __init__(self, cid: str, channel: str) -> None:
        self.cid = cid
        self.channel = channel
        self.state = 0  # 0 waiting or ringing, 1 in service, 2 ended
        self.gone = False  # a chat visitor who left without saying so
        # Drawn at arrival, in arrival order, so that a contact keeps its handle
        # time and silent-abandon draw whatever the staffing (common random
        # numbers: two staffings with one seed differ only where staffing matters).
        self.handle = 0.0
        self.silent = False  # would leave silently if they gave up
        self.silent_handle = 0.0  # an agent closing the empty chat


class _Caller:
    __slots__ = ("handle", "patience", "silent_detect", "silent_handle", "silent_share")

    def __init__(self, spec: Callers, streams: Streams) -> None:
        self.patience = spec.patience.sampler(streams.patience)
        self.handle = spec.handle.sampler(streams.handle)
        self.silent_share = spec.silent_share
        self.silent_detect = spec.silent_detect_s
        self.silent_handle = spec.silent_handle.sampler(streams.handle)


def _zero() -> float:
    return 0.0


class _Team:
    __slots__ = (
        "away_mean",
        "away_share",
        "late",
        "late_share",
        "no_pickup",
        "periods",
        "reach",
        "returns",
    )

    def __init__(
        self, spec: TeamBehaviour, streams: Streams, instant: Callable[[dt.date, int], float]
    ) -> None:
        self.reach: dict[str, Sampler] = {"phone": _zero, "chat": _zero}
        for ch, dist in spec.reach.items():
            self.reach[ch] = dist.sampler(streams.reach)
        self.no_pickup = spec.no_pickup_share
        self.away_share = spec.away_share
        self.away_mean = spec.away_mean_s
        self.returns = spec.auto_away_return.sampler(streams.away)
        self.late_share = spec.late_login_share
        self.late = spec.late_login.sampler(streams.login)
        # (start, end, no_pickup_share or None, away_share or None) in POSIX time
        self.periods = [
            (instant(p.start, 0), instant(p.end, 1440), p.no_pickup_share, p.away_share)
            for p in sorted(spec.periods, key=lambda p: p.start)
        ]

    def no_pickup_at(self, t: float) -> float:
        for start, end, no_pickup, _ in self.periods:
            if start <= t < end and no_pickup is not None:
                return no_pickup
        return self.no_pickup

    def away_share_at(self, t: float) -> float:
        for start, end, _, share in self.periods:
            if start <= t < end and share is not None:
                return share
        return self.away_share

    def next_change(self, t: float) -> float | None:
        """The next period boundary after ``t`` (when the away share may change)."""
        later = [x for start, end, _, _ in self.periods for x in (start, end) if x > t]
        return min(later) if later else None


class _Agent:
    __slots__ = (
        "active",
        "auto",
        "channels",
        "duty",
        "id",
        "leaving",
        "logged",
        "session",
        "tb",
        "team",
        "want_token",
        "wanted",
    )

    def __init__(self, aid: str, team: str, channels: tuple[str, ...], tb: _Team) -> None:
        self.id = aid
        self.team = team
        self.channels = channels
        self.tb = tb
        self.logged = False
        self.wanted = False
        self.want_token = 0
        self.session = 0
        self.active = 0
        self.duty = False  # away on other duties
        self.auto = False  # auto-paused by the router after unanswered rings
        self.leaving = False  # shift over, finishing a contact before logging out


# Open to subclassing in the native build: the what-if replay extends it (sim/whatif.py).
@mypyc_attr(allow_interpreted_subclasses=True)
@dataclass
class Simulation:
    """One run: arrivals, behaviour and rota fed through a fresh ``Router``."""

    config: HelplineConfig
    arrivals: Sequence[Arrival]
    callers: Mapping[str, Callers]
    teams: Mapping[str, TeamBehaviour]
    timeline: Timeline
    streams: Streams
    start: float
    end: float
    absences: Sequence[Absent] = ()
    progress: Callable[[float], None] | None = None
    progress_every_s: float = 86400.0
    # When a list, every event sent to the router is appended (tests, debugging).
    trace: list[Event] | None = None
    records: list[Record] = field(default_factory=list)
    stats: RunStats = field(default_factory=RunStats)

    def __post_init__(self) -> None:
        self.router = Router(self.config)
        self._heap: list[tuple[float, int, int, Any]] = []
        self._seq = 0
        self._eid = 0
        self._due: float | None = None
        self._calls: dict[str, _Call] = {}
        self._live = 0
        self._ringing: dict[tuple[str, str], int] = {}
        self._callers = {ch: _Caller(spec, self.streams) for ch, spec in self.callers.items()}
        default = TeamBehaviour()
        instant = self.router.plan.instant
        self._teams = {
            name: _Team(self.teams.get(name, default), self.streams, instant)
            for name in self.config.teams
        }
        self._pools: list[list[_Agent]] = [[] for _ in self.timeline.pools]
        self._agents: dict[str, _Agent] = {}
        self._pickup_random = self.streams.pickup.random
        self._away_exp = self.streams.away.expovariate
        self._login_random = self.streams.login.random

    # ----------------------------------------------------------- plumbing
    def _push(self, t: float, kind: int, payload: Any) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, kind, payload))

    def _next_eid(self) -> str:
        self._eid += 1
        return f"s{self._eid}"

    def _send(self, event: Event) -> None:
        self.stats.events += 1
        if self.trace is not None:
            self.trace.append(event)
        step = self.router.apply(event)
        if step.error is not None:
            raise step.error  # the simulator mints only events the core accepts
        self._on_step(step)

    def _on_step(self, step: Step) -> None:
        # The router's next deadline only moves when it is called: ask once here.
        self._due = self.router.next_deadline()
        # Commands first: a record may log an agent out, which cancels offers
        # made in this same batch, and the cancel must come after the offer.
        if step.commands:
            self._on_commands(step.commands)
        if step.records:
            self._on_records(step.records)

    # ---------------------------------------------------------------- run
    def run(self) -> list[Record]:
        """Simulate until every contact that arrived has ended; return the records.

        The loop runs with the cycle collector paused (``router.step.collector_paused``):
        neither the core nor this driver makes reference cycles.
        """
        with collector_paused():
            return self._run()

    def _run(self) -> list[Record]:
        router = self.router
        heap = self._heap
        pop = heapq.heappop
        arrivals = self.arrivals
        n_arr = len(arrivals)
        calls = self._calls
        callers = self._callers
        push = self._push
        stats = self.stats
        stats.sim_start = self.start
        self._begin()
        i = 0
        next_arrival = arrivals[0].at if n_arr else INF
        tick = self.start + self.progress_every_s if self.progress else INF
        while True:
            top = heap[0][0] if heap else INF
            t = next_arrival if next_arrival < top else top
            if i >= n_arr and self._live == 0:
                break
            due = self._due
            if due is not None and due <= t:
                stats.ticks += 1
                self._on_step(router.advance(due))
                continue
            if t == INF:
                break
            if t >= tick and self.progress is not None:
                self.progress(t)
                while tick <= t:
                    tick += self.progress_every_s
            if next_arrival < top:
                a = arrivals[i]
                i += 1
                next_arrival = arrivals[i].at if i < n_arr else INF
                cid = f"c{i}"
                call = _Call(cid, a.channel)
                calls[cid] = call
                self._live += 1
                stats.contacts += 1
                caller = callers[a.channel]
                patience = caller.patience()
                call.handle = caller.handle()
                if caller.silent_share > 0:
                    call.silent = self.streams.patience.random() < caller.silent_share
                    if call.silent:
                        call.silent_handle = caller.silent_handle()
                if patience != INF:
                    push(t + patience, ABANDON, call)
                self._send(ev.arrived(self._next_eid(), t, cid, a.channel, a.queue))
                continue
            _, _, kind, payload = pop(heap)
            if kind == PICKUP:
                call, aid, token = payload
                if call.state == 0 and self._ringing.get((call.cid, aid)) == token:
                    self._answer(t, call, aid)
            elif kind == ABANDON:
                call = payload
                if call.state == 0:
                    self._abandon(t, call)
            elif kind == END:
                call = payload
                if call.state == 1:
                    self._send(ev.ended(self._next_eid(), t, call.cid))
            elif kind == SILENT:
                call = payload
                if call.state == 0:
                    self._send(ev.abandoned(self._next_eid(), t, call.cid))
            else:
                self._agent_item(t, kind, payload)
        stats.sim_end = router.now if router.now is not None else self.start
        return self.records

    def _begin(self) -> None:
        """Start the router's clock at the horizon and schedule the rota and absences."""
        self._on_step(self.router.advance(self.start))
        for t, k, want in self.timeline.changes:
            self._push(t, ROTA, (k, want))
        for a in self.absences:
            self._push(max(a.start, self.start), ABSENT, a)

    # ------------------------------------------------------------ contacts
    def _answer(self, t: float, call: _Call, aid: str) -> None:
        self._ringing.pop((call.cid, aid), None)
        self._send(ev.answered(self._next_eid(), t, call.cid, aid))
        call.state = 1
        self._agents[aid].active += 1
        self._push(t + (call.silent_handle if call.gone else call.handle), END, call)

    def _abandon(self, t: float, call: _Call) -> None:
        if call.silent:
            # Gone without a word: the vendor notices after its inactivity timeout,
            # unless an agent accepts the empty chat first.
            call.gone = True
            self._push(t + self._callers[call.channel].silent_detect, SILENT, call)
            return
        self._send(ev.abandoned(self._next_eid(), t, call.cid))

    def _on_records(self, records: list[Record]) -> None:
        self.records.extend(records)
        calls = self._calls
        for r in records:
            if type(r) is ContactRecord:
                call = calls.pop(r.contact_id, None)
                if call is not None:
                    call.state = 2
                    self._live -= 1
                if r.agent_id is not None and r.outcome == "answered":
                    agent = self._agents[r.agent_id]
                    agent.active -= 1
                    if agent.leaving and agent.active == 0 and agent.logged:
                        self._logout(r.ended_at, agent)

    def _on_commands(self, commands: list[Command]) -> None:
        ringing = self._ringing
        for cmd in commands:
            if isinstance(cmd, Offer):
                self._offer(cmd)
            elif isinstance(cmd, CancelOffer):
                cid = cmd.contact_id
                for aid in cmd.agent_ids:
                    ringing.pop((cid, aid), None)
            elif isinstance(cmd, Alert) and cmd.kind == "agent_auto_away":
                self._auto_away(cmd.at, cmd.details["agent_id"])
            # A reject needs nothing: the contact's record ends it.

    def _offer(self, cmd: Offer) -> None:
        call = self._calls.get(cmd.contact_id)
        if call is None:
            return
        t = cmd.at
        timeout = cmd.ring_timeout_s
        rand = self._pickup_random
        for aid in cmd.agent_ids:
            self._ringing[(call.cid, aid)] = cmd.seq
            tb = self._agents[aid].tb
            no_pickup = tb.no_pickup_at(t) if tb.periods else tb.no_pickup
            if no_pickup and rand() < no_pickup:
                continue  # lets it ring out; the router times the offer out
            reach = tb.reach[call.channel]()
            if reach < timeout:
                self._push(t + reach, PICKUP, (call, aid, cmd.seq))

    # -------------------------------------------------------------- agents
    def _agent_item(self, t: float, kind: int, payload: Any) -> None:
        if kind == ROTA:
            k, want = payload
            self._staff(t, k, want)
        elif kind == LOGIN:
            agent, token = payload
            if agent.wanted and not agent.logged and agent.want_token == token:
                self._login(t, agent)
        elif kind == AWAY:
            agent, session, go = payload
            if agent.logged and agent.session == session and not agent.leaving:
                if go:
                    self._set_flag(t, agent, "duty", True)
                    self._push(t + self._away_exp(1.0 / agent.tb.away_mean), BACK, (agent, session))
                else:  # a period boundary: the away share may have changed
                    self._schedule_duty(t, agent)
        elif kind == BACK:
            agent, session = payload
            if agent.logged and agent.session == session:
                self._set_flag(t, agent, "duty", False)
                self._schedule_duty(t, agent)
        elif kind == RETURN:
            agent, session = payload
            if agent.logged and agent.session == session and agent.auto:
                self._set_flag(t, agent, "auto", False)
        elif kind == ABSENT:
            a = payload
            self._send(ev.team_absent(self._next_eid(), t, a.team, a.start, a.end))

    def _staff(self, t: float, k: int, want: int) -> None:
        pool = self.timeline.pools[k]
        agents = self._pools[k]
        while len(agents) < want:
            aid = f"{pool.prefix}.{len(agents) + 1}"
            agent = _Agent(aid, pool.team, pool.channels, self._teams[pool.team])
            agents.append(agent)
            self._agents[aid] = agent
        for n, agent in enumerate(agents):
            if n < want and not agent.wanted:
                agent.wanted = True
                agent.want_token += 1
                if agent.logged:
                    self._set_flag(t, agent, "leaving", False)
                elif agent.tb.late_share and self._login_random() < agent.tb.late_share:
                    self._push(t + agent.tb.late(), LOGIN, (agent, agent.want_token))
                else:
                    self._login(t, agent)
            elif n >= want and agent.wanted:
                agent.wanted = False
                agent.want_token += 1
                if agent.logged:
                    if agent.active:
                        self._set_flag(t, agent, "leaving", True)
                    else:
                        self._logout(t, agent)

    def _login(self, t: float, agent: _Agent) -> None:
        agent.logged = True
        agent.session += 1
        agent.duty = agent.auto = agent.leaving = False
        self._send(ev.logged_in(self._next_eid(), t, agent.id, agent.team, agent.channels))
        self._schedule_duty(t, agent)

    def _logout(self, t: float, agent: _Agent) -> None:
        agent.logged = False
        agent.session += 1
        agent.duty = agent.auto = agent.leaving = False
        self._send(ev.logged_out(self._next_eid(), t, agent.id))

    def _schedule_duty(self, t: float, agent: _Agent) -> None:
        """Draw the next spell of other duties (alternating ready / away spells whose
        long-run away share is the team's ``away_share``)."""
        tb = agent.tb
        share = tb.away_share_at(t) if tb.periods else tb.away_share
        if share > 0:
            ready_mean = tb.away_mean * (1.0 - share) / share
            self._push(t + self._away_exp(1.0 / ready_mean), AWAY, (agent, agent.session, True))
        elif tb.periods:
            change = tb.next_change(t)
            if change is not None:
                self._push(change, AWAY, (agent, agent.session, False))

    def _auto_away(self, t: float, aid: str) -> None:
        agent = self._agents[aid]
        agent.auto = True  # the router has already set the agent away
        self._push(t + agent.tb.returns(), RETURN, (agent, agent.session))

    def _set_flag(self, t: float, agent: _Agent, name: str, on: bool) -> None:
        """Set one reason for being away; tell the router when the agent's presence changes."""
        before = agent.duty or agent.auto or agent.leaving
        setattr(agent, name, on)
        after = agent.duty or agent.auto or agent.leaving
        if not agent.logged or before == after:
            return
        if after:
            reason = "shift_end" if name == "leaving" else "other_duties"
            self._send(ev.away(self._next_eid(), t, agent.id, reason))
        else:
            self._send(ev.ready(self._next_eid(), t, agent.id))
