"""``linje plan``: the fewest agents per day type, team, channel and hour that meet a target.

The plan is for regular weeks of one month (no absences, campaigns left
out), with the coverage rules, behaviour and rota that apply in that month.
Every cell is a (day type, channel, team, hour): the day types are weekday,
Saturday and Sunday (which public holidays follow) unless ``--day-types``
says otherwise, and every output labels them.

1. Demand per channel, weekday and hour comes from the scenario's volume
   profile (or replayed log) for the month.
2. Erlang A gives the starting staffing of every cell from the offered load
   m(t), dm/dt = lambda(t) - m(t) / AHT, averaged over the hour, so work still in
   progress from the previous hour counts (the modified-offered-load method of
   Jennings, Mandelbaum, Massey & Whitt, 1996). A cell with fewer than
   ``LOW_VOLUME`` expected contacts a week gets the minimum of one agent: its
   hour is judged within its period (``--period day`` or ``week``), not alone.
3. Candidate staffings form a ladder: Erlang A's staffing plus k agents in
   every other cell, k = -1, 0, 1 at first. Each candidate runs ``weeks`` weeks
   x ``replications`` with the same random numbers (common random numbers:
   the same arrivals, patience and handle times for every candidate). A cell's
   figure is pooled over the simulated weeks with a batch-means standard error
   (each week one batch); its curve over the ladder is made monotone (pool
   adjacent violators, weighted by the contacts behind each figure), so more
   agents never come out worse. A cell takes the fewest agents whose 95 %
   lower bound clears the target. The ladder grows where no candidate clears
   it or the lowest does, and replications double (up to ``max_replications``)
   while a cell is undecided: the level below its choice may also be enough.
4. The chosen plan and the scenario's own rota run on the same weeks; any
   cell or period below the target is listed with its figure and interval,
   and a low-volume cell gets one more agent where its period falls short.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from router.config import WEEKDAYS, HelplineConfig
from router.coverage import CoveragePlan
from router.errors import BadInput
from router.stats import Group, fold_for_config
from sim import _planweek as pw
from sim._planweek import Cell, Week
from sim.driver import Simulation, Streams
from sim.erlang import ErlangA
from sim.parallel import Runner, runner
from sim.rota import Timeline, rota_timeline
from sim.scenario import LoadedScenario, TeamBehaviour

__all__ = [
    "DEFAULT_DAY_TYPES",
    "Cell",
    "CellPlan",
    "DayTypes",
    "Figure",
    "PlanResult",
    "Target",
    "estimate",
    "monotone",
    "parse_day_types",
    "parse_target",
    "plan_staffing",
]

MAX_AGENTS = 60
# Where one more agent lifts a figure by less than this, staffing has stopped helping.
MIN_GAIN = 0.002
# A cell expecting fewer contacts a week than this is judged within its period.
LOW_VOLUME = 1.0
Z95 = 1.959964
MIN_OFFSET, MAX_OFFSET = -4, 8
VERIFY_ROUNDS = 8
# Low-volume cells of a period short of the target that get one more agent per round.
BUMPS = 3
_TARGET = re.compile(
    r"^\s*(answered|service_level(?:@(\d+(?:\.\d+)?)s)?)\s*>=\s*(0?\.\d+|1(?:\.0*)?|0)\s*"
    r"(excluding\s+short_abandons?)?\s*$"
)

# (name, weekdays) in order; the day type holding Sunday is also the public holidays'.
DayTypes = tuple[tuple[str, tuple[int, ...]], ...]
DEFAULT_DAY_TYPES: DayTypes = (
    ("weekday", (0, 1, 2, 3, 4)),
    ("saturday", (5,)),
    ("sunday_holiday", (6,)),
)


def parse_day_types(text: str) -> DayTypes:
    """``weekday=mon-fri,saturday=sat,sunday_holiday=sun`` (every weekday exactly once)."""
    out: list[tuple[str, tuple[int, ...]]] = []
    seen: set[int] = set()
    for part in text.split(","):
        name, _, days = part.strip().partition("=")
        name = name.strip()
        if not re.match(r"^[a-z][a-z0-9_]{0,29}$", name) or not days:
            raise BadInput(
                f"--day-types: {part.strip()!r} is not name=days, e.g. weekday=mon-fri",
                field="day_types",
            )
        picked: list[int] = []
        for item in days.split("+"):
            lo, _, hi = item.strip().partition("-")
            try:
                i, j = WEEKDAYS.index(lo), WEEKDAYS.index(hi or lo)
            except ValueError:
                raise BadInput(
                    f"--day-types: {item.strip()!r} is not a weekday or a range like mon-fri",
                    field="day_types",
                ) from None
            if j < i:
                raise BadInput(f"--day-types: {item.strip()!r} runs backwards", field="day_types")
            picked += range(i, j + 1)
        if seen & set(picked) or len(set(picked)) != len(picked):
            raise BadInput("--day-types: a weekday is in two day types", field="day_types")
        seen |= set(picked)
        out.append((name, tuple(sorted(picked))))
    if seen != set(range(7)):
        missing = ", ".join(WEEKDAYS[d] for d in range(7) if d not in seen)
        raise BadInput(f"--day-types: no day type for {missing}", field="day_types")
    if len({n for n, _ in out}) != len(out):
        raise BadInput("--day-types: a name is used twice", field="day_types")
    return tuple(out)


def day_type_label(name: str, types: DayTypes) -> str:
    """``weekday (mon-fri)``, ``sunday_holiday (sun, public holidays)``."""
    days = dict(types)[name]
    text = (
        f"{WEEKDAYS[days[0]]}-{WEEKDAYS[days[-1]]}"
        if len(days) > 2 and days == tuple(range(days[0], days[-1] + 1))
        else ", ".join(WEEKDAYS[d] for d in days)
    )
    return f"{name} ({text}{', public holidays' if 6 in days else ''})"


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

    def counts(self, g: Group) -> tuple[int, int]:
        """(contacts meeting the target's figure, contacts it is taken over) in a group."""
        decided = g.answered + g.unanswered_total
        if self.excluding_short:
            decided -= g.unanswered["short_abandon"]
        if self.metric == "answered":
            return g.answered, decided
        return sum(1 for w in g.waits_answered if w <= self.within_s), decided

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


# -------------------------------------------------------------------- figures
# One simulated week of one cell: (contacts meeting the figure, contacts judged, contacts).
Batch = tuple[int, int, int]
Tally = dict[Cell, list[Batch]]


@dataclass(frozen=True, slots=True)
class Figure:
    """A share over simulated weeks with its 95 % interval and the sample behind it."""

    value: float | None
    low: float | None
    high: float | None
    judged: int  # contacts the share is taken over, in all simulated weeks
    contacts_per_week: float

    def shifted(self, value: float) -> Figure:
        """The same interval around another value (a monotone fit of the figure)."""
        if self.value is None or self.low is None or self.high is None:
            return self
        d = value - self.value
        return Figure(value, max(0.0, self.low + d), min(1.0, self.high + d), self.judged,
                      self.contacts_per_week)  # fmt: skip


NO_FIGURE = Figure(None, None, None, 0, 0.0)


def estimate(batches: Sequence[Batch]) -> Figure:
    """Pooled share over batches (simulated weeks) with a batch-means 95 % interval.

    The standard error is the ratio estimator's over batches, and never less than
    the binomial one of Agresti and Coull, so a small sample with no failures
    does not look certain.
    """
    n = len(batches)
    hits = sum(b[0] for b in batches)
    judged = sum(b[1] for b in batches)
    contacts = sum(b[2] for b in batches)
    per_week = contacts / n if n else 0.0
    if judged == 0:
        return Figure(None, None, None, 0, per_week)
    p = hits / judged
    se_batch = 0.0
    if n > 1:
        ss = math.fsum((h - p * j) ** 2 for h, j, _ in batches)
        se_batch = math.sqrt(ss / (n * (n - 1))) / (judged / n)
    pt = (hits + 2) / (judged + 4)
    se = max(se_batch, math.sqrt(pt * (1 - pt) / (judged + 4)))
    return Figure(p, max(0.0, p - Z95 * se), min(1.0, p + Z95 * se), judged, per_week)


def monotone(values: Sequence[float | None], weights: Sequence[float]) -> list[float | None]:
    """The closest non-decreasing sequence (weighted least squares; pool adjacent
    violators). ``None`` stays ``None`` and is skipped."""
    blocks: list[list[float]] = []  # [weighted sum, weight, count]
    for v, w in zip(values, weights, strict=True):
        if v is None:
            continue
        blocks.append([v * max(w, 1e-9), max(w, 1e-9), 1])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            s, ww, c = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += ww
            blocks[-1][2] += c
    fitted = iter(b[0] / b[1] for b in blocks for _ in range(int(b[2])))
    return [None if v is None else next(fitted) for v in values]


def _sum_batches(parts: Sequence[Sequence[Batch]]) -> list[Batch]:
    """Batches of several cells added week by week."""
    if not parts:
        return []
    return [
        (sum(p[i][0] for p in parts), sum(p[i][1] for p in parts), sum(p[i][2] for p in parts))
        for i in range(len(parts[0]))
    ]


# -------------------------------------------------------------------- evaluation
@dataclass(frozen=True, slots=True)
class _Setting:
    loaded: LoadedScenario
    config: HelplineConfig
    teams: dict[str, TeamBehaviour]
    week: Week
    weeks: int
    kinds: tuple[str, ...]  # weekday -> day type
    demand: dict[str, list[list[float]]]
    target: Target
    seed: int
    current: Timeline


def _tally(st: _Setting, task: tuple[dict[Cell, int] | None, int]) -> Tally:
    """One replication of the weeks with a staffing (None: the current rota), per cell
    and simulated week. Random numbers depend on the replication only."""
    staff, rep = task
    timeline = st.current if staff is None else pw.timeline(st.week, staff)
    sim = Simulation(
        config=st.config,
        arrivals=pw.arrivals(
            st.week, st.demand, st.loaded, Streams(f"plan-arrivals/{st.seed}/{rep}")
        ),
        callers={str(ch): c for ch, c in st.loaded.scenario.callers.items()},
        teams=st.teams,
        timeline=timeline,
        streams=Streams(f"plan/{st.seed}/{rep}"),
        start=st.week.start,
        end=st.week.end,
    )
    stats = fold_for_config(
        sim.run(),
        st.config,
        group_by=("channel", "team", "day", "hour"),
        start=st.week.start,
        end=st.week.end,
    )
    out: Tally = {c: [(0, 0, 0)] * st.weeks for c in st.week.cells}
    for g in stats.groups:
        k = dict(g.key)
        day = dt.date.fromisoformat(str(k["day"]))
        cell = (st.kinds[day.weekday()], str(k["channel"]), str(k["team"]), int(k["hour"] or 0))
        if cell not in out:
            continue  # a contact of a closed hour (rejected): no cell to staff
        n = (day - st.week.first).days // 7
        hits, judged = st.target.counts(g)
        h0, j0, c0 = out[cell][n]
        out[cell][n] = (h0 + hits, j0 + judged, c0 + g.contacts)
    return out


def _merge(tallies: Sequence[Tally]) -> Tally:
    """Replications' tallies, their weeks one after another (in replication order)."""
    out: Tally = {}
    for t in tallies:
        for cell, batches in t.items():
            out.setdefault(cell, []).extend(batches)
    return out


def _erlang_start(st: _Setting) -> dict[Cell, int]:
    """Erlang A staffing of every cell from its offered load (with carry-over)."""
    out: dict[Cell, int] = {}
    s = st.loaded.scenario
    for cell, (days, _) in sorted(st.week.cells.items()):
        _, ch, _, h = cell
        grid = st.demand.get(ch)
        callers = s.callers.get(ch)  # type: ignore[call-overload]
        if grid is None or callers is None:
            out[cell] = 1
            continue
        aht = callers.handle.average
        load = pw.offered_load(grid, aht / 3600.0)
        mean_load = math.fsum(load[wd][h] for wd in days) / len(days)
        short = callers.patience.short_share
        rate = mean_load / aht * (1.0 - short)  # contacts per second reaching an agent
        if rate <= 0:
            out[cell] = 1
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


def _expected_per_week(st: _Setting, cell: Cell) -> float:
    """Contacts a week the demand puts in a cell (its share of the owned hour)."""
    _, ch, _, h = cell
    grid = st.demand.get(ch)
    if grid is None:
        return 0.0
    days, secs = st.week.cells[cell]
    rates = [grid[wd][h] for wd in days]
    return math.fsum(rates) * secs / (3600.0 * len(days))


# ------------------------------------------------------------------------ result
@dataclass(frozen=True, slots=True)
class CellPlan:
    """One cell's decision: agents, how sure, and its ladder of candidates."""

    agents: int
    status: str  # met, undecided, below, saturated, low_volume
    # (agents, monotone figure) per candidate tried, fewest agents first
    ladder: tuple[tuple[int, Figure], ...] = ()
    # the simulated figure per candidate before the monotone fit, in the same order
    raw: tuple[Figure, ...] = ()


@dataclass(frozen=True, slots=True)
class PlanResult:
    scenario: str
    month: str
    target: Target
    period: str
    day_types: DayTypes
    weeks: int
    replications: int
    volume_multiplier: float
    chat_hours: str | None
    cells: tuple[Cell, ...]
    erlang: dict[Cell, int]
    decisions: dict[Cell, CellPlan]
    staff: dict[Cell, int]
    achieved: dict[Cell, Figure]
    current_staff: dict[Cell, float]
    current: dict[Cell, Figure]
    overall: dict[str, Figure]  # channel -> figure over the week
    current_overall: dict[str, Figure]
    periods: dict[tuple[str, ...], Figure]  # (day type, channel) or (channel,)
    current_periods: dict[tuple[str, ...], Figure]
    owned_hours: dict[Cell, float]  # hours per week the team owns the cell
    candidates: int = 0  # staffings simulated (ladder rungs and checks)

    @property
    def agent_hours(self) -> float:
        return math.fsum(self.staff[c] * self.owned_hours[c] for c in self.cells)

    @property
    def current_agent_hours(self) -> float:
        return math.fsum(self.current_staff.get(c, 0.0) * self.owned_hours[c] for c in self.cells)

    @property
    def below(self) -> list[Cell]:
        """Cells whose figure with this plan is below the target."""
        t = self.target.threshold
        return [c for c in self.cells if (v := self.achieved[c].value) is not None and v < t]

    @property
    def met(self) -> bool:
        t = self.target.threshold
        periods_ok = all(f.value is None or f.value >= t for f in self.periods.values())
        cells_ok = all(
            d.status in ("met", "undecided") and (self.achieved[c].value or 1.0) >= t
            for c, d in self.decisions.items()
            if d.status != "low_volume"
        )
        return periods_ok and cells_ok


def _pools(period: str, cells: Sequence[Cell]) -> dict[tuple[str, ...], list[Cell]]:
    out: dict[tuple[str, ...], list[Cell]] = {}
    for c in cells:
        key = (c[0], c[1]) if period == "day" else (c[1],)
        out.setdefault(key, []).append(c)
    return out


def _figures(tally: Tally, cells: Sequence[Cell], period: str) -> tuple[
    dict[Cell, Figure], dict[tuple[str, ...], Figure], dict[str, Figure]
]:  # fmt: skip
    by_cell = {c: estimate(tally[c]) for c in cells}
    periods = {
        key: estimate(_sum_batches([tally[c] for c in members]))
        for key, members in sorted(_pools(period, cells).items())
    }
    by_channel: dict[str, list[Cell]] = {}
    for c in cells:
        by_channel.setdefault(c[1], []).append(c)
    overall = {
        ch: estimate(_sum_batches([tally[c] for c in members]))
        for ch, members in sorted(by_channel.items())
    }
    return by_cell, periods, overall


# -------------------------------------------------------------------- the search
class _Search:
    """The ladder of candidate staffings, their tallies per replication, the decisions."""

    def __init__(
        self,
        st: _Setting,
        run: Runner,
        base: dict[Cell, int],
        low: set[Cell],
        tick: Callable[[int], None],
    ) -> None:
        self.st = st
        self.run = run
        self.tick = tick
        self.base = base
        self.low = low
        self.high = sorted(c for c in base if c not in low)
        self.tallies: dict[int | None, list[Tally]] = {}  # offset (None: current) -> per rep
        self.evaluated = 0

    def staff(self, k: int) -> dict[Cell, int]:
        return {
            c: n if c in self.low else min(MAX_AGENTS, max(1, n + k)) for c, n in self.base.items()
        }

    def ensure(self, offsets: Sequence[int | None], reps: int) -> None:
        """Run whatever replications of these candidates are not run yet, in one batch."""
        tasks: list[tuple[int | None, tuple[dict[Cell, int] | None, int]]] = []
        for k in offsets:
            have = len(self.tallies.setdefault(k, []))
            staff = None if k is None else self.staff(k)
            tasks += [(k, (staff, r)) for r in range(have, reps)]
        if not tasks:
            return
        self.evaluated += len({k for k, _ in tasks})
        for (k, _), tally in zip(
            tasks, self.run.run([t for _, t in tasks], self.tick), strict=True
        ):
            self.tallies[k].append(tally)

    def raw(self, cell: Cell, offsets: Sequence[int], reps: int) -> list[Figure]:
        """The simulated figure per offset, before the monotone fit."""
        return [estimate(_merge(self.tallies[k][:reps])[cell]) for k in offsets]

    def ladder(self, cell: Cell, offsets: Sequence[int], reps: int) -> list[tuple[int, Figure]]:
        """(agents, monotone figure) per offset, fewest agents first."""
        raw = self.raw(cell, offsets, reps)
        fitted = monotone([f.value for f in raw], [float(f.judged) for f in raw])
        return [
            (self.staff(k)[cell], f if v is None else f.shifted(v))
            for k, f, v in zip(offsets, raw, fitted, strict=True)
        ]

    def decide(self, offsets: Sequence[int], reps: int) -> dict[Cell, tuple[int, str]]:
        """cell -> (index of the offset chosen, status), for the cells judged alone."""
        t = self.st.target.threshold
        out: dict[Cell, tuple[int, str]] = {}
        for cell in self.high:
            lad = self.ladder(cell, offsets, reps)
            chosen = next(
                (i for i, (_, f) in enumerate(lad) if f.low is not None and f.low >= t), None
            )
            if chosen is None:
                # Staffing has stopped helping where the top three rungs rise by less
                # than the top's half-width: take the fewest agents whose interval
                # still reaches the best figure (more buy nothing measurable).
                top = lad[-1][1]
                rise = (top.value or 0.0) - (lad[-3][1].value or 0.0) if len(lad) >= 3 else 1.0
                if top.high is not None and top.high < t and rise < top.high - (top.value or 0.0):
                    best = max(f.value or 0.0 for _, f in lad)
                    i = next(i for i, (_, f) in enumerate(lad) if (f.high or 0.0) >= best)
                    out[cell] = (i, "saturated")
                else:
                    out[cell] = (len(lad) - 1, "below")
                continue
            status = "met"
            below = [f for n, f in lad[:chosen] if n < lad[chosen][0]]
            if below and below[-1].high is not None and below[-1].high >= t:
                status = "undecided"  # the level below may be enough too
            out[cell] = (chosen, status)
        return out


def plan_staffing(
    loaded: LoadedScenario,
    target: Target,
    *,
    month: str,
    weeks: int = 26,
    replications: int = 2,
    max_replications: int = 8,
    seed: int | None = None,
    volume_multiplier: float = 1.0,
    day_types: DayTypes = DEFAULT_DAY_TYPES,
    period: str = "day",
    jobs: int = 1,
    progress: Callable[[float], None] | None = None,
) -> PlanResult:
    """Find the fewest agents per (day type, channel, team, hour) meeting ``target``."""
    if not re.match(r"^\d{4}-(0[1-9]|1[0-2])$", month):
        raise BadInput(f"--month must be written YYYY-MM (got {month!r})", field="month")
    if period not in ("day", "week"):
        raise BadInput(f"--period must be day or week (got {period!r})", field="period")
    max_replications = max(max_replications, replications)
    s = loaded.scenario
    y, m = (int(x) for x in month.split("-"))
    day1 = dt.date(y, m, 1)
    config = pw.config_as_of(loaded.config, day1, target.within_s)
    plan = CoveragePlan(config)
    demand = pw.demand(loaded, plan, config, month, volume_multiplier)
    if not any(v > 0 for grid in demand.values() for row in grid for v in row):
        raise BadInput(f"the scenario has no contacts in {month}", field="month")
    first = day1 + dt.timedelta(days=(7 - day1.weekday()) % 7)  # the first Monday
    kinds = [""] * 7
    for name, days in day_types:
        for d in days:
            kinds[d] = name
    week = pw.build_week(plan, config, first, weeks, kinds)
    seed = s.seed if seed is None else seed
    current_tl = rota_timeline(
        pw.rota_as_of(s.rota, day1), (), plan, first=week.first, last=week.last
    )
    st = _Setting(
        loaded=loaded,
        config=config,
        teams={name: pw.behaviour_as_of(t, day1) for name, t in s.teams.items()},
        week=week,
        weeks=weeks,
        kinds=tuple(kinds),
        demand=demand,
        target=target,
        seed=seed,
        current=current_tl,
    )
    cells = tuple(sorted(week.cells))
    erlang = _erlang_start(st)
    low = {c for c in cells if _expected_per_week(st, c) < LOW_VOLUME}
    base = {c: 1 if c in low else erlang[c] for c in cells}
    done = 0
    expect = 24

    def tick(_: int = 0) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(min(0.99, done / expect))

    with runner(_tally, st, jobs) as run:
        search = _Search(st, run, base, low, tick)
        offsets = [-1, 0, 1]
        reps = replications
        search.ensure([None, *offsets], reps)
        while True:
            decided = search.decide(offsets, reps)
            grow = False
            if offsets[-1] < MAX_OFFSET and any(
                status == "below" and search.staff(offsets[-1])[c] < MAX_AGENTS
                for c, (_, status) in decided.items()
            ):
                offsets.append(offsets[-1] + 1)
                grow = True
            if offsets[0] > MIN_OFFSET and any(
                i == 0 and search.staff(offsets[0])[c] > 1 for c, (i, _) in decided.items()
            ):
                offsets.insert(0, offsets[0] - 1)
                grow = True
            if (
                not grow
                and reps < max_replications
                and any(status == "undecided" for _, status in decided.values())
            ):
                reps = min(max_replications, 2 * reps)
                grow = True
            if not grow:
                break
            search.ensure([None, *offsets], reps)
        staff = {c: base[c] for c in cells}
        decisions: dict[Cell, CellPlan] = {}
        for c in cells:
            if c in low:
                continue
            i, status = decided[c]
            lad = tuple(search.ladder(c, offsets, reps))
            staff[c] = lad[i][0]
            decisions[c] = CellPlan(
                agents=staff[c],
                status=status,
                ladder=lad,
                raw=tuple(search.raw(c, offsets, reps)),
            )
        # The chosen plan as a whole; a period short of the target gets one more agent
        # in its low-volume cell that lost the most contacts.
        for _ in range(VERIFY_ROUNDS):
            tallies = run.run([(staff, r) for r in range(reps)], tick)
            search.evaluated += 1
            tally = _merge(tallies)
            achieved, periods, overall = _figures(tally, cells, period)
            short = [
                key
                for key, f in periods.items()
                if f.value is not None and f.value < target.threshold
            ]
            bumped = False
            for key in short:
                members = [c for c in _pools(period, cells)[key] if c in low]
                lost = [
                    (sum(b[1] - b[0] for b in tally[c]), c)
                    for c in members
                    if staff[c] < MAX_AGENTS
                ]
                for n, c in sorted(lost, reverse=True)[:BUMPS]:
                    if n > 0:
                        staff[c] += 1
                        bumped = True
            if not bumped:
                break
        for c in cells:
            if c in low:
                decisions[c] = CellPlan(agents=staff[c], status="low_volume")
        current_tally = _merge(search.tallies[None][:reps])
        current, current_periods, current_overall = _figures(current_tally, cells, period)
    if progress is not None:
        progress(1.0)
    return PlanResult(
        scenario=s.name,
        month=month,
        target=target,
        period=period,
        day_types=day_types,
        weeks=weeks,
        replications=reps,
        volume_multiplier=volume_multiplier,
        chat_hours=s.routing_overrides.chat_hours,
        cells=cells,
        erlang=erlang,
        decisions=decisions,
        staff=staff,
        achieved=achieved,
        current_staff=pw.staff_of(current_tl, week),
        current=current,
        overall=overall,
        current_overall=current_overall,
        periods=periods,
        current_periods=current_periods,
        owned_hours={c: week.cells[c][1] / 3600.0 for c in cells},
        candidates=search.evaluated,
    )
