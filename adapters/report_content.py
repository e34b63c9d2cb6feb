"""``linje report --content``: what contacts were about, per year and channel.

Tables and bar charts of each question's shares, like the pilot report's
content statistics chapter, read from ``router.content_stats`` (the same fold
and the same small-cell suppression as ``GET /v1/stats/content``). Labels are
the newest form version's, in English or Norwegian (``--lang``). A suppressed
count is ``<k`` (under k) or ``x`` (hidden so that a small count cannot be
worked out from the others); a share is shown only where its count and its
denominator are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: a server or CI has no display

from matplotlib.figure import Figure
from rich.console import Console
from rich.table import Table

from router.config import HelplineConfig
from router.forms import Form

__all__ = ["content_figures", "render_content", "write_content_plots"]

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
TITLE = {"en": "Content of the contacts", "nb": "Innhold i henvendelsene"}
REGISTERED = {"en": "Registered contacts", "nb": "Registrerte henvendelser"}


def _label(form: Form, name: str, code: str | None, lang: str) -> str:
    f = form.newest.fields[name]
    if code is None:
        return str(getattr(f, lang))
    for o in f.options:
        if o.code == code:
            return str(getattr(o, lang))
    return code


def _pct(share: float | None) -> str:
    return "" if share is None else f"{share * 100:.0f} %"


def _group_name(g: dict[str, Any]) -> str:
    parts = [f"{g['month']:02d}" if g["month"] else "", g["team"] or ""]
    return " ".join(p for p in parts if p) or "all"


def render_content(stats: dict[str, Any], config: HelplineConfig, console: Console,
                   lang: str = "en") -> None:  # fmt: skip
    """Print one table per year, channel and question (counts and shares per group)."""
    console.print(f"[bold]{config.name or config.id}[/bold]: {TITLE[lang]} (k = {stats['k']})")
    if not stats["tables"]:
        console.print("No registrations in the log.")
    for table in stats["tables"]:
        form = config.form_for(table["channel"])
        assert form is not None
        head = f"{table['year']} {table['channel']}"
        groups = table["groups"]
        t = Table(title=f"{head}: {REGISTERED[lang]}")
        t.add_column("Group")
        t.add_column("Contacts", justify="right")
        for g in groups:
            t.add_row(_group_name(g), str(g["registered"]))
        console.print(t)
        for name in form.newest.fields:
            t = Table(title=f"{head}: {_label(form, name, None, lang)}")
            t.add_column("Answer")
            for g in groups:
                t.add_column(_group_name(g), justify="right")
            for code in groups[0]["fields"][name]["counts"]:
                cells = []
                for g in groups:
                    fld = g["fields"][name]
                    n, share = fld["counts"][code], fld["shares"][code]
                    cells.append(f"{n} ({_pct(share)})" if share is not None else str(n))
                t.add_row(_label(form, name, code, lang), *cells)
            t.add_section()
            t.add_row("Answered", *(str(g["fields"][name]["answered"]) for g in groups))
            console.print(t)


def content_figures(stats: dict[str, Any], config: HelplineConfig,
                    lang: str = "en") -> dict[str, Figure]:  # fmt: skip
    """Per year and channel, a figure with one horizontal bar chart of shares per question."""
    out: dict[str, Figure] = {}
    for table in stats["tables"]:
        form = config.form_for(table["channel"])
        assert form is not None
        total = next(g for g in table["groups"] if g["month"] is None and g["team"] is None)
        names = list(form.newest.fields)
        fig = Figure(figsize=(11, 3.2 * ((len(names) + 1) // 2)))
        for i, name in enumerate(names):
            ax = fig.add_subplot((len(names) + 1) // 2, 2, i + 1)
            fld = total["fields"][name]
            codes = list(fld["counts"])
            shares = [(fld["shares"][c] or 0.0) * 100 for c in codes]
            labels = [_label(form, name, c, lang) for c in codes]
            ax.barh(labels, shares, color=PALETTE[i % len(PALETTE)])
            for y, (c, s) in enumerate(zip(codes, shares, strict=True)):
                text = _pct(fld["shares"][c]) if fld["shares"][c] is not None else fld["counts"][c]
                ax.text(s + 1, y, str(text), va="center", fontsize=8)
            ax.invert_yaxis()
            ax.set_xlim(0, 110)
            ax.set_title(f"{_label(form, name, None, lang)} (n = {fld['answered']})", fontsize=10)
            ax.set_xlabel("%")
            ax.tick_params(axis="y", labelsize=8)
        fig.suptitle(f"{TITLE[lang]} {table['year']}: {table['channel']}")
        fig.tight_layout()
        out[f"content-{table['year']}-{table['channel']}.png"] = fig
    return out


def write_content_plots(stats: dict[str, Any], config: HelplineConfig, directory: str | Path,
                        lang: str = "en") -> list[Path]:  # fmt: skip
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, fig in content_figures(stats, config, lang).items():
        path = folder / name
        fig.savefig(path, dpi=110)
        paths.append(path)
    return paths
