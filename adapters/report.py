"""``linje report``: the helpline's statistics pages from the event log.

Reads the records stored in the log (``adapters.store.read_entries``), folds
them with ``router.stats`` (the same fold as the live service and the
simulator) and renders them as rich tables shaped like the pilot report's
statistics pages (docs/ARCHITECTURE.md, "Facts"): contacts per month by channel, unanswered
calls by cause with shares, contacts by hour of day and weekday, answer rate
with and without short abandons, service level, chat feedback and handover
gaps. CSV (one row per group) and JSON (the ``GET /v1/stats`` shape) are for
spreadsheets and scripts.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from adapters.store.entries import log_dir, read_entries
from router.config import HelplineConfig
from router.errors import BadInput
from router.escalation_stats import fold_escalations
from router.records import OTHER_REASONS, TURNED_AWAY, UNANSWERED_CLASSES, Record
from router.stats import GROUP_KEYS, WEEKDAY_NAMES, Group, Stats, fold_for_config, stats_to_json

__all__ = [
    "CAUSES",
    "Report",
    "load_records",
    "parse_group_by",
    "parse_window",
    "render_tables",
    "to_csv",
    "to_json",
]

# The pilot report's unanswered table, in its order, with its wording.
CAUSES = (
    ("agents_busy", "Staff busy on another call of the line"),
    ("short_abandon", "Unanswered, waited under {short} s"),
    ("other", "Other unanswered"),
    ("no_agent", "Nobody logged in"),
    ("missing_data", "Missing information from the carrier"),
)
OTHER_LABELS = {"rang_unanswered": "rang, nobody picked up", "agents_away": "agents away"}


def load_records(data_dir: str | Path) -> list[Record]:
    """Every record stored in the log of ``data_dir``, in log order."""
    if not log_dir(data_dir).is_dir():
        raise BadInput(f"{data_dir}: no event log here (expected {log_dir(data_dir)})")
    return [r for entry in read_entries(data_dir) for r in entry.records]


def _date(value: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise BadInput(f"{option}: {value!r} is not a date YYYY-MM-DD") from None


def parse_window(
    tz: dt.tzinfo, *, start: str | None, end: str | None, month: str | None
) -> tuple[float | None, float | None, str]:
    """``--from``/``--to`` (local dates, both included) or ``--month``: (start, end, label)."""
    if month is not None:
        if start is not None or end is not None:
            raise BadInput("--month cannot be combined with --from/--to")
        try:
            first = dt.date.fromisoformat(f"{month}-01")
        except ValueError:
            raise BadInput(f"--month: {month!r} is not a month YYYY-MM") from None
        after = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        return _midnight(first, tz), _midnight(after, tz), month
    lo = _date(start, "--from") if start else None
    hi = _date(end, "--to") if end else None
    if lo and hi and hi < lo:
        raise BadInput(f"--to {end} is before --from {start}")
    label = f"{lo or 'start of the log'} to {hi or 'end of the log'}"
    return (
        _midnight(lo, tz) if lo else None,
        _midnight(hi + dt.timedelta(days=1), tz) if hi else None,
        label if lo or hi else "the whole log",
    )


def _midnight(day: dt.date, tz: dt.tzinfo) -> float:
    return dt.datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()


def parse_group_by(value: str) -> tuple[str, ...]:
    keys = tuple(k.strip() for k in value.split(",") if k.strip())
    bad = [k for k in keys if k not in GROUP_KEYS]
    if bad:
        raise BadInput(f"--group-by: unknown key {bad[0]!r} (known: {', '.join(GROUP_KEYS)})")
    if len(set(keys)) != len(keys):
        raise BadInput("--group-by names a key twice")
    return keys


@dataclass(slots=True)
class Report:
    """Records of one helpline over a window, folded on demand."""

    config: HelplineConfig
    records: list[Record]
    start: float | None = None
    end: float | None = None
    label: str = "the whole log"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.config.timezone)

    def fold(self, group_by: Sequence[str] = ()) -> Stats:
        return fold_for_config(
            self.records, self.config, group_by=group_by, start=self.start, end=self.end
        )

    def escalations(self) -> dict[str, Any]:
        """The escalation figures (``router.escalation_stats``) of the window."""
        return fold_escalations(self.records, tz=self.tz, start=self.start, end=self.end)

    def channels(self, stats: Stats) -> list[str]:
        """Channels in the configuration's order, then any others seen."""
        seen = {v for g in stats.groups for k, v in g.key if k == "channel" and v is not None}
        known = [c for c in self.config.channels if c in seen]
        return known + sorted(str(c) for c in seen - set(known))


# ------------------------------------------------------------------ formats
def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.1f} %"


def _num(x: float | None, unit: str = "") -> str:
    return "-" if x is None else f"{x:g}{unit}"


def _share(n: int, total: int) -> str:
    return f"{n} ({n / total * 100:.0f} %)" if total else str(n)


def render_tables(report: Report, console: Console) -> None:
    """Print the statistics pages as rich tables."""
    cfg = report.config
    console.print(f"[bold]{cfg.name or cfg.id}[/bold]: statistics for {report.label}")
    by_month = report.fold(("month", "channel"))
    channels = report.channels(by_month)
    by_channel = {str(g.key[0][1]): g for g in report.fold(("channel",)).groups}
    totals = report.fold()
    total = totals.groups[0]
    short = f"{cfg.short_abandon_s:g}"

    t = Table(title="Contacts per month by channel")
    t.add_column("Month")
    for ch in channels:
        t.add_column(ch.capitalize(), justify="right")
    t.add_column("Total", justify="right")
    months: dict[str, dict[str, int]] = {}
    for g in by_month.groups:
        key = dict(g.key)
        months.setdefault(str(key["month"]), {})[str(key["channel"])] = g.contacts
    for month, counts in months.items():
        t.add_row(month, *(str(counts.get(ch, 0)) for ch in channels), str(sum(counts.values())))
    t.add_section()
    t.add_row(
        "Total",
        *(str(by_channel[ch].contacts) for ch in channels),
        str(total.contacts),
        style="bold",
    )
    console.print(t)

    t = Table(title="Unanswered contacts by cause")
    t.add_column("Cause")
    for ch in channels:
        t.add_column(ch.capitalize(), justify="right")
    t.add_column("Total", justify="right")
    groups = [by_channel[ch] for ch in channels] + [total]
    for klass, label in CAUSES:
        t.add_row(
            label.format(short=short),
            *(_share(g.unanswered[klass], g.unanswered_total) for g in groups),
        )
        if klass == "other":
            for reason in OTHER_REASONS:
                t.add_row(
                    f"  of which {OTHER_LABELS[reason]}",
                    *(str(g.other_reasons[reason]) for g in groups),
                    style="dim",
                )
    t.add_section()
    t.add_row("Unanswered", *(str(g.unanswered_total) for g in groups), style="bold")
    console.print(t)

    sls = totals.service_levels
    t = Table(title="Answer rate and service level")
    t.add_column("")
    for ch in channels:
        t.add_column(ch.capitalize(), justify="right")
    t.add_column("Total", justify="right")
    dicts = [g.to_dict(sls) for g in groups]
    rows: list[tuple[str, list[str]]] = [
        ("Contacts", [str(d["contacts"]) for d in dicts]),
        ("Answered", [str(d["answered"]) for d in dicts]),
        ("Unanswered", [str(d["unanswered_total"]) for d in dicts]),
        ("Rejected, line closed", [str(d["rejected_closed"]) for d in dicts]),
        ("Turned away (queue full, caller diverted)", [str(d["turned_away"]) for d in dicts]),
        ("Answer rate", [_pct(d["answer_rate"]) for d in dicts]),
        (
            f"Answer rate without under-{short}-s abandons",
            [_pct(d["answer_rate_excl_short"]) for d in dicts],
        ),
    ]
    for sl in sls:
        label = f"{sl:g}"
        rows.append(
            (f"Answered within {label} s", [_pct(d["service_level"][label]) for d in dicts])
        )
        rows.append(
            (
                f"Answered within {label} s, without short abandons",
                [_pct(d["service_level_excl_short"][label]) for d in dicts],
            )
        )
    rows += [
        ("Average wait, answered", [_num(d["wait_answered_avg_s"], " s") for d in dicts]),
        ("90th percentile wait, answered", [_num(d["wait_answered_p90_s"], " s") for d in dicts]),
        ("Longest wait", [_num(d["wait_max_s"], " s") for d in dicts]),
        ("Average handle time", [_num(d["handle_avg_s"], " s") for d in dicts]),
    ]
    for label, cells in rows:
        t.add_row(label, *cells)
    console.print(t)

    _hour_weekday(report, console)
    _feedback_and_gaps(report, console, total.to_dict(sls))
    _escalations(report, console)


def _hour_weekday(report: Report, console: Console) -> None:
    cells: dict[tuple[int, str], int] = {}
    closed = [0] * 24
    for g in report.fold(("hour", "weekday")).groups:
        key = dict(g.key)
        cells[(int(key["hour"] or 0), str(key["weekday"]))] = g.contacts
        closed[int(key["hour"] or 0)] += g.rejected_closed
    t = Table(title="Contacts by hour of day (local time) and weekday")
    t.add_column("Hour")
    for wd in WEEKDAY_NAMES:
        t.add_column(wd.capitalize(), justify="right")
    t.add_column("Total", justify="right")
    t.add_column("Of which closed", justify="right")
    for h in range(24):
        row = [cells.get((h, wd), 0) for wd in WEEKDAY_NAMES]
        t.add_row(f"{h:02d}", *(str(n) if n else "." for n in row), str(sum(row)), str(closed[h]))
    t.add_section()
    per_day = [sum(cells.get((h, wd), 0) for h in range(24)) for wd in WEEKDAY_NAMES]
    t.add_row(
        "Total", *(str(n) for n in per_day), str(sum(per_day)), str(sum(closed)), style="bold"
    )
    console.print(t)


def _feedback_and_gaps(report: Report, console: Console, total: dict[str, Any]) -> None:
    fb = total["feedback"]
    t = Table(title="Chat feedback (rating 1-10)")
    t.add_column("Forms", justify="right")
    t.add_column("Average", justify="right")
    for r in range(1, 11):
        t.add_column(str(r), justify="right")
    t.add_row(
        str(fb["count"]), _num(fb["average"]), *(str(fb["ratings"][str(r)]) for r in range(1, 11))
    )
    console.print(t)

    t = Table(title="Handover gaps: owning team with nobody logged in")
    for name, justify in (
        ("Queue", "left"),
        ("Team", "left"),
        ("Weekday", "left"),
        ("Boundary", "left"),
        ("Gaps", "right"),
        ("Minutes", "right"),
    ):
        t.add_column(name, justify=justify)  # type: ignore[arg-type]
    for g in report.fold(("queue", "team")).groups:
        key = dict(g.key)
        for b in g.to_dict(())["gaps"]["by_boundary"]:
            t.add_row(
                str(key["queue"]),
                str(key["team"]),
                b["weekday"],
                b["boundary"],
                str(b["count"]),
                f"{b['minutes']:g}",
            )
    t.add_section()
    t.add_row(
        "Total",
        "",
        "",
        "",
        str(total["gaps"]["count"]),
        f"{total['gaps']['minutes']:g}",
        style="bold",
    )
    console.print(t)

    agents = total["no_answer_by_agent"]
    t = Table(title="Offers not answered, per agent")
    t.add_column("Agent")
    t.add_column("Team")
    t.add_column("Not answered", justify="right")
    t.add_column("Of which declined", justify="right")
    for agent_id, a in agents.items():
        t.add_row(agent_id, a["team"], str(a["no_answer"]), str(a["declined"]))
    if not agents:
        t.add_row("-", "", "0", "0")
    console.print(t)


def _escalations(report: Report, console: Console) -> None:
    t = Table(title="Escalations (duty to avert and other flags), by month and owning team")
    for name in ("Month", "Team", "Raised", "Acked", "Escalated", "Holds", "Confirmed",
                 "Closed", "Open", "Ack avg s", "Ack max s"):  # fmt: skip
        t.add_column(name, justify="left" if name in ("Month", "Team") else "right")
    groups = report.escalations()["groups"]
    for g in groups:
        ack = g["time_to_first_ack_s"]
        t.add_row(
            g["month"], g["team"], str(g["raised"]), str(g["acknowledged"]),
            str(g["escalated_past_first_level"]), str(g["legal_holds_requested"]),
            str(g["legal_holds_acknowledged"]), str(sum(g["closed"].values())), str(g["open"]),
            _num(ack["avg"]), _num(ack["max"]),
        )  # fmt: skip
    if not groups:
        t.add_row("-", "", "0", "0", "0", "0", "0", "0", "0", "-", "-")
    console.print(t)


# ------------------------------------------------------------ csv and json
def _flat(d: dict[str, Any], keys: Sequence[str], sls: Sequence[float]) -> dict[str, Any]:
    row: dict[str, Any] = {k: d[k] for k in keys}
    row.update(
        contacts=d["contacts"],
        answered=d["answered"],
        rejected_closed=d["rejected_closed"],
        turned_away=d["turned_away"],
    )
    row.update({f"turned_away_{k}": d["turned_away_reasons"][k] for k in TURNED_AWAY})
    row["unanswered"] = d["unanswered_total"]
    row.update({f"unanswered_{k}": d["unanswered"][k] for k in UNANSWERED_CLASSES})
    row.update({f"other_{k}": d["other_reasons"][k] for k in OTHER_REASONS})
    row.update(answer_rate=d["answer_rate"], answer_rate_excl_short=d["answer_rate_excl_short"])
    for sl in sls:
        label = f"{sl:g}"
        row[f"service_level_{label}s"] = d["service_level"][label]
        row[f"service_level_excl_short_{label}s"] = d["service_level_excl_short"][label]
    for k in ("wait_answered_avg_s", "wait_answered_p90_s", "wait_max_s", "handle_avg_s"):
        row[k] = d[k]
    row.update(
        feedback_count=d["feedback"]["count"],
        feedback_average=d["feedback"]["average"],
        gaps=d["gaps"]["count"],
        gap_minutes=d["gaps"]["minutes"],
        no_answer=sum(a["no_answer"] for a in d["no_answer_by_agent"].values()),
    )
    return row


def to_csv(report: Report, group_by: Sequence[str]) -> str:
    """One row per group, figures in columns (empty cell: no value), for spreadsheets."""
    stats = report.fold(group_by)
    sls = stats.service_levels
    rows = [_flat(g.to_dict(sls), group_by, sls) for g in stats.groups]
    empty = Group(key=tuple((k, None) for k in group_by))
    fieldnames = list(rows[0] if rows else _flat(empty.to_dict(sls), group_by, sls))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fieldnames, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue()


def to_json(report: Report, group_by: Sequence[str]) -> dict[str, Any]:
    """The ``GET /v1/stats`` answer for this window, with the helpline and period named."""
    out = stats_to_json(report.fold(group_by))
    return {
        "helpline": report.config.id,
        "period": report.label,
        **out,
        "escalations": report.escalations()["groups"],
    }
