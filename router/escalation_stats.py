"""Escalation statistics: a pure fold over ``EscalationRecord``s (supervisors only).

Grouped by the local month the escalation was raised in and the team that
owned the contact: how many were raised (per flag kind), acknowledged, went
past the first level, had a legal hold asked for and confirmed, and closed
(per reason code; ``checklist_complete`` when the last required step was
ticked), and the time from raising to the first acknowledgement (average,
90th percentile by nearest rank, maximum). An escalation raised inside
``[start, end)`` is counted with every later fact of it, whenever that came.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from typing import Any

from router.records import EscalationRecord, Record

__all__ = ["fold_escalations"]


def _group() -> dict[str, Any]:
    return {
        "raised": 0,
        "flags": {},
        "acknowledged": 0,
        "escalated_past_first_level": 0,
        "legal_holds_requested": 0,
        "legal_holds_acknowledged": 0,
        "closed": {},
        "open": 0,
        "steps_ticked": 0,
        "_ack": [],
    }


def _summary(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"avg": None, "p90": None, "max": None}
    ordered = sorted(values)
    return {
        "avg": round(math.fsum(ordered) / len(ordered), 1),
        "p90": round(ordered[math.ceil(0.9 * len(ordered)) - 1], 1),
        "max": round(ordered[-1], 1),
    }


def fold_escalations(
    records: Iterable[Record],
    *,
    tz: dt.tzinfo,
    start: float | None = None,
    end: float | None = None,
) -> dict[str, Any]:
    """``{"from", "to", "groups": [{"month", "team", ...figures}]}``, groups sorted."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    where: dict[str, tuple[str, str]] = {}  # escalation -> its group, once raised in range
    for r in records:
        if not isinstance(r, EscalationRecord):
            continue
        if r.action == "raised":
            if (start is not None and r.raised_at < start) or (
                end is not None and r.raised_at >= end
            ):
                continue
            local = dt.datetime.fromtimestamp(r.raised_at, tz)
            key = (f"{local.year:04d}-{local.month:02d}", r.team)
            where[r.escalation_id] = key
            g = groups.setdefault(key, _group())
            g["raised"] += 1
            g["open"] += 1
            g["flags"][r.flag] = g["flags"].get(r.flag, 0) + 1
            continue
        key = where.get(r.escalation_id)  # type: ignore[assignment]
        if key is None:
            continue
        g = groups[key]
        if r.action == "acknowledged":
            g["acknowledged"] += 1
            g["_ack"].append(max(0.0, r.at - r.raised_at))
        elif r.action == "alerted" and r.level == 2:
            g["escalated_past_first_level"] += 1
        elif r.action == "legal_hold_requested":
            g["legal_holds_requested"] += 1
        elif r.action == "legal_hold_acknowledged":
            g["legal_holds_acknowledged"] += 1
        elif r.action == "step_ticked":
            g["steps_ticked"] += 1
        elif r.action == "closed" and r.reason is not None:
            g["closed"][r.reason] = g["closed"].get(r.reason, 0) + 1
            g["open"] -= 1
    out = []
    for (month, team), g in sorted(groups.items()):
        acks = g.pop("_ack")
        out.append(
            {
                "month": month,
                "team": team,
                **g,
                "flags": dict(sorted(g["flags"].items())),
                "closed": dict(sorted(g["closed"].items())),
                "time_to_first_ack_s": _summary(acks),
            }
        )
    return {"from": start, "to": end, "groups": out}
