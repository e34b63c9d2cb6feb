"""Small-cell suppression: no count under k is shown or derivable, in any output.

The audit is exact linear algebra over the finest cells (month x team x answer):
everything any group-by shows is an equation, and so is what anyone knows of the
form (a single choice's counts add up to those who answered it; a required
question is answered by every registered contact). A hidden cell is derivable if
its sum of finest cells lies in the span of those equations.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router import HelplineConfig, suppression
from router.commands import Offer
from router.content_stats import ALL, content_stats
from router.core import Router
from router.suppression import COMPLEMENT, PRIMARY, derivable, protect
from router.testing import Script

BYS = [(), ("month",), ("team",), ("month", "team")]
TEAMS = ("kss", "ok")


def test_a_lone_small_cell_takes_a_complement_so_the_total_does_not_give_it_away() -> None:
    values = {"total": 20, "a": 2, "b": 9, "c": 9}
    hidden = protect(values, [("total", ["a", "b", "c"])], k=5)
    assert hidden == {"a": PRIMARY, "b": COMPLEMENT}


def test_a_complement_makes_the_hidden_sum_too_wide_to_pin_a_small_cell() -> None:
    # Hiding 1 and 5: their sum 6 with the 5 known to be at least k pins the 1, so
    # a third cell goes too.
    values = {"total": 26, "a": 1, "b": 5, "c": 20}
    assert protect(values, [("total", ["a", "b", "c"])], k=5) == {
        "a": PRIMARY, "b": COMPLEMENT, "c": COMPLEMENT}  # fmt: skip


def test_a_hidden_total_with_every_part_shown_hides_a_part() -> None:
    values = {"total": 3, "a": 0, "b": 3}
    assert protect(values, [("total", ["a", "b"])], k=5) == {"total": PRIMARY, "b": PRIMARY}
    values = {"t": 3, "x": 3, "y": 0, "T": 12, "p": 12}
    # t (3) is small; the line T = t + p then needs a second hidden cell.
    assert protect(values, [("T", ["t", "p"])], k=5) == {"t": PRIMARY, "p": COMPLEMENT,
                                                           "x": PRIMARY}  # fmt: skip


def test_aliased_cells_are_hidden_together() -> None:
    values = {"r": 12, "a": 12, "t": 30, "u": 18}
    hidden = protect(values, [("t", ["r", "u"])], k=5, aliases=[["r", "a"]])
    assert hidden == {}
    values = {"r": 3, "a": 3, "t": 21, "u": 18}
    hidden = protect(values, [("t", ["r", "u"])], k=5, aliases=[["r", "a"]])
    assert hidden == {"r": PRIMARY, "a": PRIMARY, "u": COMPLEMENT}


# ------------------------------------------------------------- the audit
def year_of_registrations(config: HelplineConfig, seed: int) -> tuple[Script, dict[str, Any]]:
    """~150 phone contacts from January to April 2021, skewed answers: many small cells."""
    rng = random.Random(seed)
    s = Script(Router(config), source="gen")
    s.at("2021-01-04 09:00")
    s.login("kss-1", "kss")
    s.login("ok-1", "ok")
    phone = config.form_for("phone")
    assert phone is not None
    fields = phone.newest.fields
    truth: dict[tuple[str, str, int, str], int] = {}
    n = 0
    for day in range(0, 118, 1):
        for hour in (10, 20) if rng.random() < 0.65 else (10,):
            date = dt.date(2021, 1, 4) + dt.timedelta(days=day)
            s.at(f"{date.isoformat()} {hour}:00")
            cid = f"c{n}"
            n += 1
            offer = next(c for c in s.arrive(cid) if isinstance(c, Offer))
            agent = offer.agent_ids[0]  # the owning team's agent rings
            team = agent.split("-")[0]
            s.answer(cid, agent)
            s.after(60)
            s.end(cid)
            answers: dict[str, Any] = {}
            for name, f in fields.items():
                weights = [2.0**-i for i in range(len(f.codes))]
                if f.kind == "single":
                    answers[name] = rng.choices(f.codes, weights)[0]
                else:
                    pick = [c for c, w in zip(f.codes, weights, strict=True) if rng.random() < w]
                    answers[name] = pick or [f.codes[0]]
            s.register(cid, agent, answers, version=4)
            month = int(s.router.local_date(s.t).month)
            _count(truth, ("registered", ALL, month, team))
            for name, value in answers.items():
                _count(truth, (name, ALL, month, team))
                for code in value if isinstance(value, list) else [value]:
                    _count(truth, (name, code, month, team))
    return s, {"truth": truth, "n": n}


def _count(d: dict[Any, int], key: Any) -> None:
    d[key] = d.get(key, 0) + 1


def outputs(config: HelplineConfig, s: Script) -> dict[tuple[str, str, Any, Any], Any]:
    """Every cell every group-by shows: (quantity, code, month or *, team or *) -> value."""
    out: dict[tuple[str, str, Any, Any], Any] = {}
    for by in BYS:
        (table,) = content_stats(s.records, config, by=by)["tables"]
        for g in table["groups"]:
            m, t = g["month"] or ALL, g["team"] or ALL
            cells = {("registered", ALL, m, t): g["registered"]}
            for name, fld in g["fields"].items():
                cells[(name, ALL, m, t)] = fld["answered"]
                for code, v in fld["counts"].items():
                    cells[(name, code, m, t)] = v
            for key, v in cells.items():
                assert out.setdefault(key, v) == v, f"{key}: two outputs disagree"
    return out


@pytest.fixture(scope="module")
def audited(vo_config: HelplineConfig) -> tuple[HelplineConfig, Script, dict[str, Any]]:
    s, info = year_of_registrations(vo_config, seed=5)
    return vo_config, s, info


def test_no_shown_count_is_under_k_and_shown_counts_are_true(audited: Any) -> None:
    config, s, info = audited
    k = config.content.k
    shown = outputs(config, s)
    truth = info["truth"]

    def true(key: tuple[str, str, Any, Any]) -> int:
        q, code, m, t = key
        ms = range(1, 13) if m == ALL else [m]
        ts = TEAMS if t == ALL else [t]
        return sum(truth.get((q, code, mm, tt), 0) for mm in ms for tt in ts)

    small = [key for key, v in shown.items() if isinstance(v, int) and 0 < v < k]
    wrong = [key for key, v in shown.items() if isinstance(v, int) and v != true(key)]
    marks = {v for v in shown.values() if isinstance(v, str)}
    assert (small, wrong, marks) == ([], [], {f"<{k}", "x"})
    # Every "<k" is really under k, every "x" really k or more.
    assert all(0 < true(key) < k for key, v in shown.items() if v == f"<{k}")
    assert all(true(key) >= k for key, v in shown.items() if v == "x")
    assert info["n"] > 100 and sum(1 for v in shown.values() if v == f"<{k}") > 50


def test_no_hidden_count_can_be_worked_out_from_all_the_group_bys_together(audited: Any) -> None:
    config, s, _ = audited
    shown = outputs(config, s)
    phone = config.form_for("phone")
    assert phone is not None
    fields = phone.newest.fields
    quantities = [("registered", ALL)] + [
        (name, code) for name, f in fields.items() for code in (ALL, *f.codes)
    ]
    finest = [(q, c, m, t) for q, c in quantities for m in range(1, 13) for t in TEAMS]
    index = {key: i for i, key in enumerate(finest)}

    def form(key: tuple[str, str, Any, Any]) -> np.ndarray:
        q, c, m, t = key
        row = np.zeros(len(finest))
        for mm, tt in itertools.product(range(1, 13) if m == ALL else [m],
                                        TEAMS if t == ALL else [t]):  # fmt: skip
            row[index[(q, c, mm, tt)]] = 1.0
        return row

    rows = [form(key) for key, v in shown.items() if isinstance(v, int)]
    for m, t in itertools.product(range(1, 13), TEAMS):
        for name, f in fields.items():
            if f.kind == "single":  # its counts add up to those who answered it
                row = -form((name, ALL, m, t))
                for code in f.codes:
                    row += form((name, code, m, t))
                rows.append(row)
            if f.required:  # answered by everybody registered
                rows.append(form((name, ALL, m, t)) - form(("registered", ALL, m, t)))
    # A finest cell that is shown is a known number: keep only the hidden ones as unknowns.
    free = [index[key] for key in finest if not isinstance(shown[key], int)]
    a = np.array(rows)[:, free]
    a = a[np.abs(a).sum(axis=1) > 0]
    _, sv, vt = np.linalg.svd(a, full_matrices=True)
    rank = int((sv > 1e-9 * sv[0]).sum())
    null = vt[rank:]  # a basis of what the equations leave free
    derivable = [
        key for key, v in shown.items()
        if isinstance(v, str) and np.abs(null @ form(key)[free]).max() < 1e-9
    ]  # fmt: skip
    assert derivable == []


def test_a_total_and_its_parts_in_another_group_by_never_leave_one_part_hidden(
    audited: Any,
) -> None:
    config, s, _ = audited
    shown = outputs(config, s)
    lone = []
    for (q, c, m, t), v in shown.items():
        if not isinstance(v, int) or ALL not in (m, t):
            continue
        if t == ALL:  # the total and its teams (by=month,team or by=team against by=())
            parts = [shown[(q, c, m, tt)] for tt in TEAMS]
            if sum(isinstance(p, str) for p in parts) == 1:
                lone.append((q, c, m, t))
        if m == ALL:  # the total and its months
            parts = [shown[(q, c, mm, t)] for mm in range(1, 13)]
            if sum(isinstance(p, str) for p in parts) == 1:
                lone.append((q, c, m, t))
    assert lone == []


def test_a_share_is_shown_only_with_its_count_and_denominator(audited: Any) -> None:
    config, s, _ = audited
    (table,) = content_stats(s.records, config, by=("month", "team"))["tables"]
    bad = []
    for g in table["groups"]:
        for name, fld in g["fields"].items():
            for code, share in fld["shares"].items():
                n, d = fld["counts"][code], fld["answered"]
                ok = isinstance(n, int) and isinstance(d, int) and d > 0
                if (share is not None) != ok or (ok and share != round(n / d, 4)):
                    bad.append((g["month"], g["team"], name, code))
    assert bad == []


# ------------------------------------------------- random two-way tables
def two_way(cells: list[list[int]]) -> tuple[dict[Any, int], list[tuple[Any, list[Any]]]]:
    """A table with row, column and grand totals: its values and its lines."""
    rows, cols = len(cells), len(cells[0])
    values: dict[Any, int] = {(r, c): cells[r][c] for r in range(rows) for c in range(cols)}
    for r in range(rows):
        values[(r, ALL)] = sum(cells[r])
    for c in range(cols):
        values[(ALL, c)] = sum(cells[r][c] for r in range(rows))
    values[(ALL, ALL)] = sum(map(sum, cells))
    lines: list[tuple[Any, list[Any]]] = [((r, ALL), [(r, c) for c in range(cols)])
                                          for r in range(rows)]  # fmt: skip
    lines += [((ALL, c), [(r, c) for r in range(rows)]) for c in range(cols)]
    lines += [((ALL, ALL), [(r, ALL) for r in range(rows)])]
    lines += [((ALL, ALL), [(ALL, c) for c in range(cols)])]
    return values, lines


def determined(values: dict[Any, int], hidden: dict[Any, str], rows: int, cols: int) -> list[Any]:
    """The hidden cells the shown ones pin down (numpy, independent of router.suppression)."""
    finest = [(r, c) for r in range(rows) for c in range(cols)]
    index = {key: i for i, key in enumerate(finest)}

    def form(key: Any) -> np.ndarray:
        r, c = key
        row = np.zeros(len(finest))
        for rr in range(rows) if r == ALL else [r]:
            for cc in range(cols) if c == ALL else [c]:
                row[index[(rr, cc)]] = 1.0
        return row

    free = [index[key] for key in finest if key in hidden]
    if not free:
        return sorted(hidden, key=repr)  # every finest cell shown: every total follows
    a = np.array([form(key)[free] for key in values if key not in hidden])
    a = a[np.abs(a).sum(axis=1) > 0] if len(a) else np.zeros((0, len(free)))
    if not len(a):
        return []
    _, sv, vt = np.linalg.svd(a, full_matrices=True)
    null = vt[int((sv > 1e-9 * sv[0]).sum()) :]
    return [key for key in hidden if not len(null) or np.abs(null @ form(key)[free]).max() < 1e-9]


COUNTS = st.sampled_from([0, 0, 1, 2, 3, 4, 5, 6, 8, 12, 20, 40])


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.integers(2, 6).flatmap(lambda cols: st.lists(
    st.lists(COUNTS, min_size=cols, max_size=cols), min_size=2, max_size=6)))  # fmt: skip
def test_no_hidden_cell_of_any_two_way_table_follows_from_the_shown_ones(
    cells: list[list[int]],
) -> None:
    values, lines = two_way(cells)
    hidden = protect(values, lines, k=5)
    assert [key for key, v in values.items() if 0 < v < 5 and key not in hidden] == []
    assert determined(values, hidden, len(cells), len(cells[0])) == []


def test_the_audit_adds_a_complement_where_the_line_rules_leave_a_cell_pinned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every row and column with a hidden cell has two or more, yet the line rules alone
    # leave (1, 1) pinned by a combination of lines: the audit (rule 5) finds it.
    cells = [[20, 2, 20, 0, 20], [12, 3, 8, 8, 2], [20, 8, 5, 3, 5], [3, 4, 20, 20, 40]]
    values, lines = two_way(cells)
    with monkeypatch.context() as m:
        m.setattr(suppression, "derivable", lambda *args, **kwargs: [])
        rules_only = protect(values, lines, k=5)
    assert determined(values, rules_only, 4, 5) == [(1, 1)]
    assert derivable(lines, rules_only) == [(1, 1)]
    hidden = protect(values, lines, k=5)
    assert (determined(values, hidden, 4, 5), derivable(lines, hidden)) == ([], [])
    assert len(hidden) > len(rules_only)
