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

Complementary cells (hidden to protect another cell) are always at least k and
are shown as ``x``; zeros are never hidden. What this does not do is a full
linear-programming audit of every combination of lines; the tests audit the
exact linear algebra (no hidden cell is determined by the shown ones) on the
tables the statistics produce.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence

__all__ = ["COMPLEMENT", "PRIMARY", "protect"]

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
    return hidden
