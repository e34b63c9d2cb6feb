"""Small-cell suppression for a lattice of counts, with complementary suppression.

The input is one protected table: every count that any output may show (a
finest cell and every total above it), the *lines* that tie them (a total and
the cells it is the sum of, along one dimension) and groups of cells that
are the same number by construction (``aliases``). Every output is read from
the one result, so two group-bys of the same data cannot be differenced to
learn more than either shows.

Rules, applied until nothing changes (cells are only ever hidden, so it ends):

1. Primary: a count of 1 to k-1 is hidden and shown as ``<k``. A zero is shown.
2. A shown total with hidden cells below it: at least two of them are hidden,
   and their sum S (the total minus the shown cells, which anyone can work out)
   is at least ``n_complementary * k + n_primary + 1``: hidden complementary
   cells are known to be at least k, and this leaves every hidden small cell
   at least two possible values. Otherwise the smallest shown non-zero cell of
   the line is hidden too; if none is left, the total is hidden.
3. A hidden total with every cell below it shown is derivable: the smallest
   non-zero cell of the line is hidden.
4. Cells of one alias group are hidden together.
5. Audit: no hidden cell may follow exactly from the shown ones through any
   combination of lines and aliases (``derivable``: exact linear algebra over
   the rationals). While one does, one more cell on one of its lines is hidden
   (the smallest shown one) and the rules run again.

Complementary cells (hidden to protect another cell) are shown as ``x``; they
are at least k, or (only where rule 5 finds nothing else to hide) zero. What
this does not do is a full interval (linear-programming) audit: rules 2 and 5
keep every hidden small count to at least two possible values, not to the
whole range 1 to k-1.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from fractions import Fraction
from itertools import pairwise

__all__ = ["COMPLEMENT", "PRIMARY", "derivable", "protect"]

PRIMARY = "primary"
COMPLEMENT = "complement"


def protect(
    values: Mapping[Hashable, int],
    lines: Sequence[tuple[Hashable, Sequence[Hashable]]],
    k: int,
    aliases: Iterable[Sequence[Hashable]] = (),
) -> dict[Hashable, str]:
    """The hidden cells of ``values``: key -> ``PRIMARY`` or ``COMPLEMENT``."""
    hidden: dict[Hashable, str] = {key: PRIMARY for key, v in values.items() if 0 < v < k}
    groups = [tuple(g) for g in aliases]
    alias_of: dict[Hashable, list[tuple[Hashable, ...]]] = {}
    for g in groups:
        for key in g:
            alias_of.setdefault(key, []).append(g)
    # The lines each cell is on, to revisit only lines touched by a change.
    on: dict[Hashable, list[int]] = {}
    for i, (parent, kids) in enumerate(lines):
        for key in (parent, *kids):
            on.setdefault(key, []).append(i)
    todo = set(range(len(lines)))

    def hide(key: Hashable) -> None:
        stack = [key]
        while stack:
            x = stack.pop()
            if x in hidden:
                continue
            hidden[x] = COMPLEMENT
            todo.update(on.get(x, ()))
            for g in alias_of.get(x, ()):
                stack.extend(g)

    for key in list(hidden):  # primaries' aliases
        for g in alias_of.get(key, ()):
            for other in g:
                if other not in hidden:
                    hide(other)
    todo.update(i for key in hidden for i in on.get(key, ()))
    while True:
        _settle(values, lines, k, hidden=hidden, todo=todo, hide=hide)
        found = derivable(lines, hidden, [g for g in groups if g[0] in hidden])
        if not found:
            return hidden
        # A hidden cell the shown ones determine: hide one more cell on one of its lines
        # (the smallest shown one, a zero only if nothing else is left), settle again.
        pick = _next_complement(found, values, lines, hidden, on)
        if pick is None:  # pragma: no cover - a determined cell has a shown neighbour
            return hidden
        hide(pick)


def _next_complement(
    found: list[Hashable],
    values: Mapping[Hashable, int],
    lines: Sequence[tuple[Hashable, Sequence[Hashable]]],
    hidden: Mapping[Hashable, str],
    on: Mapping[Hashable, list[int]],
) -> Hashable | None:
    for cell in sorted(found, key=repr):
        near = [c for i in on.get(cell, ()) for c in (lines[i][0], *lines[i][1])
                if c not in hidden]  # fmt: skip
        if near:
            return min(near, key=lambda c: (values[c] == 0, values[c], repr(c)))
    return None


def _settle(
    values: Mapping[Hashable, int],
    lines: Sequence[tuple[Hashable, Sequence[Hashable]]],
    k: int,
    *,
    hidden: dict[Hashable, str],
    todo: set[int],
    hide: Callable[[Hashable], None],
) -> None:
    """Apply rules 2 and 3 to the lines in ``todo`` until none is left."""
    while todo:
        i = min(todo)
        todo.discard(i)
        parent, kids = lines[i]
        shown = [c for c in kids if c not in hidden and values[c] > 0]
        hid = [c for c in kids if c in hidden]
        if parent in hidden:
            if not hid and shown:
                hide(min(shown, key=lambda c: (values[c], repr(c))))
            continue
        if not hid:
            continue
        n_p = sum(1 for c in hid if hidden[c] == PRIMARY)
        s = sum(values[c] for c in hid)
        if len(hid) >= 2 and s >= (len(hid) - n_p) * k + n_p + 1:
            continue
        if shown:
            hide(min(shown, key=lambda c: (values[c], repr(c))))
        else:
            hide(parent)


def derivable(
    lines: Sequence[tuple[Hashable, Sequence[Hashable]]],
    hidden: Mapping[Hashable, str],
    aliases: Iterable[Sequence[Hashable]] = (),
) -> list[Hashable]:
    """The hidden cells whose value follows from the shown ones (exact, over the rationals).

    Every line is an equation (total minus its parts is zero) and every alias
    group says its cells are equal; with the shown cells known, a hidden cell is
    determined when its unit vector lies in the span of the equations restricted
    to the hidden cells: in the reduced row echelon form, its pivot row has no
    other entry.
    """
    col: dict[Hashable, int] = {}
    rows: list[dict[int, Fraction]] = []

    def var(key: Hashable) -> int:
        return col.setdefault(key, len(col))

    for parent, kids in lines:
        terms: dict[int, Fraction] = {}
        for key, coef in ((parent, 1), *((c, -1) for c in kids)):
            if key in hidden:
                j = var(key)
                terms[j] = terms.get(j, Fraction(0)) + coef
        nonzero = {j: v for j, v in terms.items() if v}
        if nonzero:
            rows.append(nonzero)
    for group in aliases:
        members = [c for c in group if c in hidden]
        for a, b in pairwise(members):
            rows.append({var(a): Fraction(1), var(b): Fraction(-1)})
    pivots: dict[int, dict[int, Fraction]] = {}  # pivot column -> its row (pivot 1)
    for given in rows:
        row = dict(given)
        for j in sorted(set(row) & set(pivots)):  # clear the old pivots' columns
            if j in row:
                _subtract(row, pivots[j], row[j])
        if not row:
            continue
        p = min(row)
        inv = 1 / row[p]
        new = {j: v * inv for j, v in row.items()}
        for other in pivots.values():  # and this pivot's column in the old rows
            if p in other:
                _subtract(other, new, other[p])
        pivots[p] = new
    names = {j: key for key, j in col.items()}
    return [names[p] for p, row in pivots.items() if len(row) == 1]


def _subtract(row: dict[int, Fraction], pivot_row: Mapping[int, Fraction], f: Fraction) -> None:
    """``row -= f * pivot_row`` in place, dropping zeros."""
    for j, v in pivot_row.items():
        x = row.get(j, Fraction(0)) - f * v
        if x:
            row[j] = x
        else:
            row.pop(j, None)
