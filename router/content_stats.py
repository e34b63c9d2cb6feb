"""Content statistics: a pure fold over registrations, comparable across form versions.

Per year and channel (each channel has its own form), with optional groups by
month and team (the answering agent's team): how many contacts were
registered, and for each question of the newest form version how many
answered it, the count per option code and its share of those who answered.
The last registration of a contact counts. Older versions' answers are
counted in the newest version's codes through the forms' code maps
(``Form.forward``), so 2020 and 2021 make one series.

Every output reads one protected table per year and channel
(``router.suppression``): a count under ``content.k`` is shown as ``"<k"``,
a count hidden to protect one as ``"x"``, and a share only where both its
count and its denominator are shown.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Iterable
from itertools import product
from typing import Any
from zoneinfo import ZoneInfo

from router.config import HelplineConfig
from router.forms import Form
from router.records import Record, RegistrationRecord
from router.suppression import PRIMARY, protect

__all__ = ["ALL", "CONTENT_GROUPS", "content_stats", "latest_registrations"]

CONTENT_GROUPS = ("month", "team")
ALL = "*"
REGISTERED = "registered"
MONTHS = tuple(range(1, 13))
Cell = tuple[str, str, Any, str]  # (quantity, code, month, team); "*" is every one


def latest_registrations(records: Iterable[Record]) -> list[RegistrationRecord]:
    """The last registration of each contact, in the order contacts were first registered."""
    last: dict[str, RegistrationRecord] = {}
    for r in records:
        if isinstance(r, RegistrationRecord):
            last[r.contact_id] = r
    return list(last.values())


def _codes(form: Form) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Per question of the newest version: (kind, codes); an integer's values as codes."""
    out: dict[str, tuple[str, tuple[str, ...]]] = {}
    for name, f in form.newest.fields.items():
        codes = f.codes if f.kind != "integer" else tuple(str(n) for n in range(f.min, f.max + 1))
        out[name] = (f.kind, codes)
    return out


def content_stats(
    records: Iterable[Record], config: HelplineConfig, *, by: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The content statistics as JSON-ready data (see the module docstring)."""
    zone = ZoneInfo(config.timezone)
    k = config.content.k
    forms = {f.id: f for f in config.forms}
    finest: dict[tuple[int, str], dict[Cell, int]] = {}
    teams: dict[tuple[int, str], set[str]] = {}
    for r in latest_registrations(records):
        form = forms.get(r.form)
        if form is None or form.channel != r.channel:
            continue  # a form no longer configured: nothing to count it in
        day = dt.datetime.fromtimestamp(r.arrived_at, zone).date()
        key = (day.year, r.channel)
        cells = finest.setdefault(key, {})
        teams.setdefault(key, set()).add(r.team)
        m, t = day.month, r.team
        _add(cells, (REGISTERED, ALL, m, t))
        for name, value in form.forward(r.version, r.answers).items():
            codes = value if isinstance(value, tuple) else (str(value),)
            if not codes:
                continue
            _add(cells, (name, ALL, m, t))
            for code in codes:
                _add(cells, (name, code, m, t))
    tables = []
    for (year, channel), cells in sorted(finest.items()):
        form = config.form_for(channel)
        assert form is not None
        names = sorted(set(config.teams) | teams[(year, channel)])
        tables.append(_table(year, channel, form, finest=cells, teams=names, k=k, by=by))
    return {"k": k, "by": list(by), "tables": tables}


def _add(cells: dict[Cell, int], key: Cell) -> None:
    cells[key] = cells.get(key, 0) + 1


def _table(
    year: int,
    channel: str,
    form: Form,
    *,
    finest: dict[Cell, int],
    teams: list[str],
    k: int,
    by: tuple[str, ...],
) -> dict[str, Any]:
    questions = _codes(form)
    quantities: list[tuple[str, tuple[str, ...]]] = [(REGISTERED, ())]
    quantities += [(name, codes) for name, (_, codes) in questions.items()]
    months: tuple[Any, ...] = (ALL, *MONTHS)
    team_keys: tuple[str, ...] = (ALL, *teams)
    values: dict[Hashable, int] = {}
    lines: list[tuple[Hashable, list[Hashable]]] = []
    for q, codes in quantities:
        for code in (ALL, *codes):
            for m, t in product(MONTHS, teams):
                values[(q, code, m, t)] = finest.get((q, code, m, t), 0)
            for t in teams:
                values[(q, code, ALL, t)] = sum(values[(q, code, m, t)] for m in MONTHS)
            for m in months:
                values[(q, code, m, ALL)] = sum(values[(q, code, m, t)] for t in teams)
            for t in team_keys:
                lines.append(((q, code, ALL, t), [(q, code, m, t) for m in MONTHS]))
            for m in months:
                lines.append(((q, code, m, ALL), [(q, code, m, t) for t in teams]))
        single = q != REGISTERED and questions[q][0] != "multi"
        if single:
            for m, t in product(months, team_keys):
                lines.append(((q, ALL, m, t), [(q, c, m, t) for c in codes]))
    # A question everybody answered is, cell by cell, the number registered.
    aliases = [
        [(REGISTERED, ALL, m, t), *((q, ALL, m, t) for q, _ in quantities[1:])]
        for m, t in product(months, team_keys)
    ]
    aliases = [
        [c for c in group if values[c] == values[group[0]]] for group in aliases if len(group) > 1
    ]
    hidden = protect(values, lines, k, [g for g in aliases if len(g) > 1])

    def show(cell: Cell) -> int | str:
        why = hidden.get(cell)
        if why is None:
            return values[cell]
        return f"<{k}" if why == PRIMARY else "x"

    groups = []
    for m, t in product(months if "month" in by else (ALL,), team_keys if "team" in by else (ALL,)):
        fields: dict[str, Any] = {}
        for name, (kind, codes) in questions.items():
            answered = show((name, ALL, m, t))
            counts = {c: show((name, c, m, t)) for c in codes}
            shares = {
                c: round(n / answered, 4) if isinstance(n, int) and isinstance(answered, int)
                and answered else None
                for c, n in counts.items()
            }  # fmt: skip
            fields[name] = {"kind": kind, "answered": answered, "counts": counts, "shares": shares}
        groups.append(
            {
                "month": None if m == ALL else m,
                "team": None if t == ALL else t,
                "registered": show((REGISTERED, ALL, m, t)),
                "fields": fields,
            }
        )
    return {
        "year": year,
        "channel": channel,
        "form": form.id,
        "version": form.newest.version,
        "groups": groups,
    }
