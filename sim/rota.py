"""The rota as a timeline: how many agents of each team are logged in on which channels.

Agents are pooled by (team, channels): a rota entry for KSS on phone and one
for KSS on chat are different people (the seed: separate rotas for phone and
chat), an entry on both channels means people who take both. Entries add up;
a team's declared absences set its pools to zero.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from router.config import WEEKDAYS
from router.coverage import CoveragePlan
from sim.scenario import Absence, RotaEntry

__all__ = ["Pool", "Timeline", "rota_timeline"]

DAY = dt.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Pool:
    team: str
    channels: tuple[str, ...]

    @property
    def prefix(self) -> str:
        """Agent ids are ``<prefix>.<n>``, e.g. ``kss.phone.1``."""
        return f"{self.team}.{'-'.join(self.channels)}"


@dataclass(frozen=True, slots=True)
class Timeline:
    pools: tuple[Pool, ...]
    # (POSIX time, pool index, agents wanted from then on), sorted by time.
    changes: tuple[tuple[float, int, int], ...]


def _absent_on(absences: Sequence[Absence], team: str, day: dt.date) -> bool:
    return any(a.team == team and a.start <= day <= a.end for a in absences)


def _applies(
    entry: RotaEntry, day: dt.date, plan: CoveragePlan, absences: Sequence[Absence]
) -> bool:
    if entry.when_absent is not None and not _absent_on(absences, entry.when_absent, day):
        return False
    if entry.valid_from is not None and day < entry.valid_from:
        return False
    if entry.valid_to is not None and day > entry.valid_to:
        return False
    holiday = plan.is_holiday(day)
    if entry.holidays == "only" and not holiday:
        return False
    if entry.holidays == "exclude" and holiday:
        return False
    return WEEKDAYS[day.weekday()] in entry.days


def rota_timeline(
    rota: Sequence[RotaEntry],
    absences: Sequence[Absence],
    plan: CoveragePlan,
    *,
    first: dt.date,
    last: dt.date,
) -> Timeline:
    """Changes of staffing from local midnight of ``first`` to the end of the day after
    ``last`` (one spare day, so contacts still queued at the end can be served)."""
    pools: list[Pool] = []
    index: dict[Pool, int] = {}
    for entry in rota:
        pool = Pool(team=entry.team, channels=tuple(sorted(entry.channels, reverse=True)))
        if pool not in index:
            index[pool] = len(pools)
            pools.append(pool)
    lo = plan.instant(first, 0)
    hi = plan.instant(last + DAY, 1440)
    # (time, kind, key, delta): kind 0 = rota delta for a pool, 1 = absence delta for a team.
    deltas: list[tuple[float, int, int | str, int]] = []
    day = first - DAY
    while day <= last + DAY:
        for entry in rota:
            if entry.agents and _applies(entry, day, plan, absences):
                s = plan.instant(day, entry.start_min)
                end = entry.end_min if entry.end_min > entry.start_min else entry.end_min + 1440
                e = plan.instant(day, end)
                k = index[
                    Pool(team=entry.team, channels=tuple(sorted(entry.channels, reverse=True)))
                ]
                deltas.append((s, 0, k, entry.agents))
                deltas.append((e, 0, k, -entry.agents))
        day += DAY
    for a in absences:
        deltas.append((plan.instant(a.start, 0), 1, a.team, 1))
        deltas.append((plan.instant(a.end + DAY, 0), 1, a.team, -1))
    deltas.sort(key=lambda d: d[0])
    raw = [0] * len(pools)
    absent: dict[str, int] = {}
    current = [0] * len(pools)
    changes: list[tuple[float, int, int]] = []
    i = 0
    while i < len(deltas):
        t = deltas[i][0]
        while i < len(deltas) and deltas[i][0] == t:
            _, kind, key, delta = deltas[i]
            if kind == 0:
                assert isinstance(key, int)
                raw[key] += delta
            else:
                assert isinstance(key, str)
                absent[key] = absent.get(key, 0) + delta
            i += 1
        if t >= hi:
            break
        for k, pool in enumerate(pools):
            want = 0 if absent.get(pool.team, 0) > 0 else raw[k]
            if want != current[k]:
                current[k] = want
                changes.append((max(t, lo), k, want))
    # Changes before the horizon collapse into the state at its start.
    merged: dict[int, int] = {}
    timeline: list[tuple[float, int, int]] = []
    for t, k, want in changes:
        if t <= lo:
            merged[k] = want
        else:
            timeline.append((t, k, want))
    head = [(lo, k, want) for k, want in sorted(merged.items()) if want > 0]
    return Timeline(pools=tuple(pools), changes=tuple(head + timeline))
