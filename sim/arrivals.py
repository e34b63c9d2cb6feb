"""Where contacts come from: a volume profile (non-homogeneous Poisson) or a replayed log.

A volume profile gives a month's total per channel; the intensity within the
month is proportional to weekday weight x hour-of-day weight x campaign
multiplier, piecewise constant on local clock hours (DST days have 23 or 25).
With ``count = "exact"`` each month gets exactly its total (the points of a
Poisson process given their number are independent draws from the
normalised intensity), so a historical scenario reproduces the recorded
volumes; with ``"poisson"`` the number is itself Poisson.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import json
import math
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from router._fast import fast_init
from router.config import CLOSED, HelplineConfig
from router.coverage import CoveragePlan
from router.errors import ConfigError, LinjeError
from router.events import ContactArrived
from sim.scenario import Arrivals, Campaign, ChannelVolume

__all__ = ["Arrival", "month_pieces", "poisson", "profile_arrivals", "read_replay"]


# Built once per simulated caller: the descriptor-based __init__ of the core's value
# classes (router._fast), a third of the generated one's cost.
@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Arrival:
    at: float
    channel: str
    queue: str


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson variate: the number of unit-rate arrivals in [0, mean)."""
    n, t = 0, rng.expovariate(1.0)
    while t < mean:
        n += 1
        t += rng.expovariate(1.0)
    return n


def _months(start: dt.date, end: dt.date) -> Iterator[tuple[int, int]]:
    y, m = start.year, start.month
    while (y, m) <= (end.year, end.month):
        yield y, m
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)


def _open_intervals(
    plan: CoveragePlan, queue: str, start: float, end: float
) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    t = start
    while t < end:
        seg = plan.segment(queue, t)
        stop = min(seg.end, end)
        if seg.owner != CLOSED:
            if out and out[-1][1] == t:
                out[-1] = (out[-1][0], stop)
            else:
                out.append((t, stop))
        t = stop
    return out


def _clip(
    a: float, b: float, opens: list[tuple[float, float]], starts: list[float]
) -> Iterable[tuple[float, float]]:
    i = max(0, bisect.bisect_right(starts, a) - 1)
    while i < len(opens) and opens[i][0] < b:
        lo, hi = max(a, opens[i][0]), min(b, opens[i][1])
        if hi > lo:
            yield lo, hi
        i += 1


def profile_arrivals(
    arrivals: Arrivals,
    plan: CoveragePlan,
    config: HelplineConfig,
    rng: random.Random,
    *,
    first: dt.date,
    last: dt.date,
    volume_multiplier: float = 1.0,
    file: str = "(scenario)",
) -> list[Arrival]:
    """Arrivals on local dates ``first``..``last`` (inclusive), sorted by time."""
    lo, hi = plan.instant(first, 0), plan.instant(last, 1440)
    out: list[tuple[float, int, Arrival]] = []
    seq = 0
    for ch in ("phone", "chat"):
        vol: ChannelVolume | None = getattr(arrivals, ch)
        if vol is None:
            continue
        queue = vol.queue or ch
        campaigns = [c for c in arrivals.campaigns if ch in c.channels]
        for y, m in _months(first, last):
            key = f"{y:04d}-{m:02d}"
            total = vol.monthly.get(key, 0.0) * volume_multiplier
            if total <= 0:
                continue
            pieces, base, boosted = month_pieces(vol, queue, plan, campaigns, year=y, month=m)
            if boosted <= 0:
                raise ConfigError(
                    f"{total:g} contacts, but the queue {queue!r} is never open that month",
                    file=file,
                    key=f"arrivals.{ch}.monthly.{key}",
                )
            expected = total if arrivals.totals_include_campaigns else total * boosted / base
            n = round(expected) if arrivals.count == "exact" else poisson(rng, expected)
            cum: list[float] = []
            acc = 0.0
            for _, _, w in pieces:
                acc += w
                cum.append(acc)
            r = rng.random
            for _ in range(n):
                i = min(bisect.bisect_right(cum, r() * acc), len(pieces) - 1)
                a, b, _ = pieces[i]
                t = a + (b - a) * r()
                if lo <= t < hi:
                    seq += 1
                    out.append((t, seq, Arrival(at=t, channel=ch, queue=queue)))
    out.sort(key=lambda x: (x[0], x[1]))
    return [a for _, _, a in out]


def month_pieces(
    vol: ChannelVolume,
    queue: str,
    plan: CoveragePlan,
    campaigns: Sequence[Campaign],
    *,
    year: int,
    month: int,
) -> tuple[list[tuple[float, float, float]], float, float]:
    """(start, end, mass) of each open stretch of a local hour in the month, and the
    month's total mass without and with campaign multipliers."""
    day = dt.date(year, month, 1)
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    opens: list[tuple[float, float]] = []
    if vol.only_when_open:
        opens = _open_intervals(plan, queue, plan.instant(day, 0), plan.instant(nxt, 0))
    starts = [a for a, _ in opens]
    pieces: list[tuple[float, float, float]] = []
    base = boosted = 0.0
    d0 = plan.instant(day, 0)
    while day < nxt:
        d1 = plan.instant(day, 1440)
        # Local hour boundaries; only DST days need the time zone for each hour.
        if d1 - d0 == 86400.0:
            bounds = [d0 + 3600.0 * h for h in range(25)]
        else:
            bounds = [plan.instant(day, 60 * h) for h in range(25)]
        mult = math.prod(c.multiplier for c in campaigns if c.start <= day <= c.end)
        wd = vol.weekday[day.weekday()]
        for h in range(24):
            w = wd * vol.hour[h]
            a, b = bounds[h], bounds[h + 1]
            if w <= 0 or b <= a:
                continue
            spans = _clip(a, b, opens, starts) if vol.only_when_open else ((a, b),)
            for x, y in spans:
                mass = w * (y - x) / 3600.0
                base += mass
                boosted += mass * mult
                pieces.append((x, y, mass * mult))
        day += dt.timedelta(days=1)
        d0 = d1
    return pieces, base, boosted


def _format(path: Path, fmt: str | None) -> str:
    if fmt:
        return fmt
    if path.is_dir():
        return "linje"
    return "csv" if path.suffix.lower() == ".csv" else "jsonl"


def _posix(value: object, plan: CoveragePlan) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        when = dt.datetime.fromisoformat(value.strip())
        if when.tzinfo is None:  # a local time of the helpline
            when = when.replace(tzinfo=plan.tz)
        return when.timestamp()
    raise ValueError(f"not a time: {value!r}")


def read_replay(
    path: Path,
    fmt: str | None,
    plan: CoveragePlan,
    config: HelplineConfig,
    *,
    first: dt.date,
    last: dt.date,
) -> list[Arrival]:
    """Arrivals from a recorded log, inside local dates ``first``..``last``, sorted."""
    fmt = _format(path, fmt)
    lo, hi = plan.instant(first, 0), plan.instant(last, 1440)
    rows: list[tuple[str, dict[str, Any]]] = []
    try:
        if fmt == "csv":
            with path.open(newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh)
                missing = {"arrived_at", "channel"} - set(reader.fieldnames or ())
                if missing:
                    raise ConfigError(
                        f"the call log needs the columns arrived_at and channel "
                        f"(missing {', '.join(sorted(missing))})",
                        file=str(path),
                    )
                for n, row in enumerate(reader, start=2):
                    rows.append(
                        (
                            f"line {n}",
                            {
                                "at": row["arrived_at"],
                                "channel": row["channel"],
                                "queue": row.get("queue") or row["channel"],
                            },
                        )
                    )
        elif fmt == "jsonl":
            with path.open(encoding="utf-8") as fh:
                for n, line in enumerate(fh, start=1):
                    if not line.strip():
                        continue
                    data = json.loads(line)
                    if isinstance(data, dict) and data.get("type") == "contact.arrived":
                        rows.append((f"line {n}", data))
        else:
            from adapters.store import read_entries

            for entry in read_entries(path):
                ev = entry.event
                if isinstance(ev, ContactArrived):
                    rows.append(
                        (
                            f"log record {entry.seq}",
                            {
                                "at": ev.at,
                                "channel": ev.channel,
                                "queue": ev.queue,
                            },
                        )
                    )
    except OSError as exc:
        raise ConfigError(f"cannot read the replay log ({exc.strerror})", file=str(path)) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"not JSON: {exc.msg}", file=str(path), key=f"line {exc.lineno}"
        ) from None
    except LinjeError as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"cannot read the Linje log: {exc.detail}", file=str(path)) from None
    out: list[tuple[float, int, Arrival]] = []
    for seq, (where, data) in enumerate(rows):
        try:
            at = _posix(data.get("at"), plan)
        except ValueError as exc:
            raise ConfigError(str(exc), file=str(path), key=f"{where}: at") from None
        ch, queue = data.get("channel"), data.get("queue")
        if ch not in config.channels:
            raise ConfigError(f"unknown channel {ch!r}", file=str(path), key=f"{where}: channel")
        q = config.queues.get(str(queue))
        if q is None or q.channel != ch:
            raise ConfigError(
                f"the routing configuration has no {ch} queue {queue!r}",
                file=str(path),
                key=f"{where}: queue",
            )
        if lo <= at < hi:
            out.append((at, seq, Arrival(at=at, channel=str(ch), queue=str(queue))))
    out.sort(key=lambda x: (x[0], x[1]))
    return [a for _, _, a in out]
