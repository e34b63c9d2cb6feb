"""Statistics: a pure fold over the core's records.

The live service, replay and the simulator all produce ``router.records``
objects; this module turns any sequence of them into the figures the helpline
reviews every month (docs/ARCHITECTURE.md, "Outcomes" and the pilot report's unanswered
calls), so the three drivers report through the same code. No clock, no I/O:
local time comes from the ``tz`` passed in.

Counting rules, stated once:

* A contact is counted when it has ended (its ``ContactRecord`` exists).
  Every grouping key and the ``start``/``end`` window use the contact's
  *arrival* time in local time, and ``team`` is the team owning the queue at
  arrival (``closed`` for contacts rejected as closed).
* ``answer_rate`` = answered / (answered + unanswered). Contacts rejected
  because the line was closed are counted (``rejected_closed``, demand outside
  hours) but are *outside* the denominator: nobody could have answered them.
  ``answer_rate_excl_short`` also leaves short abandons (callers who hung up
  within ``short_abandon_s``, the seed's "under 10 seconds") out of the
  denominator. Contacts the PBX or carrier turned away itself
  (``turned_away``: queue full, caller diverted; counted per reason in
  ``turned_away_reasons``) are treated as ``rejected_closed`` are: counted,
  outside every denominator. A line the PBX reports closed is
  ``rejected_closed``.
* ``service_level`` at each threshold ``t`` = answered with a wait of at most
  ``t`` seconds / (answered + unanswered); ``service_level_excl_short`` uses
  the denominator without short abandons.
* Feedback and agents' no-answer records follow their contact (same group);
  if the contact's record is not among the records folded (it has not ended
  yet), they use their own time, channel and team, and ``queue`` is unknown
  (``None``). Handover gaps are grouped by the time the gap began, the queue's
  owning team, and the queue's channel (from ``queue_channels``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from router.config import HelplineConfig
from router.records import (
    ContactRecord,
    FeedbackRecord,
    GapRecord,
    LateAnswerRecord,
    NoAnswerRecord,
    Record,
)
from router.stats_model import GROUP_KEYS, WEEKDAY_NAMES, AgentTally, Group, KeyValue, Stats

__all__ = [
    "GROUP_KEYS",
    "WEEKDAY_NAMES",
    "Group",
    "Stats",
    "fold",
    "fold_for_config",
    "stats_to_json",
]


@dataclass(frozen=True, slots=True)
class _When:
    month: str
    day: str
    hour: int
    weekday: int


def _when(t: float, tz: dt.tzinfo) -> _When:
    local = dt.datetime.fromtimestamp(t, tz)
    return _When(
        month=f"{local.year:04d}-{local.month:02d}",
        day=local.date().isoformat(),
        hour=local.hour,
        weekday=local.weekday(),
    )


def _sort_value(name: str, value: KeyValue) -> tuple[int, int, str]:
    if value is None:
        return (1, 0, "")
    if name == "weekday":
        return (0, WEEKDAY_NAMES.index(str(value)), "")
    if isinstance(value, int):
        return (0, value, "")
    return (0, 0, value)


def _reclassify(r: ContactRecord, short_abandon_s: float) -> tuple[str, str | None]:
    """The unanswered class under ``short_abandon_s``, from the record's raw facts.

    With the threshold the router used this is the recorded class. With a
    lower threshold a short abandon that waited longer needs its later class
    re-derived; the record keeps no "saw a free agent" flag, so that is
    estimated: rung -> other/rang_unanswered; every eligible agent busy at
    arrival and at the end -> agents_busy; else other/agents_away.
    """
    klass, reason = r.unanswered or "missing_data", r.other_reason
    if klass in ("missing_data", "no_agent"):
        return klass, reason
    if r.wait_s < short_abandon_s:
        return "short_abandon", None
    if klass != "short_abandon":
        return klass, reason
    if r.agents_rung > 0:
        return "other", "rang_unanswered"
    if r.busy_at_arrival >= r.logged_in_at_arrival and r.busy_at_end >= r.logged_in_at_end:
        return "agents_busy", None
    return "other", "agents_away"


class _Folder:
    def __init__(
        self,
        *,
        tz: dt.tzinfo,
        group_by: tuple[str, ...],
        short_abandon_s: float,
        start: float | None,
        end: float | None,
        queue_channels: Mapping[str, str],
    ) -> None:
        self.tz = tz
        self.group_by = group_by
        self.short_abandon_s = short_abandon_s
        self.start = start
        self.end = end
        self.queue_channels = queue_channels
        self.groups: dict[tuple[tuple[str, KeyValue], ...], Group] = {}

    def inside(self, t: float) -> bool:
        return (self.start is None or t >= self.start) and (self.end is None or t < self.end)

    def group(self, when: _When, channel: str | None, queue: str | None, team: str | None) -> Group:
        values: dict[str, KeyValue] = {
            "month": when.month,
            "day": when.day,
            "hour": when.hour,
            "weekday": WEEKDAY_NAMES[when.weekday],
            "channel": channel,
            "queue": queue,
            "team": team,
        }
        key = tuple((name, values[name]) for name in self.group_by)
        g = self.groups.get(key)
        if g is None:
            g = self.groups[key] = Group(key=key)
        return g

    def contact(self, r: ContactRecord, when: _When) -> None:
        g = self.group(when, r.channel, r.queue, r.team)
        g.contacts += 1
        g.wait_max = max(g.wait_max or 0.0, r.wait_s)
        if r.outcome == "answered":
            g.answered += 1
            g.waits_answered.append(r.wait_s)
            # A reconciled end is the router's deadline, not a real hang-up.
            if r.handle_s is not None and not r.end_reconciled:
                g.handle_times.append(r.handle_s)
        elif r.outcome == "rejected_closed":
            g.rejected_closed += 1
            g.rejected_by_hour[when.hour] += 1
        elif r.outcome == "turned_away":
            if r.turned_away in g.turned_away:
                g.turned_away[r.turned_away] += 1
        else:
            klass, reason = _reclassify(r, self.short_abandon_s)
            g.unanswered[klass] += 1
            if klass == "other" and reason in g.other_reasons:
                g.other_reasons[reason] += 1


def fold(
    records: Iterable[Record],
    *,
    tz: dt.tzinfo,
    service_levels: Sequence[float] = (20, 60),
    short_abandon_s: float = 10,
    group_by: Sequence[str] = (),
    start: float | None = None,
    end: float | None = None,
    queue_channels: Mapping[str, str] | None = None,
) -> Stats:
    """Fold records into grouped statistics.

    ``group_by`` names any of ``GROUP_KEYS`` (``hour`` is the hour of day,
    0-23, ``weekday`` is ``mon``..``sun``); without it there is one group with
    the totals, even when there are no records. ``start``/``end`` (POSIX
    seconds, end exclusive) select contacts by arrival time.
    ``queue_channels`` maps queue names to channels for grouping handover gaps
    by channel. Groups come sorted by their key values (weekdays in week
    order, unknown values last).
    """
    bad = [k for k in group_by if k not in GROUP_KEYS]
    if bad:
        raise ValueError(f"unknown group_by key {bad[0]!r} (known: {', '.join(GROUP_KEYS)})")
    if len(set(group_by)) != len(group_by):
        raise ValueError("group_by names a key twice")
    items = list(records)
    contacts = {r.contact_id: r for r in items if isinstance(r, ContactRecord)}
    f = _Folder(
        tz=tz,
        group_by=tuple(group_by),
        short_abandon_s=short_abandon_s,
        start=start,
        end=end,
        queue_channels=queue_channels or {},
    )
    when_of: dict[str, _When] = {}
    for r in items:
        if isinstance(r, ContactRecord) and f.inside(r.arrived_at):
            when_of[r.contact_id] = w = _when(r.arrived_at, tz)
            f.contact(r, w)
    for r in items:
        if isinstance(r, FeedbackRecord | NoAnswerRecord | LateAnswerRecord):
            c = contacts.get(r.contact_id)
            # A late answer withdraws the no-answer issued at its ring's time-out:
            # it is placed where that no-answer was.
            at = r.rang_out_at if isinstance(r, LateAnswerRecord) else r.at
            if c is not None:
                w_c = when_of.get(r.contact_id)
                if w_c is None:
                    continue  # its contact is outside the window
                g = f.group(w_c, c.channel, c.queue, c.team)
            elif f.inside(at):
                g = f.group(_when(at, tz), r.channel, None, r.team)
            else:
                continue
            if isinstance(r, FeedbackRecord):
                if 1 <= r.rating <= 10:
                    g.ratings[r.rating - 1] += 1
            elif isinstance(r, LateAnswerRecord):
                a = g.agents.setdefault(r.agent_id, AgentTally(team=r.team))
                a.no_answer = max(0, a.no_answer - 1)
            else:
                a = g.agents.setdefault(r.agent_id, AgentTally(team=r.team))
                a.no_answer += 1
                a.declined += int(r.declined)
        elif isinstance(r, GapRecord) and f.inside(r.start):
            g = f.group(_when(r.start, tz), f.queue_channels.get(r.queue), r.queue, r.team)
            b = dt.datetime.fromtimestamp(r.boundary_at, tz)
            g.gaps.setdefault((b.weekday(), f"{b.hour:02d}:{b.minute:02d}"), []).append(
                max(0.0, r.end - r.start)
            )
    if not group_by and not f.groups:
        f.groups[()] = Group(key=())
    ordered = sorted(f.groups.values(), key=lambda g: tuple(_sort_value(n, v) for n, v in g.key))
    return Stats(
        groups=ordered,
        group_by=tuple(group_by),
        service_levels=tuple(float(t) for t in service_levels),
        short_abandon_s=float(short_abandon_s),
        start=start,
        end=end,
    )


def fold_for_config(
    records: Iterable[Record],
    config: HelplineConfig,
    *,
    group_by: Sequence[str] = (),
    start: float | None = None,
    end: float | None = None,
) -> Stats:
    """``fold`` with the helpline's time zone, thresholds and queue channels."""
    return fold(
        records,
        tz=ZoneInfo(config.timezone),
        service_levels=config.service_level_s,
        short_abandon_s=config.short_abandon_s,
        group_by=group_by,
        start=start,
        end=end,
        queue_channels={name: q.channel for name, q in config.queues.items()},
    )


def stats_to_json(stats: Stats) -> dict[str, Any]:
    """The ``GET /v1/stats`` answer: ``{"groups": [...]}`` plus the parameters used."""
    return {
        "group_by": list(stats.group_by),
        "from": stats.start,
        "to": stats.end,
        "service_level_s": [float(t) for t in stats.service_levels],
        "short_abandon_s": stats.short_abandon_s,
        "groups": [g.to_dict(stats.service_levels) for g in stats.groups],
    }
