"""Today's live counters per channel, reset at local midnight (supervisor view).

Counted when things happen: arrivals at arrival, answers at answer, unanswered
classes and closed rejections when the contact ends. The official figures come
from the statistics fold over the log (``router.stats``); these are the
dashboard's running tally.

``by_hour`` buckets each contact by the local hour it arrived in (a contact
that arrived before midnight and ends after it counts in hour 0): contacts,
answered and unanswered, 24 slots each, for the dashboard's hourly chart.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

from router.config import HelplineConfig
from router.coverage import CoveragePlan
from router.records import UNANSWERED_CLASSES, ContactRecord, Record

__all__ = ["HOURLY", "Today"]

HOURLY = ("contacts", "answered", "unanswered")


class Today:
    __slots__ = ("_bounds", "_plan", "_sl", "_start", "counts", "date", "end", "hours")

    def __init__(self, plan: CoveragePlan, config: HelplineConfig) -> None:
        self._plan = plan
        self._sl = config.service_level_s[0] if config.service_level_s else 20.0
        self.end = -float("inf")  # local midnight ending the day counted: roll() at or after it
        self._start = -float("inf")
        self._bounds: list[float] = []  # start of each local hour of the day (DST-correct)
        self.date = ""
        self.counts: dict[str, dict[str, float]] = {}
        self.hours: dict[str, dict[str, list[int]]] = {}

    def roll(self, t: float) -> None:
        """Start a new day if ``t`` (the router's clock) is past the one counted."""
        if t < self.end:
            return
        day = self._plan.local(t).date()
        self.date = day.isoformat()
        self._start = self._plan.instant(day, 0)
        self.end = self._plan.next_midnight(t)
        self._bounds = [self._plan.instant(day, h * 60) for h in range(24)]
        self.counts = {}
        self.hours = {}

    def _ch(self, channel: str) -> dict[str, float]:
        c = self.counts.get(channel)
        if c is None:
            c = self.counts[channel] = {
                "contacts": 0,
                "answered": 0,
                "rejected_closed": 0,
                "answered_within_sl": 0,
                "wait_sum_answered": 0.0,
                **dict.fromkeys(UNANSWERED_CLASSES, 0),
            }
        return c

    def _hour(self, channel: str, what: str, arrived_at: float) -> None:
        h = self.hours.get(channel)
        if h is None:
            h = self.hours[channel] = {k: [0] * 24 for k in HOURLY}
        # Yesterday's arrivals that end today count in the first hour.
        if arrived_at < self._start:
            hour = 0
        elif arrived_at < self.end:
            hour = bisect_right(self._bounds, arrived_at) - 1
        else:
            hour = self._plan.local(arrived_at).hour
        h[what][hour] += 1

    def arrived(self, channel: str, now: float) -> None:
        """A contact arrived; ``now`` is the router's clock."""
        self._ch(channel)["contacts"] += 1
        self._hour(channel, "contacts", now)

    def answered(self, channel: str, wait: float, now: float) -> None:
        """A contact was answered after ``wait``; ``now`` is the router's clock."""
        c = self._ch(channel)
        c["answered"] += 1
        c["wait_sum_answered"] += wait
        if wait <= self._sl:
            c["answered_within_sl"] += 1
        self._hour(channel, "answered", now - wait)

    def add(self, record: Record) -> None:
        if not isinstance(record, ContactRecord):
            return
        c = self._ch(record.channel)
        if record.outcome == "rejected_closed":
            c["rejected_closed"] += 1
        elif record.outcome == "unanswered" and record.unanswered is not None:
            c[record.unanswered] += 1
            self._hour(record.channel, "unanswered", record.arrived_at)

    def as_dict(self) -> dict[str, Any]:
        channels: dict[str, Any] = {}
        for ch in sorted(self.counts):
            c = self.counts[ch]
            hours = self.hours.get(ch)
            unanswered = {k: int(c[k]) for k in UNANSWERED_CLASSES}
            total_unanswered = sum(unanswered.values())
            decided = c["answered"] + total_unanswered
            decided_excl = decided - unanswered["short_abandon"]
            channels[ch] = {
                "contacts": int(c["contacts"]),
                "answered": int(c["answered"]),
                "rejected_closed": int(c["rejected_closed"]),
                "unanswered": unanswered,
                "answer_rate": round(c["answered"] / decided, 4) if decided else None,
                "answer_rate_excl_short": (
                    round(c["answered"] / decided_excl, 4) if decided_excl else None
                ),
                "service_level": (round(c["answered_within_sl"] / decided, 4) if decided else None),
                "service_level_s": self._sl,
                "avg_wait_answered_s": (
                    round(c["wait_sum_answered"] / c["answered"], 1) if c["answered"] else None
                ),
                "by_hour": {k: list(hours[k]) if hours else [0] * 24 for k in HOURLY},
            }
        return {"date": self.date, "channels": channels}
