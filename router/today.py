"""Today's live counters per channel, reset at local midnight (supervisor view).

Counted when things happen: arrivals at arrival, answers at answer, unanswered
classes and closed rejections when the contact ends. The official figures come
from the statistics fold over the log (``router.stats``); these are the
dashboard's running tally.
"""

from __future__ import annotations

from typing import Any

from router.config import HelplineConfig
from router.coverage import CoveragePlan
from router.records import UNANSWERED_CLASSES, ContactRecord, Record

__all__ = ["Today"]


class Today:
    __slots__ = ("_end", "_plan", "_sl", "counts", "date")

    def __init__(self, plan: CoveragePlan, config: HelplineConfig) -> None:
        self._plan = plan
        self._sl = config.service_level_s[0] if config.service_level_s else 20.0
        self._end = -float("inf")
        self.date = ""
        self.counts: dict[str, dict[str, float]] = {}

    def roll(self, t: float) -> None:
        if t < self._end:
            return
        self.date = self._plan.local(t).date().isoformat()
        self._end = self._plan.next_midnight(t)
        self.counts = {}

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

    def arrived(self, channel: str) -> None:
        self._ch(channel)["contacts"] += 1

    def answered(self, channel: str, wait: float) -> None:
        c = self._ch(channel)
        c["answered"] += 1
        c["wait_sum_answered"] += wait
        if wait <= self._sl:
            c["answered_within_sl"] += 1

    def add(self, record: Record) -> None:
        if not isinstance(record, ContactRecord):
            return
        c = self._ch(record.channel)
        if record.outcome == "rejected_closed":
            c["rejected_closed"] += 1
        elif record.outcome == "unanswered" and record.unanswered is not None:
            c[record.unanswered] += 1

    def as_dict(self) -> dict[str, Any]:
        channels: dict[str, Any] = {}
        for ch in sorted(self.counts):
            c = self.counts[ch]
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
            }
        return {"date": self.date, "channels": channels}
