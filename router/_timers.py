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


class Timers:
    __slots__ = ("_heap", "_live", "_seq")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, TimerKind, Hashable]] = []
        self._live: dict[tuple[TimerKind, Hashable], tuple[int, float]] = {}
        self._seq = 0

    def set(self, deadline: float, kind: TimerKind, key: Hashable) -> None:
        self._seq += 1
        self._live[(kind, key)] = (self._seq, deadline)
        heap = self._heap
        heapq.heappush(heap, (deadline, self._seq, kind, key))
        if len(heap) > 2 * len(self._live) + _COMPACT_FLOOR:
            self._compact()

    def cancel(self, kind: TimerKind, key: Hashable) -> None:
        self._live.pop((kind, key), None)

    def deadline(self, kind: TimerKind, key: Hashable) -> float | None:
        live = self._live.get((kind, key))
        return None if live is None else live[1]

    def _compact(self) -> None:
        self._heap = [(d, s, k, key) for (k, key), (s, d) in self._live.items()]
        heapq.heapify(self._heap)

    def _prune(self) -> None:
        heap = self._heap
        live = self._live
        while heap:
            _, seq, kind, key = heap[0]
            entry = live.get((kind, key))
            if entry is not None and entry[0] == seq:
                return
            heapq.heappop(heap)

    def next_deadline(self) -> float | None:
        self._prune()
        return self._heap[0][0] if self._heap else None

    def peek(self) -> float:
        """The next live deadline, or infinity."""
        heap = self._heap
        if heap:
            _, seq, kind, key = heap[0]
            entry = self._live.get((kind, key))
            if entry is not None and entry[0] == seq:
                return heap[0][0]
            self._prune()
            if heap is self._heap and heap:
                return heap[0][0]
            return self._heap[0][0] if self._heap else math.inf
        return math.inf

    def pop_due(self, now: float) -> tuple[float, TimerKind, Hashable] | None:
        """Remove and return the earliest live timer due at or before ``now``."""
        self._prune()
        heap = self._heap
        if not heap or heap[0][0] > now:
            return None
        deadline, _, kind, key = heapq.heappop(heap)
        del self._live[(kind, key)]
        return deadline, kind, key

    def __len__(self) -> int:
        return len(self._live)

    @property
    def heap_size(self) -> int:
        """Entries in the heap, live and dead (bounded by twice the live ones plus a floor)."""
        return len(self._heap)
