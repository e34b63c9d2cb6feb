"""The statistics' result types: one ``Group`` of figures per group key, and ``Stats``.

Filled by the fold in ``router.stats``; ``Group.to_dict`` gives the
``GET /v1/stats`` shape.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from router.records import OTHER_REASONS, TURNED_AWAY, UNANSWERED_CLASSES

__all__ = ["GROUP_KEYS", "RATINGS", "WEEKDAY_NAMES", "AgentTally", "Group", "KeyValue", "Stats"]

GROUP_KEYS = ("month", "day", "hour", "weekday", "channel", "queue", "team")
WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
RATINGS = range(1, 11)

KeyValue = str | int | None


def _sl_label(threshold: float) -> str:
    return str(int(threshold)) if float(threshold).is_integer() else str(threshold)


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _avg(values: Sequence[float], digits: int = 1) -> float | None:
    # fsum is exactly rounded, so the result does not depend on the order in
    # which groups were merged: the sum of a grouping equals the totals.
    return round(math.fsum(values) / len(values), digits) if values else None


def _p90(sorted_values: Sequence[float]) -> float | None:
    """90th percentile by the nearest-rank method (a value that occurred)."""
    if not sorted_values:
        return None
    rank = math.ceil(0.9 * len(sorted_values))
    return round(sorted_values[rank - 1], 1)


@dataclass(slots=True)
class AgentTally:
    team: str
    no_answer: int = 0
    declined: int = 0


@dataclass(slots=True)
class Group:
    """Accumulated figures for one combination of grouping keys."""

    key: tuple[tuple[str, KeyValue], ...]
    contacts: int = 0
    answered: int = 0
    rejected_closed: int = 0
    # outcome turned_away, per reason (outside the answer rate, as rejected_closed)
    turned_away: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TURNED_AWAY, 0))
    unanswered: dict[str, int] = field(default_factory=lambda: dict.fromkeys(UNANSWERED_CLASSES, 0))
    other_reasons: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OTHER_REASONS, 0))
    waits_answered: list[float] = field(default_factory=list)
    wait_max: float | None = None
    handle_times: list[float] = field(default_factory=list)
    rejected_by_hour: list[int] = field(default_factory=lambda: [0] * 24)
    ratings: list[int] = field(default_factory=lambda: [0] * 10)
    # (weekday index, "HH:MM") of the handover boundary -> gap durations in seconds
    gaps: dict[tuple[int, str], list[float]] = field(default_factory=dict)
    agents: dict[str, AgentTally] = field(default_factory=dict)

    @property
    def unanswered_total(self) -> int:
        return sum(self.unanswered.values())

    @property
    def turned_away_total(self) -> int:
        return sum(self.turned_away.values())

    def merge(self, other: Group) -> None:
        """Add ``other``'s figures into this group (its key is not checked)."""
        self.contacts += other.contacts
        self.answered += other.answered
        self.rejected_closed += other.rejected_closed
        for k, v in other.turned_away.items():
            self.turned_away[k] += v
        for k, v in other.unanswered.items():
            self.unanswered[k] += v
        for k, v in other.other_reasons.items():
            self.other_reasons[k] += v
        self.waits_answered += other.waits_answered
        if other.wait_max is not None:
            self.wait_max = max(self.wait_max or 0.0, other.wait_max)
        self.handle_times += other.handle_times
        self.rejected_by_hour = [
            a + b for a, b in zip(self.rejected_by_hour, other.rejected_by_hour, strict=True)
        ]
        self.ratings = [a + b for a, b in zip(self.ratings, other.ratings, strict=True)]
        for boundary, durations in other.gaps.items():
            self.gaps.setdefault(boundary, []).extend(durations)
        for agent_id, a in other.agents.items():
            mine = self.agents.setdefault(agent_id, AgentTally(team=a.team))
            mine.no_answer += a.no_answer
            mine.declined += a.declined

    def to_dict(self, service_levels: Sequence[float]) -> dict[str, Any]:
        """The group as the JSON object of ``GET /v1/stats`` (keys first)."""
        unanswered = self.unanswered_total
        short = self.unanswered["short_abandon"]
        decided = self.answered + unanswered
        decided_excl = decided - short
        waits = sorted(self.waits_answered)
        within = {t: bisect_right(waits, t) for t in service_levels}
        rated = sum(self.ratings)
        gap_seconds = [d for ds in self.gaps.values() for d in ds]
        out: dict[str, Any] = {k: v for k, v in self.key}
        out.update(
            {
                "contacts": self.contacts,
                "answered": self.answered,
                "rejected_closed": self.rejected_closed,
                "turned_away": self.turned_away_total,
                "turned_away_reasons": dict(self.turned_away),
                "unanswered": dict(self.unanswered),
                "unanswered_total": unanswered,
                "other_reasons": dict(self.other_reasons),
                "answer_rate": _rate(self.answered, decided),
                "answer_rate_excl_short": _rate(self.answered, decided_excl),
                "service_level": {_sl_label(t): _rate(n, decided) for t, n in within.items()},
                "service_level_excl_short": {
                    _sl_label(t): _rate(n, decided_excl) for t, n in within.items()
                },
                "wait_answered_avg_s": _avg(waits),
                "wait_answered_p90_s": _p90(waits),
                "wait_max_s": round(self.wait_max, 1) if self.wait_max is not None else None,
                "handle_avg_s": _avg(self.handle_times),
                "rejected_closed_by_hour": list(self.rejected_by_hour),
                "feedback": {
                    "count": rated,
                    "average": (
                        round(
                            sum(r * n for r, n in zip(RATINGS, self.ratings, strict=True)) / rated,
                            2,
                        )
                        if rated
                        else None
                    ),
                    "ratings": {str(r): n for r, n in zip(RATINGS, self.ratings, strict=True)},
                },
                "gaps": {
                    "count": len(gap_seconds),
                    "minutes": round(math.fsum(gap_seconds) / 60, 1),
                    "by_boundary": [
                        {
                            "weekday": WEEKDAY_NAMES[wd],
                            "boundary": hhmm,
                            "count": len(ds),
                            "minutes": round(math.fsum(ds) / 60, 1),
                        }
                        for (wd, hhmm), ds in sorted(self.gaps.items())
                    ],
                },
                "no_answer_by_agent": {
                    agent_id: {"team": a.team, "no_answer": a.no_answer, "declined": a.declined}
                    for agent_id, a in sorted(self.agents.items())
                },
            }
        )
        return out


@dataclass(slots=True)
class Stats:
    """The result of a fold: groups in a deterministic order, and the parameters used."""

    groups: list[Group]
    group_by: tuple[str, ...]
    service_levels: tuple[float, ...]
    short_abandon_s: float
    start: float | None
    end: float | None

    def total(self) -> Group:
        """All groups merged into one (the figures without grouping)."""
        out = Group(key=())
        for g in self.groups:
            out.merge(g)
        return out
