"""What ``linje simulate`` writes: statistics (JSON), a Markdown report and PNG plots.

All figures come from the statistics fold (``router.stats``) of each
replication's records. The JSON and Markdown hold nothing that depends on the
machine or the wall clock, so the same scenario and seed give byte-identical
files (the determinism test compares them with a golden copy).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from router.coverage import CoveragePlan
from router.records import UNANSWERED_CLASSES
from router.stats import WEEKDAY_NAMES, Group, stats_to_json
from sim._planweek import open_hours
from sim.run import RunResult
from sim.scenario import Scenario
from sim.summary import Estimate, figures, run_stats, summarise

__all__ = ["Report", "build_report", "render_markdown", "report_json", "write_report"]

CLASS_LABELS = {
    "agents_busy": "staff busy on another contact",
    "short_abandon": "left within the short-abandon time",
    "other": "other (rang unanswered, agents away)",
    "no_agent": "nobody logged in",
    "missing_data": "missing data",
}
REASON_LABELS = {
    "rang_unanswered": "rang, nobody picked up",
    "agents_away": "agents logged in but away",
}


@dataclass(frozen=True, slots=True)
class Report:
    scenario: Scenario
    helpline: str
    first: dt.date
    last: dt.date
    seed: int
    replications: int
    volume_multiplier: float
    summary: dict[str, dict[str, Estimate]]
    # channel -> month -> (mean contacts per replication, pooled answer rate)
    monthly: dict[str, dict[str, tuple[float, float | None]]]
    # channel -> (weekday index, hour) -> (mean contacts per open week, pooled answer
    # rate, contacts it is taken over in all replications); only cells that were open
    heat: dict[str, dict[tuple[int, int], tuple[float, float | None, int]]]
    gaps: dict[str, float]  # count and minutes per replication (mean)
    stats: dict[str, Any]  # replication 0, grouped by channel: the /v1/stats shape


def _merge(groups: dict[tuple[Any, ...], Group], new: Sequence[Group]) -> None:
    for g in new:
        if g.key in groups:
            groups[g.key].merge(g)
        else:
            mine = Group(key=g.key)
            mine.merge(g)
            groups[g.key] = mine


def _rate(g: Group) -> float | None:
    decided = g.answered + g.unanswered_total
    return g.answered / decided if decided else None


def count_text(x: float) -> str:
    """A count as a whole number, or with one decimal when it is a mean that is not."""
    return f"{x:.0f}" if abs(x - round(x)) < 1e-9 else f"{x:.1f}"


def build_report(
    scenario: Scenario,
    results: Sequence[RunResult],
    *,
    volume_multiplier: float = 1.0,
) -> Report:
    """Summarise the replications of one scenario."""
    if not results:
        raise ValueError("no runs to report on")
    r0 = results[0]
    n = len(results)
    summary = summarise([figures(r) for r in results])
    by_month: dict[tuple[Any, ...], Group] = {}
    by_cell: dict[tuple[Any, ...], Group] = {}
    gap_count = gap_minutes = 0.0
    for r in results:
        _merge(by_month, run_stats(r, ("channel", "month")).groups)
        _merge(by_cell, run_stats(r, ("channel", "weekday", "hour")).groups)
        total = run_stats(r).total()
        gap_count += sum(len(v) for v in total.gaps.values())
        gap_minutes += math.fsum(d for v in total.gaps.values() for d in v) / 60.0
    monthly: dict[str, dict[str, tuple[float, float | None]]] = {}
    for key, g in sorted(by_month.items(), key=lambda kv: str(kv[0])):
        k = dict(key)
        monthly.setdefault(str(k["channel"]), {})[str(k["month"])] = (g.contacts / n, _rate(g))
    # Per week of the hours in which the channel was open: a chat that opened halfway
    # through the period is not averaged over the weeks it was closed.
    opened = open_hours(CoveragePlan(r0.config), r0.config, r0.first, r0.last)
    heat: dict[str, dict[tuple[int, int], tuple[float, float | None, int]]] = {}
    for key, g in by_cell.items():
        k = dict(key)
        ch = str(k["channel"])
        wd = WEEKDAY_NAMES.index(str(k["weekday"]))
        hour = int(k["hour"] or 0)
        hours = opened.get((ch, wd, hour), 0.0)
        if hours <= 0:
            continue  # contacts refused while closed: no open hour to spread them over
        decided = g.answered + g.unanswered_total
        heat.setdefault(ch, {})[(wd, hour)] = (g.contacts / n / hours, _rate(g), decided)
    return Report(
        scenario=scenario,
        helpline=r0.config.id,
        first=r0.first,
        last=r0.last,
        seed=r0.seed,
        replications=n,
        volume_multiplier=volume_multiplier,
        summary=summary,
        monthly=dict(sorted(monthly.items())),
        heat=dict(sorted(heat.items())),
        gaps={"count": round(gap_count / n, 2), "minutes": round(gap_minutes / n, 1)},
        stats=stats_to_json(run_stats(r0, ("channel",))),
    )


def report_json(report: Report) -> dict[str, Any]:
    """Everything in the report as plain JSON data."""
    return {
        "scenario": report.scenario.name,
        "helpline": report.helpline,
        "period": {"from": report.first.isoformat(), "to": report.last.isoformat()},
        "seed": report.seed,
        "replications": report.replications,
        "volume_multiplier": report.volume_multiplier,
        "figures": {
            group: {name: est.to_dict() for name, est in figs.items()}
            for group, figs in report.summary.items()
        },
        "monthly": {
            ch: {
                m: {"contacts": round(c, 2), "answer_rate": _r4(rate)}
                for m, (c, rate) in months.items()
            }
            for ch, months in report.monthly.items()
        },
        "heatmap": {
            ch: [
                {
                    "weekday": WEEKDAY_NAMES[wd],
                    "hour": h,
                    "open": (wd, h) in cells,
                    "contacts_per_open_week": round(cells[(wd, h)][0], 3)
                    if (wd, h) in cells
                    else None,
                    "answer_rate": _r4(cells[(wd, h)][1]) if (wd, h) in cells else None,
                    "answer_rate_n": cells[(wd, h)][2] if (wd, h) in cells else 0,
                }
                for wd in range(7)
                for h in range(24)
            ]
            for ch, cells in report.heat.items()
        },
        "gaps": report.gaps,
        "stats": report.stats,
    }


def _r4(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def _pct(est: Estimate | None) -> str:
    if est is None or est.mean is None:
        return "-"
    text = f"{100 * est.mean:.1f} %"
    if est.half_width is not None:
        text += f" ± {100 * est.half_width:.1f}"
    return text


def _num(est: Estimate | None, digits: int = 1) -> str:
    if est is None or est.mean is None:
        return "-"
    text = count_text(est.mean) if digits == 0 else f"{est.mean:.{digits}f}"
    if est.half_width is not None:
        text += f" ± {est.half_width:.{digits}f}"
    return text


def render_markdown(report: Report, plots: Sequence[str] = ()) -> str:
    """The report as Markdown (plots are linked by file name)."""
    s = report.scenario
    groups = list(report.summary)
    lines = [
        f"# Simulation: {s.name}",
        "",
        s.description or "",
        "",
        f"- Helpline configuration: `{report.helpline}`",
        f"- Period: {report.first.isoformat()} to {report.last.isoformat()}",
        f"- Seed {report.seed}, {report.replications} replication(s)"
        + (
            "; figures are means ± the 95 % confidence half-width"
            if report.replications > 1
            else ""
        ),
    ]
    if report.volume_multiplier != 1.0:
        lines.append(f"- Volumes multiplied by {report.volume_multiplier:g}")
    lines += ["", "## Headline figures", ""]
    lines.append("| figure | " + " | ".join(groups) + " |")
    lines.append("|---|" + "---|" * len(groups))
    sl_name = next((k for k in report.summary[groups[0]] if k.startswith("service_level_")), None)
    rows: list[tuple[str, str, str]] = [
        ("contacts", "contacts", "num0"),
        ("answered", "answered", "num0"),
        ("rejected (closed)", "rejected_closed", "num0"),
        ("answer rate", "answer_rate", "pct"),
        ("answer rate excluding short abandons", "answer_rate_excl_short", "pct"),
    ]
    if sl_name:
        seconds = sl_name.removeprefix("service_level_").removesuffix("s")
        rows.append((f"answered within {seconds} s", sl_name, "pct"))
    rows.append(("mean wait of answered (s)", "wait_answered_avg_s", "num1"))
    for label, key, kind in rows:
        cells = []
        for g in groups:
            est = report.summary[g].get(key)
            cells.append(_pct(est) if kind == "pct" else _num(est, 0 if kind == "num0" else 1))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "## Unanswered contacts by class", "", "Share of the unanswered contacts.", ""]
    lines.append("| class | " + " | ".join(groups) + " |")
    lines.append("|---|" + "---|" * len(groups))
    for klass in UNANSWERED_CLASSES:
        cells = [_pct(report.summary[g].get(f"unanswered_share.{klass}")) for g in groups]
        lines.append(f"| {CLASS_LABELS[klass]} | " + " | ".join(cells) + " |")
        if klass == "other":
            for reason, label in REASON_LABELS.items():
                cells = [
                    _pct(report.summary[g].get(f"other_reason_share.{reason}")) for g in groups
                ]
                lines.append(f"| - of which {label} | " + " | ".join(cells) + " |")
    obs = s.observed
    if obs is not None:
        group = obs.channel
        lines += ["", f"## Compared with the recorded figures ({group})", ""]
        if obs.source:
            lines += [f"Recorded: {obs.source}.", ""]
        lines += ["| figure | simulated | recorded |", "|---|---|---|"]
        figs = report.summary.get(group, {})
        if obs.answer_rate is not None:
            lines.append(
                f"| answer rate | {_pct(figs.get('answer_rate'))} | {100 * obs.answer_rate:.0f} % |"
            )
        for klass in UNANSWERED_CLASSES:
            if klass in obs.unanswered_shares:
                sim = _pct(figs.get(f"unanswered_share.{klass}"))
                rec = f"{100 * obs.unanswered_shares[klass]:.0f} %"
                lines.append(f"| unanswered: {CLASS_LABELS[klass]} | {sim} | {rec} |")
        notes = [(k, obs.notes[k]) for k in UNANSWERED_CLASSES if k in obs.notes]
        if notes:
            lines.append("")
            lines += [f"- {CLASS_LABELS[k]}: {text}" for k, text in notes]
    lines += ["", "## By month", ""]
    channels = list(report.monthly)
    months = sorted({m for ch in channels for m in report.monthly[ch]})
    lines.append(
        "| month | " + " | ".join(f"{ch} contacts | {ch} answered" for ch in channels) + " |"
    )
    lines.append("|---|" + "---|---|" * len(channels))
    for m in months:
        row = []
        for ch in channels:
            c, rate = report.monthly[ch].get(m, (0.0, None))
            row.append(f"{count_text(c)} | " + ("-" if rate is None else f"{100 * rate:.1f} %"))
        lines.append(f"| {m} | " + " | ".join(row) + " |")
    for ch, heat in report.heat.items():
        lines += [
            "",
            f"## {ch}: answer rate by weekday and hour",
            "",
            "Per cent answered (contacts behind it, all replications); blank where the "
            f"{ch} was closed or no contact was decided.",
            "",
        ]
        lines += _heat_table(heat, lambda v: "" if v[1] is None else f"{100 * v[1]:.0f} ({v[2]})")
        lines += [
            "",
            f"## {ch}: contacts per week by weekday and hour",
            "",
            f"Over the weeks in which the {ch} was open at that hour only.",
            "",
        ]
        lines += _heat_table(heat, lambda v: f"{v[0]:.2f}")
    lines += [
        "",
        "## Handover gaps",
        "",
        f"Periods in which the owning team had nobody logged in: {report.gaps['count']:g} "
        f"per run, {report.gaps['minutes']:g} minutes in all.",
    ]
    if plots:
        lines += ["", "## Plots", ""]
        lines += [f"![{name}]({name})" for name in plots]
    return "\n".join(lines).replace("\n\n\n", "\n\n") + "\n"


def _heat_table(
    cells: dict[tuple[int, int], tuple[float, float | None, int]], fmt: Any
) -> list[str]:
    out = ["| hour | " + " | ".join(WEEKDAY_NAMES) + " |", "|---|" + "---|" * 7]
    for h in range(24):
        row = [fmt(cells[(wd, h)]) if (wd, h) in cells else "" for wd in range(7)]
        out.append(f"| {h:02d} | " + " | ".join(row) + " |")
    return out


def _plots(report: Report, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names: list[str] = []
    meta = {"Software": None}  # no version stamp: the same run gives the same file
    for ch, cells in report.heat.items():
        for what, idx, title, cmap in (
            ("answer-rate", 1, f"{ch}: answer rate (%), with contacts decided", "RdYlGn"),
            ("contacts", 0, f"{ch}: contacts per week", "Blues"),
        ):
            grid = [[math.nan] * 7 for _ in range(24)]
            for (wd, h), vals in cells.items():
                v = vals[idx]
                if v is not None:
                    grid[h][wd] = 100 * v if idx == 1 else v
            fig, ax = plt.subplots(figsize=(5.5, 7))
            im = ax.imshow(grid, aspect="auto", cmap=cmap, vmin=0 if idx == 0 else None)
            ax.set_xticks(range(7), WEEKDAY_NAMES)
            ax.set_yticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
            if idx == 1:  # the sample behind each rate
                for (wd, h), vals in cells.items():
                    if vals[1] is not None:
                        ax.text(wd, h, str(vals[2]), ha="center", va="center", fontsize=5)
            ax.set_title(title)
            fig.colorbar(im, ax=ax)
            fig.tight_layout()
            name = f"heatmap-{ch}-{what}.png"
            fig.savefig(out / name, dpi=90, metadata=meta)
            plt.close(fig)
            names.append(name)
    months = sorted({m for v in report.monthly.values() for m in v})
    if months:
        fig, ax = plt.subplots(figsize=(10, 4.5))
        ax2 = ax.twinx()
        bottom = [0.0] * len(months)
        for ch, by_month in report.monthly.items():
            counts = [by_month.get(m, (0.0, None))[0] for m in months]
            ax.bar(months, counts, bottom=bottom, label=f"{ch} contacts", alpha=0.6)
            bottom = [b + v for b, v in zip(bottom, counts, strict=True)]
            rates = [by_month.get(m, (0.0, None))[1] for m in months]
            ax2.plot(
                months,
                [math.nan if r is None else 100 * r for r in rates],
                marker="o",
                label=f"{ch} answer rate",
            )
        ax.set_ylabel("contacts per month")
        ax2.set_ylabel("answer rate (%)")
        ax2.set_ylim(0, 100)
        ax.tick_params(axis="x", rotation=90)
        ax.legend(loc="upper left")
        ax2.legend(loc="lower right")
        ax.set_title(f"{report.scenario.name}: contacts and answer rate by month")
        fig.tight_layout()
        fig.savefig(out / "monthly.png", dpi=90, metadata=meta)
        plt.close(fig)
        names.append("monthly.png")
    return names


def write_report(report: Report, out: Path, *, plots: bool = True) -> list[Path]:
    """Write ``stats.json``, ``report.md`` and (optionally) the PNG plots into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    names = _plots(report, out) if plots else []
    (out / "stats.json").write_text(
        json.dumps(report_json(report), indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    (out / "report.md").write_text(render_markdown(report, names), encoding="utf-8")
    return [out / "stats.json", out / "report.md", *(out / n for n in names)]
