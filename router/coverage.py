"""Coverage plan: which team owns each queue at each instant (the handover schedule).

Pure: local time comes from ``zoneinfo`` (DST-correct), public holidays from
the ``holidays`` package, absences are passed in. ``segment`` answers "who
owns this queue now, since when and until when", so the core can set one
timer per boundary instead of re-evaluating the plan on every event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import holidays

from router.config import CLOSED, WEEKDAYS, HelplineConfig

__all__ = ["Absence", "CoveragePlan", "Segment"]

# How far the plan looks for the next change of owner. A queue owned by the
# same team for longer than this gets a plain re-check at the horizon.
HORIZON_DAYS = 8


@dataclass(frozen=True, slots=True)
class Absence:
    team: str
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of time in which ``owner`` (a team or ``closed``) owns a queue."""

    owner: str
    start: float  # the boundary that began it (a lower bound when not exactly known)
    end: float  # the next change of owner, or the horizon re-check
    change_at_end: bool  # False when ``end`` is only a re-check


@dataclass(frozen=True, slots=True)
class _Rule:
    team: str
    days: frozenset[int]
    start: int  # minutes after local midnight
    end: int
    holidays: str
    valid_from: dt.date | None
    valid_to: dt.date | None


class CoveragePlan:
    def __init__(self, config: HelplineConfig) -> None:
        self.tz = ZoneInfo(config.timezone)
        # Typed Any on purpose: a HolidayBase is a dict that computes each year's
        # holidays in its own ``__contains__`` and ``get`` on first use; the native
        # build's dict fast paths for a dict-typed value would skip them.
        self._holidays: Any = (
            holidays.country_holidays(config.holidays_country, subdiv=config.holidays_subdivision)
            if config.holidays_country
            else None
        )
        self._rules: dict[str, tuple[_Rule, ...]] = {
            name: tuple(
                _Rule(
                    team=r.team,
                    days=frozenset(WEEKDAYS.index(d) for d in r.days),
                    start=r.start_min,
                    end=r.end_min,
                    holidays=r.holidays,
                    valid_from=r.valid_from,
                    valid_to=r.valid_to,
                )
                for r in q.rules
            )
            for name, q in config.queues.items()
        }
        self._default = {name: q.default for name, q in config.queues.items()}
        self._instants: dict[tuple[dt.date, int], float] = {}
        self._fallback = {name: t.fallback for name, t in config.teams.items()}

    # -- calendar ---------------------------------------------------------
    def is_holiday(self, day: dt.date) -> bool:
        return self._holidays is not None and day in self._holidays

    def holiday_name(self, day: dt.date) -> str | None:
        if self._holidays is None:
            return None
        name = self._holidays.get(day)
        return str(name) if name is not None else None

    def local(self, t: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(t, self.tz)

    def instant(self, day: dt.date, minutes: int) -> float:
        """POSIX time of ``minutes`` after local midnight of ``day`` (24:00 = next day)."""
        key = (day, minutes)
        cached = self._instants.get(key)
        if cached is not None:
            return cached
        value = self._instant(day, minutes)
        if len(self._instants) > 100_000:  # a bounded memo: boundaries repeat day after day
            self._instants.clear()
        self._instants[key] = value
        return value

    def _instant(self, day: dt.date, minutes: int) -> float:
        day = day + dt.timedelta(days=minutes // 1440)
        minutes %= 1440
        local = dt.datetime(
            day.year, day.month, day.day, minutes // 60, minutes % 60, tzinfo=self.tz
        )
        return local.timestamp()

    def next_midnight(self, t: float) -> float:
        return self.instant(self.local(t).date(), 1440)

    # -- ownership ----------------------------------------------------------
    def _day_ok(self, rule: _Rule, day: dt.date) -> bool:
        if rule.valid_from is not None and day < rule.valid_from:
            return False
        if rule.valid_to is not None and day > rule.valid_to:
            return False
        holiday = self.is_holiday(day)
        if rule.holidays == "only":
            return holiday and day.weekday() in rule.days
        if rule.holidays == "exclude" and holiday:
            return False
        return day.weekday() in rule.days

    def scheduled_owner(self, queue: str, t: float) -> str:
        """Owner by the plan alone, before absences."""
        local = self.local(t)
        day = local.date()
        minutes = local.hour * 60 + local.minute + local.second / 60
        for rule in self._rules[queue]:
            if rule.start < rule.end:
                if rule.start <= minutes < rule.end and self._day_ok(rule, day):
                    return rule.team
            elif (minutes >= rule.start and self._day_ok(rule, day)) or (
                minutes < rule.end and self._day_ok(rule, day - dt.timedelta(days=1))
            ):
                return rule.team
        return self._default[queue]

    def owner(self, queue: str, t: float, absences: Sequence[Absence] = ()) -> str:
        """Owner after absences: an absent team hands over to its first present fallback."""
        team = self.scheduled_owner(queue, t)
        if team == CLOSED or not absences:
            return team
        if not _absent(team, t, absences):
            return team
        for fb in self._fallback.get(team, ()):
            if not _absent(fb, t, absences):
                return fb
        return team  # everyone absent: the plan's team stays responsible

    def fallbacks(self, team: str) -> tuple[str, ...]:
        return self._fallback.get(team, ())

    def _boundaries(self, queue: str, t: float, before: int, after: int) -> list[float]:
        day = self.local(t).date()
        out: set[float] = set()
        for offset in range(-before, after + 1):
            d = day + dt.timedelta(days=offset)
            out.add(self.instant(d, 0))
            for rule in self._rules[queue]:
                out.add(self.instant(d, rule.start))
                out.add(self.instant(d, rule.end if rule.end > rule.start else rule.end + 1440))
        return sorted(out)

    def segment(self, queue: str, t: float, absences: Sequence[Absence] = ()) -> Segment:
        """The ownership segment containing ``t``."""
        owner = self.owner(queue, t, absences)
        # As far back as forward: a weekend's owner began on Friday afternoon, more
        # than two days before Monday morning.
        cands = self._boundaries(queue, t, HORIZON_DAYS, HORIZON_DAYS)
        cands.extend(x for a in absences for x in (a.start, a.end))
        cands = sorted(set(cands))
        end, change = t + HORIZON_DAYS * 86400.0, False
        for c in cands:
            if c > t and self.owner(queue, c, absences) != owner:
                end, change = c, True
                break
        start = t - HORIZON_DAYS * 86400.0
        for c in reversed(cands):
            if c <= t and self.owner(queue, c - 1e-3, absences) != owner:
                start = c
                break
        return Segment(owner=owner, start=start, end=end, change_at_end=change)


def _absent(team: str, t: float, absences: Iterable[Absence]) -> bool:
    return any(a.team == team and a.start <= t < a.end for a in absences)
