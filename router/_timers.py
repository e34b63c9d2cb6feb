"""A deterministic timer heap: one live timer per (kind, key), no pile of dead entries.

Entries are ``(deadline, seq, kind, key)``; ``seq`` breaks ties so equal
deadlines fire in the order they were set (simpy's core does the same).
Rescheduling or cancelling leaves the old entry in the heap, skipped when it
surfaces because its ``seq`` is no longer the live one; once dead entries
outnumber live ones (plus a floor), the heap is rebuilt from the live ones,
so its size stays within twice the live timers and each operation amortised
O(log n).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Hashable

from router.tables import TimerKind

__all__ = ["Timers"]

_COMPACT_FLOOR = 256
_push, _pop = heapq.heappush, heapq.heappop
_KINDS = tuple(TimerKind)


class Timers:
    __slots__ = ("_heap", "_live", "_n", "_seq")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, TimerKind, Hashable]] = []
        # kind -> key -> (seq, deadline) of the live timer
        self._live: tuple[dict[Hashable, tuple[int, float]], ...] = tuple({} for _ in TimerKind)
        self._seq = 0
        self._n = 0  # entries pushed since the last compaction, for the compaction check

    def set(self, deadline: float, kind: TimerKind, key: Hashable) -> None:
        self._seq = seq = self._seq + 1
        self._live[kind][key] = (seq, deadline)
        _push(self._heap, (deadline, seq, kind, key))
        self._n += 1
        if self._n > 4 * _COMPACT_FLOOR:
            self._n = 0
            if len(self._heap) > 2 * len(self) + _COMPACT_FLOOR:
                self._compact()

    def cancel(self, kind: TimerKind, key: Hashable) -> None:
        self._live[kind].pop(key, None)

    def deadline(self, kind: TimerKind, key: Hashable) -> float | None:
        live = self._live[kind].get(key)
        return None if live is None else live[1]

    def _compact(self) -> None:
        self._heap = [
            (d, s, kind, key)
            for kind, live in zip(_KINDS, self._live, strict=True)
            for key, (s, d) in live.items()
        ]
        heapq.heapify(self._heap)

    def _prune(self) -> None:
        heap = self._heap
        live = self._live
        while heap:
            _, seq, kind, key = heap[0]
            entry = live[kind].get(key)
            if entry is not None and entry[0] == seq:
                return
            _pop(heap)

    def peek(self) -> float:
        """The next live deadline, or infinity."""
        heap = self._heap
        if heap:
            deadline, seq, kind, key = heap[0]
            entry = self._live[kind].get(key)
            if entry is not None and entry[0] == seq:
                return deadline
            self._prune()
            heap = self._heap
        return heap[0][0] if heap else math.inf

    def next_deadline(self) -> float | None:
        due = self.peek()
        return None if due == math.inf else due

    def pop_due(self, now: float) -> tuple[float, TimerKind, Hashable] | None:
        """Remove and return the earliest live timer due at or before ``now``."""
        self._prune()
        heap = self._heap
        if not heap or heap[0][0] > now:
            return None
        deadline, _, kind, key = _pop(heap)
        del self._live[kind][key]
        return deadline, kind, key

    def __len__(self) -> int:
        return sum(len(live) for live in self._live)

    @property
    def heap_size(self) -> int:
        """Entries in the heap, live and dead (bounded by twice the live ones plus a floor)."""
        return len(self._heap)
