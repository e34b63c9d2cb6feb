"""A deterministic timer heap: one live timer per (kind, key).

Entries are ``(deadline, seq, kind, key)``; ``seq`` breaks ties so equal
deadlines fire in the order they were set (simpy's core does the same).
Rescheduling or cancelling leaves the old entry in the heap; it is skipped
when it surfaces, because its ``seq`` is no longer the live one.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable

__all__ = ["Timers"]


class Timers:
    __slots__ = ("_heap", "_live", "_seq")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, str, Hashable]] = []
        self._live: dict[tuple[str, Hashable], tuple[int, float]] = {}
        self._seq = 0

    def set(self, deadline: float, kind: str, key: Hashable) -> None:
        self._seq += 1
        self._live[(kind, key)] = (self._seq, deadline)
        heapq.heappush(self._heap, (deadline, self._seq, kind, key))

    def cancel(self, kind: str, key: Hashable) -> None:
        self._live.pop((kind, key), None)

    def deadline(self, kind: str, key: Hashable) -> float | None:
        live = self._live.get((kind, key))
        return None if live is None else live[1]

    def _prune(self) -> None:
        heap = self._heap
        while heap:
            _, seq, kind, key = heap[0]
            live = self._live.get((kind, key))
            if live is not None and live[0] == seq:
                return
            heapq.heappop(heap)

    def next_deadline(self) -> float | None:
        self._prune()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> tuple[float, str, Hashable] | None:
        """Remove and return the earliest live timer due at or before ``now``."""
        self._prune()
        if not self._heap or self._heap[0][0] > now:
            return None
        deadline, _, kind, key = heapq.heappop(self._heap)
        del self._live[(kind, key)]
        return deadline, kind, key

    def __len__(self) -> int:
        return len(self._live)
