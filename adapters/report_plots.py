"""``linje report --plots DIR``: the report's charts as PNG files (matplotlib, Agg).

Figures are built as ``matplotlib.figure.Figure`` objects without pyplot, so
no display and no global state is involved; ``write_plots`` saves them.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: a server or CI has no display

from matplotlib.figure import Figure

from adapters.report import CAUSES, Report
from router.stats import WEEKDAY_NAMES

__all__ = [
    "PLOTS",
    "contacts_per_month",
    "hour_weekday_heat_map",
    "unanswered_per_month",
    "write_plots",
]

# Colour-blind-safe palette (Okabe and Ito, 2008).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")


def contacts_per_month(report: Report) -> Figure:
    """Contacts per month, stacked by channel."""
    stats = report.fold(("month", "channel"))
    channels = report.channels(stats)
    months = sorted({str(dict(g.key)["month"]) for g in stats.groups})
    counts = {
        (str(dict(g.key)["month"]), str(dict(g.key)["channel"])): g.contacts for g in stats.groups
    }
    fig = Figure(figsize=(10, 4.5))
    ax = fig.add_subplot()
    bottom = [0] * len(months)
    for i, ch in enumerate(channels):
        values = [counts.get((m, ch), 0) for m in months]
        ax.bar(months, values, bottom=bottom, label=ch, color=PALETTE[i % len(PALETTE)])
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_title("Contacts per month by channel")
    ax.set_xlabel("Month")
    ax.set_ylabel("Contacts")
    if channels:
        ax.legend(title="Channel")
    ax.tick_params(axis="x", labelrotation=45)
    fig.tight_layout()
    return fig


def unanswered_per_month(report: Report) -> Figure:
    """Unanswered contacts per month, stacked by cause (the seed's categories)."""
    stats = report.fold(("month",))
    months = [str(g.key[0][1]) for g in stats.groups]
    short = f"{report.config.short_abandon_s:g}"
    fig = Figure(figsize=(10, 4.5))
    ax = fig.add_subplot()
    bottom = [0] * len(months)
    for i, (klass, label) in enumerate(CAUSES):
        values = [g.unanswered[klass] for g in stats.groups]
        ax.bar(
            months,
            values,
            bottom=bottom,
            label=label.format(short=short),
            color=PALETTE[i % len(PALETTE)],
        )
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_title("Unanswered contacts by cause per month")
    ax.set_xlabel("Month")
    ax.set_ylabel("Unanswered contacts")
    ax.legend(title="Cause", fontsize="small")
    ax.tick_params(axis="x", labelrotation=45)
    fig.tight_layout()
    return fig


def hour_weekday_heat_map(report: Report) -> Figure:
    """Contacts by hour of day (rows) and weekday (columns), local time."""
    grid = [[0] * 7 for _ in range(24)]
    for g in report.fold(("hour", "weekday")).groups:
        key = dict(g.key)
        grid[int(key["hour"] or 0)][WEEKDAY_NAMES.index(str(key["weekday"]))] += g.contacts
    fig = Figure(figsize=(6, 8))
    ax = fig.add_subplot()
    image = ax.imshow(grid, aspect="auto", cmap="viridis", origin="upper")
    ax.set_xticks(range(7), [wd.capitalize() for wd in WEEKDAY_NAMES])
    ax.set_yticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
    ax.set_title("Contacts by hour of day and weekday")
    ax.set_xlabel("Weekday")
    ax.set_ylabel("Hour of day (local time)")
    fig.colorbar(image, ax=ax, label="Contacts")
    fig.tight_layout()
    return fig


PLOTS = {
    "contacts-per-month.png": contacts_per_month,
    "unanswered-per-month.png": unanswered_per_month,
    "hour-weekday.png": hour_weekday_heat_map,
}


def write_plots(report: Report, out_dir: str | Path) -> list[Path]:
    """Write every chart of ``PLOTS`` into ``out_dir`` (created if needed); return the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, build in PLOTS.items():
        path = out / name
        build(report).savefig(path, format="png", dpi=100)
        paths.append(path)
    return paths
