"""``linje plan``: the fewest agents per team, channel and hour that meet a target.

The plan is for a regular week of one month (no public holidays, no
absences, campaigns left out), with the coverage rules, behaviour and rota
that apply in that month:

1. Demand per channel, weekday and hour comes from the scenario's volume
   profile (or replayed log) for the month.
2. Erlang A gives the starting staffing of every (team, channel, hour) cell.
   Hours are not treated as independent: the offered load of an hour is the
   infinite-server load m(t), dm/dt = lambda(t) - m(t) / AHT, averaged over the
   hour, so work still in progress from the previous hour counts (the
   modified-offered-load method of Jennings, Mandelbaum, Massey & Whitt, 1996).
3. The real routing core then runs the week in simulation (``weeks`` weeks x
   ``replications``, the same random numbers every round); every cell below
   the target gets one more agent, until all meet it; then one agent less is
   tried wherever there is more than one, and kept off where the target still
   holds.
4. The scenario's own rota is run on the same weeks for comparison.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from router.config import HelplineConfig
from router.coverage import CoveragePlan
from router.errors import BadInput
from router.stats import fold_for_config
from sim import _planweek as pw
from sim._planweek import Cell, Week
from sim.arrivals import Arrival
from sim.driver import Simulation, Streams
from sim.erlang import ErlangA
from sim.rota import Timeline, rota_timeline
from sim.scenario import LoadedScenario, TeamBehaviour

__all__ = ["Cell", "CellResult", "PlanResult", "Target", "parse_target", "plan_staffing"]

MAX_AGENTS = 60
# One more agent that lifts a cell's figure by less than this has not helped.
MIN_GAIN = 0.002
# A cell's simulated figure is only judged with at least this many contacts behind it.
MIN_CONTACTS = 30
_TARGET = re.compile(
    r"^\s*(answered|service_level(?:@(\d+(?:\.\d+)?)s)?)\s*>=\s*(0?\.\d+|1(?:\.0*)?|0)\s*"
    r"(excluding\s+short_abandons?)?\s*$"
)


@dataclass(frozen=True, slots=True)
class Target:
    """``answered>=0.95 [excluding short_abandon]`` or ``service_level@20s>=0.8 [...]``."""

    metric: str  # "answered" or "service_level"
    threshold: float
    within_s: float = 20.0
    excluding_short: bool = False

    def __str__(self) -> str:
        name = self.metric if self.metric == "answered" else f"service_level@{self.within_s:g}s"
        return f"{name}>={self.threshold:g}" + (
            " excluding short_abandon" if self.excluding_short else ""
        )

    def value(self, group: dict[str, Any]) -> float | None:
        """The target's figure in one group of ``Group.to_dict()``."""
        if self.metric == "answered":
            key = "answer_rate_excl_short" if self.excluding_short else "answer_rate"
            return group[key]  # type: ignore[no-any-return]
        key = "service_level_excl_short" if self.excluding_short else "service_level"
        label = str(int(self.within_s)) if self.within_s.is_integer() else str(self.within_s)
        return group[key].get(label)  # type: ignore[no-any-return]

    def erlang(self, q: ErlangA, short_share: float) -> float:
        """The figure Erlang A predicts when ``short_share`` of callers leave at once."""
        if self.metric == "answered":
            base = q.p_answered()
        else:
            base = q.service_level(self.within_s)
        return base if self.excluding_short else (1.0 - short_share) * base


def parse_target(text: str) -> Target:
    """Parse a ``--target``; a clear ``BadInput`` if it is not one."""
    m = _TARGET.match(text)
    if m is None:
        raise BadInput(
            f"--target {text!r} is not a target; write e.g. "
            '"answered>=0.95 excluding short_abandon" or "service_level@20s>=0.8"',
            field="target",
        )
    threshold = float(m.group(3))
    if not 0 < threshold <= 1:
        raise BadInput("--target: the threshold must be a share in (0, 1]", field="target")
    metric = "answered" if m.group(1) == "answered" else "service_level"
    return Target(
        metric=metric,
        threshold=threshold,
        within_s=float(m.group(2) or 20.0),
        excluding_short=m.group(4) is not None,
    )


# -------------------------------------------------------------------- evaluation
@dataclass(frozen=True, slots=True)
class CellResult:
    contacts_per_week: float
    value: float | None  # the target's figure, None without contacts


@dataclass(frozen=True, slots=True)
class _Setting:
    loaded: LoadedScenario
    config: HelplineConfig
    teams: dict[str, TeamBehaviour]
    week: Week
    demand: dict[str, list[list[float]]]
    target: Target
    seed: int
    replications: int
    arrivals: list[list[Arrival]]


def _evaluate(
    st: _Setting, timeline: Timeline
) -> tuple[dict[Cell, CellResult], dict[str, float | None]]:
    """Run the weeks with this staffing; the target's figure per cell and per channel."""
    cells: dict[tuple[Any, ...], Any] = {}
    channels: dict[tuple[Any, ...], Any] = {}
    for rep in range(st.replications):
        sim = Simulation(
            config=st.config,
            arrivals=st.arrivals[rep],
            callers={str(ch): c for ch, c in st.loaded.scenario.callers.items()},
            teams=st.teams,
            timeline=timeline,
            streams=Streams(f"plan/{st.seed}/{rep}"),
            start=st.week.start,
            end=st.week.end,
        )
        records = sim.run()
        for group_by, acc in ((("channel", "team", "hour"), cells), (("channel",), channels)):
            stats = fold_for_config(
                records, st.config, group_by=group_by, start=st.week.start, end=st.week.end
            )
            for g in stats.groups:
                if g.key in acc:
                    acc[g.key].merge(g)
                else:
                    acc[g.key] = g
    levels = st.config.service_level_s
    weeks = st.replications * ((st.week.last - st.week.first).days + 1) / 7
    by_cell: dict[Cell, CellResult] = {}
    for key, g in cells.items():
        k = dict(key)
        cell = (str(k["channel"]), str(k["team"]), int(k["hour"] or 0))
        by_cell[cell] = CellResult(g.contacts / weeks, st.target.value(g.to_dict(levels)))
    overall = {
        str(dict(key)["channel"]): st.target.value(g.to_dict(levels))
        for key, g in sorted(channels.items(), key=lambda kv: str(kv[0]))
    }
    return by_cell, overall


def _erlang_start(st: _Setting) -> dict[Cell, int]:
    """Erlang A staffing of every cell from its offered load (with carry-over)."""
    out: dict[Cell, int] = {}
    s = st.loaded.scenario
    for cell, (days, _) in sorted(st.week.cells.items()):
        ch, _, h = cell
        grid = st.demand.get(ch)
        callers = s.callers.get(ch)  # type: ignore[call-overload]
        if grid is None or callers is None:
            out[cell] = 0
            continue
        aht = callers.handle.average
        load = pw.offered_load(grid, aht / 3600.0)
        mean_load = math.fsum(load[wd][h] for wd in days) / len(days)
        short = callers.patience.short_share
        rate = mean_load / aht * (1.0 - short)  # contacts per second reaching an agent
        if rate <= 0:
            out[cell] = 0
            continue
        capacity = st.config.channels[ch].capacity  # type: ignore[index]
        patience = callers.patience.rest.average
        n = 1
        while n < MAX_AGENTS:
            try:
                q = ErlangA(rate, aht, patience, n * capacity)
                if st.target.erlang(q, short) >= st.target.threshold:
                    break
            except ValueError:
                pass  # infinite patience and not enough agents for the load
            n += 1
        out[cell] = n
    return out


@dataclass(frozen=True, slots=True)
class PlanResult:
    scenario: str
    month: str
    target: Target
    weeks: int
    replications: int
    volume_multiplier: float
    chat_hours: str | None
    cells: tuple[Cell, ...]
    erlang: dict[Cell, int]
    staff: dict[Cell, int]
    achieved: dict[Cell, CellResult]
    overall: dict[str, float | None]
    current_staff: dict[Cell, float]
    current: dict[Cell, CellResult]
    current_overall: dict[str, float | None]
    owned_hours: dict[Cell, float]  # hours per week the team owns the cell
    met: bool
    rounds: int
    saturated: tuple[Cell, ...] = ()

    @property
    def agent_hours(self) -> float:
        return math.fsum(self.staff[c] * self.owned_hours[c] for c in self.cells)

    @property
    def current_agent_hours(self) -> float:
        return math.fsum(self.current_staff.get(c, 0.0) * self.owned_hours[c] for c in self.cells)


def _fails(
    target: Target, res: dict[Cell, CellResult], staff: dict[Cell, int], weeks: float
) -> list[Cell]:
    """Cells below the target, among those with enough contacts to tell."""
    return [
        c
        for c, r in sorted(res.items())
        if c in staff
        and r.value is not None
        and r.value < target.threshold
        and r.contacts_per_week * weeks >= MIN_CONTACTS
    ]


def plan_staffing(
    loaded: LoadedScenario,
    target: Target,
    *,
    month: str,
    weeks: int = 26,
    replications: int = 2,
    seed: int | None = None,
    volume_multiplier: float = 1.0,
    max_rounds: int = 12,
    progress: Callable[[float], None] | None = None,
) -> PlanResult:
    """Find the fewest agents per (channel, team, hour) meeting ``target`` in simulation."""
    if not re.match(r"^\d{4}-(0[1-9]|1[0-2])$", month):
        raise BadInput(f"--month must be written YYYY-MM (got {month!r})", field="month")
    s = loaded.scenario
    y, m = (int(x) for x in month.split("-"))
    day1 = dt.date(y, m, 1)
    config = pw.config_as_of(loaded.config, day1, target.within_s)
    plan = CoveragePlan(config)
    demand = pw.demand(loaded, plan, config, month, volume_multiplier)
    if not any(v > 0 for grid in demand.values() for row in grid for v in row):
        raise BadInput(f"the scenario has no contacts in {month}", field="month")
    first = day1 + dt.timedelta(days=(7 - day1.weekday()) % 7)  # the first Monday
    week = pw.build_week(plan, config, first, weeks)
    seed = s.seed if seed is None else seed
    st = _Setting(
        loaded=loaded,
        config=config,
        teams={name: pw.behaviour_as_of(t, day1) for name, t in s.teams.items()},
        week=week,
        demand=demand,
        target=target,
        seed=seed,
        replications=replications,
        arrivals=[
            pw.arrivals(week, demand, loaded, Streams(f"plan-arrivals/{seed}/{r}"))
            for r in range(replications)
        ],
    )
    cells = tuple(sorted(week.cells))
    sim_weeks = float(weeks * replications)
    erlang = _erlang_start(st)
    staff = dict(erlang)
    steps = 2 * max_rounds + 4
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(min(1.0, done / steps))

    rounds = 0
    res, overall = _evaluate(st, pw.timeline(week, staff))
    tick()
    # Cells where one more agent did not help (say, agents too slow for the ring time):
    # staffing alone cannot reach the target there, so stop adding.
    saturated: set[Cell] = set()
    while rounds < max_rounds:
        fails = [
            c
            for c in _fails(target, res, staff, sim_weeks)
            if staff[c] < MAX_AGENTS and c not in saturated
        ]
        if not fails:
            break
        rounds += 1
        before = {c: res[c].value for c in fails}
        for c in fails:
            staff[c] += 1
        res, overall = _evaluate(st, pw.timeline(week, staff))
        tick()
        stuck = [
            c
            for c in fails
            if (now := res[c].value) is not None
            and (was := before[c]) is not None
            and now <= was + MIN_GAIN
        ]
        if stuck:
            for c in stuck:
                staff[c] -= 1
                saturated.add(c)
            res, overall = _evaluate(st, pw.timeline(week, staff))
            tick()
    # One agent less wherever there is more than one, kept where the target still holds.
    fewer = [c for c in cells if staff[c] > 1]
    if fewer and not _fails(target, res, staff, sim_weeks):
        trial = {**staff, **{c: staff[c] - 1 for c in fewer}}
        trial_res, _ = _evaluate(st, pw.timeline(week, trial))
        tick()
        failing = set(_fails(target, trial_res, trial, sim_weeks))
        candidate = {c: (staff[c] if c in failing else trial[c]) for c in cells}
        cand_res, cand_overall = _evaluate(st, pw.timeline(week, candidate))
        tick()
        if not _fails(target, cand_res, candidate, sim_weeks):
            staff, res, overall = candidate, cand_res, cand_overall
    current_tl = rota_timeline(
        pw.rota_as_of(s.rota, day1), (), plan, first=week.first, last=week.last
    )
    current, current_overall = _evaluate(st, current_tl)
    tick()
    if progress is not None:
        progress(1.0)
    return PlanResult(
        scenario=s.name,
        month=month,
        target=target,
        weeks=weeks,
        replications=replications,
        volume_multiplier=volume_multiplier,
        chat_hours=s.routing_overrides.chat_hours,
        cells=cells,
        erlang=erlang,
        staff=staff,
        achieved=res,
        overall=overall,
        current_staff=pw.staff_of(current_tl, week),
        current=current,
        current_overall=current_overall,
        owned_hours={c: week.cells[c][1] / 3600.0 for c in cells},
        met=not _fails(target, res, staff, sim_weeks),
        rounds=rounds,
        saturated=tuple(sorted(saturated)),
    )
