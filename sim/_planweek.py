"""A regular week for planning: demand, ownership of each hour, rota as timelines.

Part of ``linje plan`` (``sim.plan``): everything here is about building the
weeks that are simulated, from a scenario as it stands in one month.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from router.config import CLOSED, HelplineConfig
from router.coverage import CoveragePlan
from sim.arrivals import Arrival, month_pieces, poisson, read_replay
from sim.driver import Streams
from sim.rota import Pool, Timeline
from sim.scenario import LoadedScenario, RotaEntry, TeamBehaviour

__all__ = [
    "Cell",
    "Week",
    "arrivals",
    "behaviour_as_of",
    "build_week",
    "config_as_of",
    "demand",
    "offered_load",
    "open_hours",
    "owned_stretches",
    "rota_as_of",
    "staff_of",
    "timeline",
]

Cell = tuple[str, str, str, int]  # (day type, channel, team, hour)
DAY = dt.timedelta(days=1)


# ------------------------------------------------------------------ as of a month
def config_as_of(config: HelplineConfig, day: dt.date, within_s: float) -> HelplineConfig:
    """The routing rules that apply on ``day``, for every day, with no public holidays."""
    queues = {}
    for name, q in config.queues.items():
        rules = tuple(
            r.model_copy(update={"valid_from": None, "valid_to": None})
            for r in q.rules
            if (r.valid_from is None or r.valid_from <= day)
            and (r.valid_to is None or day <= r.valid_to)
        )
        queues[name] = q.model_copy(update={"rules": rules})
    levels = tuple(sorted({*config.service_level_s, within_s}))
    return config.model_copy(
        update={"queues": queues, "holidays_country": None, "service_level_s": levels}
    )


def behaviour_as_of(team: TeamBehaviour, day: dt.date) -> TeamBehaviour:
    update: dict[str, Any] = {"periods": ()}
    for p in team.periods:
        if p.start <= day <= p.end:
            if p.no_pickup_share is not None:
                update["no_pickup_share"] = p.no_pickup_share
            if p.away_share is not None:
                update["away_share"] = p.away_share
    return team.model_copy(update=update)


def rota_as_of(rota: Sequence[RotaEntry], day: dt.date) -> list[RotaEntry]:
    return [
        e.model_copy(update={"valid_from": None, "valid_to": None})
        for e in rota
        if (e.valid_from is None or e.valid_from <= day)
        and (e.valid_to is None or day <= e.valid_to)
        and e.when_absent is None
    ]


# ------------------------------------------------------------------------ demand
def demand(
    loaded: LoadedScenario, plan: CoveragePlan, config: HelplineConfig, month: str, vm: float
) -> dict[str, list[list[float]]]:
    """channel -> [weekday][hour] -> expected contacts in that hour of a regular week."""
    s = loaded.scenario
    y, m = (int(x) for x in month.split("-"))
    first = dt.date(y, m, 1)
    last = dt.date(y + (m == 12), m % 12 + 1, 1) - DAY
    occurrences = [0] * 7
    day = first
    while day <= last:
        occurrences[day.weekday()] += 1
        day += DAY
    out: dict[str, list[list[float]]] = {}
    if s.arrivals.replay is not None:
        arrivals = read_replay(
            loaded.base_dir / s.arrivals.replay.file,
            s.arrivals.replay.format,
            plan,
            config,
            first=first,
            last=last,
        )
        for a in arrivals:
            local = plan.local(a.at)
            grid = out.setdefault(a.channel, [[0.0] * 24 for _ in range(7)])
            grid[local.weekday()][local.hour] += vm / occurrences[local.weekday()]
        return out
    for ch in ("phone", "chat"):
        vol = getattr(s.arrivals, ch)
        if vol is None or vol.monthly.get(month, 0.0) <= 0:
            continue
        pieces, _, mass = month_pieces(vol, vol.queue or ch, plan, (), year=y, month=m)
        if mass <= 0:
            continue
        total = vol.monthly[month] * vm
        grid = out.setdefault(ch, [[0.0] * 24 for _ in range(7)])
        for start, _, w in pieces:
            local = plan.local(start)
            grid[local.weekday()][local.hour] += total * w / mass / occurrences[local.weekday()]
    return out


def offered_load(rates: list[list[float]], aht_h: float) -> list[list[float]]:
    """Mean offered load of each hour of the week (Erlangs), with carry-over between hours."""
    flat = [rates[wd][h] for wd in range(7) for h in range(24)]
    decay = math.exp(-1.0 / aht_h)
    m = 0.0
    means = [0.0] * 168
    for _ in range(3):  # the week repeats: three laps reach the periodic state
        for i, lam in enumerate(flat):
            steady = lam * aht_h
            means[i] = steady + (m - steady) * aht_h * (1.0 - decay)
            m = steady + (m - steady) * decay
    return [means[wd * 24 : wd * 24 + 24] for wd in range(7)]


# ---------------------------------------------------------------------- the week
@dataclass
class Week:
    """Ownership of every hour of the simulated weeks, and what each cell covers."""

    start: float
    end: float
    first: dt.date
    last: dt.date
    # (day number, weekday, hour, start, end) of every local clock hour
    hours: list[tuple[int, int, int, float, float]] = field(default_factory=list)
    # (start, end, channel, team, hour, day type) of every owned stretch
    pieces: list[tuple[float, float, str, str, int, str]] = field(default_factory=list)
    # (day number, hour, channel) -> owned stretches of that hour
    open: dict[tuple[int, int, str], list[tuple[float, float]]] = field(default_factory=dict)
    # cell -> weekdays it covers and owned seconds per week
    cells: dict[Cell, tuple[set[int], float]] = field(default_factory=dict)


def owned_stretches(
    plan: CoveragePlan, queue: str, bounds: Sequence[float]
) -> Iterator[tuple[int, float, float, str]]:
    """(hour, start, end, owner) of every stretch of a local day (``bounds``: its 25
    clock-hour marks) in which a team owns ``queue``, cut at the clock hours."""
    t = bounds[0]
    while t < bounds[24]:
        seg = plan.segment(queue, t)
        stop = min(seg.end, bounds[24])
        if seg.owner != CLOSED:
            for h in range(24):
                a, b = max(t, bounds[h]), min(stop, bounds[h + 1])
                if b > a:
                    yield h, a, b, seg.owner
        t = stop


def open_hours(
    plan: CoveragePlan, config: HelplineConfig, first: dt.date, last: dt.date
) -> dict[tuple[str, int, int], float]:
    """(channel, weekday, hour) -> hours a queue of the channel was open, ``first`` to
    ``last`` (an hour in which two queues of a channel are open counts once)."""
    out: dict[tuple[str, int, int], float] = {}
    day = first
    while day <= last:
        bounds = [plan.instant(day, 60 * h) for h in range(25)]
        today: dict[tuple[str, int, int], float] = {}
        for qname, q in config.queues.items():
            for h, a, b, _ in owned_stretches(plan, qname, bounds):
                key = (str(q.channel), day.weekday(), h)
                today[key] = today.get(key, 0.0) + (b - a) / (bounds[h + 1] - bounds[h])
        for key, x in today.items():
            out[key] = out.get(key, 0.0) + min(1.0, x)
        day += DAY
    return out


def build_week(
    plan: CoveragePlan, config: HelplineConfig, first: dt.date, weeks: int, kinds: Sequence[str]
) -> Week:
    """The simulated weeks from Monday ``first``; ``kinds[weekday]`` is the day type."""
    last = first + dt.timedelta(weeks=weeks) - DAY
    w = Week(start=plan.instant(first, 0), end=plan.instant(last, 1440), first=first, last=last)
    for n in range(weeks * 7):
        day = first + dt.timedelta(days=n)
        bounds = [plan.instant(day, 60 * h) for h in range(25)]
        w.hours += [(n, day.weekday(), h, bounds[h], bounds[h + 1]) for h in range(24)]
        kind = kinds[day.weekday()]
        for qname, q in config.queues.items():
            for h, a, b, owner in owned_stretches(plan, qname, bounds):
                w.pieces.append((a, b, q.channel, owner, h, kind))
                w.open.setdefault((n, h, q.channel), []).append((a, b))
                if n < 7:
                    cell = (kind, q.channel, owner, h)
                    days, secs = w.cells.get(cell, (set(), 0.0))
                    days.add(day.weekday())
                    w.cells[cell] = (days, secs + b - a)
    w.pieces.sort()
    return w


def timeline(week: Week, staff: dict[Cell, int]) -> Timeline:
    """Each owned stretch staffed by its cell's agents, every other pool logged out."""
    pools: list[Pool] = []
    index: dict[tuple[str, str], int] = {}
    for _, ch, team, _ in sorted(week.cells):
        if (team, ch) not in index:
            index[(team, ch)] = len(pools)
            pools.append(Pool(team=team, channels=(ch,)))
    marks: dict[float, dict[int, int]] = {}
    for a, b, ch, team, h, kind in week.pieces:
        k = index[(team, ch)]
        marks.setdefault(b, {}).setdefault(k, 0)
        marks.setdefault(a, {})[k] = staff.get((kind, ch, team, h), 0)
    current = [0] * len(pools)
    changes: list[tuple[float, int, int]] = []
    for t in sorted(marks):
        for k, want in sorted(marks[t].items()):
            if want != current[k]:
                current[k] = want
                changes.append((t, k, want))
    return Timeline(pools=tuple(pools), changes=tuple(changes))


def arrivals(
    week: Week, demand: dict[str, list[list[float]]], loaded: LoadedScenario, streams: Streams
) -> list[Arrival]:
    """Poisson arrivals at the planned hourly rates (open hours only where the scenario
    says contacts can only start while the queue is open)."""
    rng = streams.arrivals
    out: list[tuple[float, int, Arrival]] = []
    seq = 0
    for ch in sorted(demand):
        grid = demand[ch]
        vol = getattr(loaded.scenario.arrivals, ch, None)
        queue = (vol.queue if vol is not None else None) or ch
        only_open = vol is not None and vol.only_when_open
        for n, wd, h, a, b in week.hours:
            spans = week.open.get((n, h, ch), []) if only_open else [(a, b)]
            total = math.fsum(y - x for x, y in spans)
            if total <= 0 or grid[wd][h] <= 0:
                continue
            for _ in range(poisson(rng, grid[wd][h])):
                x = rng.random() * total
                for lo, hi in spans:
                    if x < hi - lo or (lo, hi) == spans[-1]:
                        seq += 1
                        t = min(lo + x, hi)
                        out.append((t, seq, Arrival(at=t, channel=ch, queue=queue)))
                        break
                    x -= hi - lo
    out.sort(key=lambda v: (v[0], v[1]))
    return [a for _, _, a in out]


def staff_of(timeline: Timeline, week: Week) -> dict[Cell, float]:
    """Mean agents logged in per cell (time-weighted) in a timeline, over the first week."""
    by_pool: dict[tuple[str, str], list[tuple[float, int]]] = {}
    for t, k, want in timeline.changes:
        pool = timeline.pools[k]
        for ch in pool.channels:
            by_pool.setdefault((pool.team, ch), []).append((t, want))
    acc: dict[Cell, list[float]] = {}
    end = week.start + 7 * 86400.0
    for a, b, ch, team, h, kind in week.pieces:
        if a >= end:
            break
        changes = by_pool.get((team, ch), [])
        mid = (a + b) / 2
        want = 0
        for t, w in changes:
            if t > mid:
                break
            want = w
        tot = acc.setdefault((kind, ch, team, h), [0.0, 0.0])
        tot[0] += want * (b - a)
        tot[1] += b - a
    return {cell: w / d for cell, (w, d) in acc.items() if d > 0}
