"""Import a carrier's monthly call log (CSV) into the event log (docs/IMPORT.md).

One row per call, with a header naming the columns (any order; other columns
are ignored and never read)::

    call_id,queue,arrived,answered,ended,agent
    tn-88231,phone,2021-11-15T15:29:50+01:00,2021-11-15T15:30:02+01:00,2021-11-15T15:41:10+01:00,ok-3
    tn-88232,phone,2021-11-15T15:33:05+01:00,,2021-11-15T15:33:09+01:00,

An optional ``rejected`` column says the carrier turned the call away itself
(``closed``, ``full``, ``diverted``; empty: it did not). On a queue with
``routing = "observe"`` such a call ends with ``contact.turned_away`` (a closed
line is ``rejected_closed`` whatever the coverage plan says, a full queue or a
diverted caller is ``turned_away``); on a queue Linje decides it ends as an
abandon, with a warning.

``arrived``/``answered``/``ended`` are ISO 8601 with a UTC offset; an empty
``answered`` means the call was not answered; an empty ``ended`` means the
carrier lost the end (the router then closes the contact at its reconcile
deadline as ``missing_data``, the seed's "missing information from the
carrier"). ``agent`` names who answered. ``call_id`` only detects rows listed
twice: contact ids are minted from the arrival time and row, because a
carrier's call reference may embed the caller's number.

A carrier log says nothing about who was logged in, so the importer logs an
agent in just before the answer and out when the call ends: unanswered calls
are then ``agents_busy`` (someone on a call for the whole wait), ``short_abandon``
or ``no_agent`` (nobody known to be available). Read those classes as
estimates; a PBX log with presence (Asterisk) gives the real ones.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from adapters.importers.common import Feeder, ImportSummary, Sink, TeamMap, queue_label, safe_id
from router.config import HelplineConfig
from router.errors import BadInput
from router.events import (
    ContactAbandoned,
    ContactAnswered,
    ContactArrived,
    ContactEnded,
    ContactTurnedAway,
)
from router.events_observed import TURNED_AWAY_REASONS

__all__ = ["COLUMNS", "CarrierCall", "check_header", "import_carrier_csv"]

SOURCE = "carrier"
COLUMNS = ("call_id", "queue", "arrived", "answered", "ended", "agent")
OPTIONAL = ("rejected",)  # the carrier turned the call away: closed, full, diverted
# A zero-length step keeps a call's own events in order when they share a second.
_EPSILON = 0.001


@dataclass(frozen=True, slots=True)
class CarrierCall:
    line: int
    queue: str
    channel: str
    arrived: float
    answered: float | None
    ended: float | None
    agent: str | None  # the raw name, for the team patterns
    contact_id: str
    rejected: str | None = None  # one of TURNED_AWAY_REASONS


def _time(value: str, column: str) -> float | str:
    try:
        t = dt.datetime.fromisoformat(value)
    except ValueError:
        return f"{column} is not an ISO 8601 time"
    if t.tzinfo is None or t.utcoffset() is None:
        return f"{column} has no UTC offset"
    return t.timestamp()


def _header(row: list[str]) -> dict[str, int]:
    names = [c.strip().lower() for c in row]
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise BadInput(
            f"carrier CSV: the header lacks column {missing[0]!r} "
            f"(needs {', '.join(COLUMNS)}; got {', '.join(names) or 'nothing'})"
        )
    return {c: names.index(c) for c in COLUMNS + OPTIONAL if c in names}


def check_header(lines: Iterable[str]) -> None:
    """Refuse (``BadInput``) a file without a header naming the required columns."""
    for row in csv.reader(lines):
        if any(cell.strip() for cell in row):
            _header(row)
            return
    raise BadInput("carrier CSV: the file is empty (no header row)")


def _parse(
    row: list[str],
    line: int,
    *,
    cols: Mapping[str, int],
    width: int,
    queue_map: Mapping[str, str],
    config: HelplineConfig,
) -> CarrierCall | str | None:
    """A call, the reason the row is malformed, or None for an unmapped queue."""
    if len(row) <= max(i for c, i in cols.items() if c in COLUMNS):
        return f"too few columns: got {len(row)}, the header has {width}"
    v = {c: row[i].strip() if i < len(row) else "" for c, i in cols.items()}
    rejected = v.get("rejected") or None
    if rejected is not None and rejected not in TURNED_AWAY_REASONS:
        return f"rejected must be empty or one of {', '.join(TURNED_AWAY_REASONS)}"
    if rejected is not None and v["answered"]:
        return "a rejected call cannot be answered"
    if not v["call_id"]:
        return "call_id is empty"
    queue = queue_map.get(v["queue"], v["queue"] if v["queue"] in config.queues else None)
    if queue is None:
        return None
    if not v["arrived"]:
        return "arrived is empty"
    arrived = _time(v["arrived"], "arrived")
    if isinstance(arrived, str):
        return arrived
    answered = ended = None
    if v["answered"]:
        a = _time(v["answered"], "answered")
        if isinstance(a, str):
            return a
        if a < arrived:
            return "answered is before arrived"
        if not v["agent"]:
            return "an answered call needs the agent who answered"
        answered = a
    if v["ended"]:
        e = _time(v["ended"], "ended")
        if isinstance(e, str):
            return e
        if e < (answered if answered is not None else arrived):
            return "ended is before " + ("answered" if answered is not None else "arrived")
        ended = e
    return CarrierCall(
        line=line,
        queue=queue,
        channel=config.queues[queue].channel,
        arrived=arrived,
        answered=answered,
        ended=ended,
        agent=v["agent"] if answered is not None else None,
        contact_id=f"cc-{int(arrived)}-{line}",
        rejected=rejected,
    )


def import_carrier_csv(
    lines: Iterable[str],
    *,
    sink: Sink,
    config: HelplineConfig,
    teams: TeamMap,
    queue_map: Mapping[str, str] | None = None,
) -> ImportSummary:
    """Convert and ingest a carrier call log; malformed rows are skipped and reported.

    ``queue_map`` renames the carrier's queue names; names that are already
    Linje queues need no mapping. A header without the required columns is
    refused as a whole (``BadInput``).
    """
    summary = ImportSummary(source="carrier CSV")
    reader = csv.reader(lines)
    cols: dict[str, int] | None = None
    width = 0
    seen: dict[str, int] = {}
    calls: list[CarrierCall] = []
    for row in reader:
        line = reader.line_num
        summary.lines_read = line
        if not any(cell.strip() for cell in row):
            continue  # blank lines carry nothing
        if cols is None:
            cols, width = _header(row), len(row)
            continue
        call = _parse(row, line, cols=cols, width=width, queue_map=queue_map or {}, config=config)
        if call is None:
            summary.unmapped[f"{queue_label(row[cols['queue']].strip())} not in --queue-map"] += 1
        elif isinstance(call, str):
            summary.skip(line, call)
        else:
            call_id = row[cols["call_id"]].strip()
            if call_id in seen:
                summary.skip(line, f"call_id listed before, on line {seen[call_id]}")
                continue
            seen[call_id] = line
            calls.append(call)
    if cols is None:
        raise BadInput("carrier CSV: the file is empty (no header row)")
    feeder = Feeder(sink, config, summary, source=SOURCE)
    for at, _, call, step in sorted(_steps(calls), key=lambda s: (s[0], s[1], s[2].line)):
        _feed(feeder, teams, call, step, at)
    summary.still_open = len(feeder.open)
    return summary


def _steps(calls: list[CarrierCall]) -> Iterable[tuple[float, int, CarrierCall, str]]:
    # Within one second: calls ending first (they free their agent), then
    # arrivals, then answers, then calls the carrier turned away. A call that
    # ends in the second it started ends a millisecond later, after its own start.
    for c in calls:
        yield (c.arrived, 1, c, "arrive")
        if c.answered is not None:
            yield (c.answered, 2, c, "answer")
        if c.rejected is not None:
            # Turned away (an answer it never had): after its own arrival in that second.
            yield (c.ended if c.ended is not None else c.arrived, 3, c, "end")
        elif c.ended is not None:
            start = c.answered if c.answered is not None else c.arrived
            yield (max(c.ended, start + _EPSILON), 0, c, "end")


def _feed(f: Feeder, teams: TeamMap, c: CarrierCall, step: str, at: float) -> None:
    eid = f"{c.contact_id}-{step}"
    if step == "arrive":
        f.send(
            ContactArrived(
                event_id=eid,
                at=at,
                source=SOURCE,
                contact_id=c.contact_id,
                channel=c.channel,
                queue=c.queue,
            ),
            line=c.line,
        )
        return
    team = teams.team(c.agent) if c.agent is not None else None
    agent_id = safe_id(c.agent) if c.agent is not None else None
    if step == "answer":
        if agent_id is None or team is None:
            f.summary.unmapped["agent matches no --agent-team pattern"] += 1
            return
        f.ensure_ready(agent_id, team, c.channel, at=at, eid=eid, line=c.line)
        f.send(
            ContactAnswered(
                event_id=eid, at=at, source=SOURCE, contact_id=c.contact_id, agent_id=agent_id
            ),
            line=c.line,
        )
        return
    if c.rejected is not None:
        if f.config.queues[c.queue].routing == "observe":
            f.send(
                ContactTurnedAway(
                    event_id=eid, at=at, source=SOURCE, contact_id=c.contact_id, reason=c.rejected
                ),
                line=c.line,
            )
            f.summary.classes[f"turned away by the carrier ({c.rejected})"] += 1
            return
        f.summary.warn(
            c.line, "rejected by the carrier on a queue Linje decides: counted as it ended"
        )
    kind = ContactEnded if c.answered is not None else ContactAbandoned
    f.send(kind(event_id=eid, at=at, source=SOURCE, contact_id=c.contact_id), line=c.line)
    if agent_id is not None:
        # No presence data: the agent is known to be there only while on the call.
        f.logout(
            agent_id, at=at, eid=f"{eid}-out", line=c.line, added="agent logged out after the call"
        )
