"""Deterministic timers: one live timer per (kind, key), in (deadline, seq) order.

``seq`` grows with every ``set``, so equal deadlines fire in the order they were
set (simpy's core breaks ties the same way). Most of the core's timers are "now
plus a constant" (a ring time-out, a wrap-up, a queue's reconcile wait), so
their deadlines only grow within one such stream: the caller names the stream
(``lane``) and the timer is appended to that lane's FIFO in O(1); only each
lane's head sits in the heap, so the heap holds a few entries whatever the
number of agents and waiting contacts. A deadline earlier than its lane's last
(the clock tolerance lets an event's time lag a little) and a timer without a
lane go into the heap directly. Either way the firing order is exactly that of
one heap of every timer.

Rescheduling or cancelling leaves the old entry where it is, skipped when it
surfaces because its ``seq`` is no longer the live one. Dead entries are
swept once they outnumber live ones (plus a floor): the heap is rebuilt, and a
lane filtered behind its head, so both stay within about twice their live
timers and each operation is amortised O(1) for a lane, O(log n) for the heap.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Hashable

from router.tables import TimerKind

__all__ = ["Timers"]

_COMPACT_FLOOR = 256
_LANE_FLOOR = 64
_push, _pop = heapq.heappush, heapq.heappop
_KINDS = tuple(TimerKind)

Entry = tuple[float, int, TimerKind, Hashable]


class _Lane:
    """Timers of one stream, deadlines non-decreasing; its head is armed in the heap."""

    __slots__ = ("dead", "q")

    def __init__(self) -> None:
        self.q: deque[Entry] = deque()
        self.dead = 0  # entries of q that are no longer live


class Timers:
    __slots__ = ("_heap", "_lanes", "_live", "_n", "_seq")

    def __init__(self) -> None:
        # (deadline, seq, kind, key, lane): a lane's head, or a timer of no lane (None)
        self._heap: list[tuple[float, int, TimerKind, Hashable, _Lane | None]] = []
        # kind -> key -> (seq, deadline, lane) of the live timer
        self._live: tuple[dict[Hashable, tuple[int, float, _Lane | None]], ...] = tuple(
            {} for _ in TimerKind
        )
        self._lanes: dict[Hashable, _Lane] = {}
        self._seq = 0
        self._n = 0  # entries pushed on the heap since the last compaction check

    def set(self, deadline: float, kind: TimerKind, key: Hashable, lane: Hashable = None) -> None:
        """(Re)set the timer ``(kind, key)``; ``lane`` names a stream of growing deadlines."""
        self._seq = seq = self._seq + 1
        live = self._live[kind]
        old = live.get(key)
        if old is not None and old[2] is not None:
            old[2].dead += 1
        if lane is not None:
            ln = self._lanes.get(lane)
            if ln is None:
                ln = self._lanes[lane] = _Lane()
            q = ln.q
            if not q:
                live[key] = (seq, deadline, ln)
                q.append((deadline, seq, kind, key))
                _push(self._heap, (deadline, seq, kind, key, ln))
                return
            if q[-1][0] <= deadline:
                live[key] = (seq, deadline, ln)
                q.append((deadline, seq, kind, key))
                if ln.dead > _LANE_FLOOR and 2 * ln.dead > len(q):
                    self._sweep(ln)
                return
        live[key] = (seq, deadline, None)
        _push(self._heap, (deadline, seq, kind, key, None))
        self._n += 1
        if self._n > 4 * _COMPACT_FLOOR:
            self._n = 0
            if len(self._heap) > 2 * (self._unlaned() + len(self._lanes)) + _COMPACT_FLOOR:
                self._compact()

    def cancel(self, kind: TimerKind, key: Hashable) -> None:
        old = self._live[kind].pop(key, None)
        if old is not None and old[2] is not None:
            old[2].dead += 1

    def deadline(self, kind: TimerKind, key: Hashable) -> float | None:
        live = self._live[kind].get(key)
        return None if live is None else live[1]

    def _is_live(self, seq: int, kind: TimerKind, key: Hashable) -> bool:
        entry = self._live[kind].get(key)
        return entry is not None and entry[0] == seq

    def _sweep(self, ln: _Lane) -> None:
        """Drop a lane's dead entries behind its head (the head stays: it is armed)."""
        q = ln.q
        head = q.popleft()
        kept = deque(e for e in q if self._is_live(e[1], e[2], e[3]))
        kept.appendleft(head)
        ln.q = kept
        ln.dead = 0 if self._is_live(head[1], head[2], head[3]) else 1

    def _unlaned(self) -> int:
        return sum(1 for live in self._live for e in live.values() if e[2] is None)

    def _compact(self) -> None:
        """Rebuild the heap from the live timers of no lane and every lane's head."""
        heap: list[tuple[float, int, TimerKind, Hashable, _Lane | None]] = [
            (d, s, kind, key, None)
            for kind, live in zip(_KINDS, self._live, strict=True)
            for key, (s, d, ln) in live.items()
            if ln is None
        ]
        for ln in self._lanes.values():
            if ln.q:
                d, s, kind, key = ln.q[0]
                heap.append((d, s, kind, key, ln))
        heapq.heapify(heap)
        self._heap = heap

    def _take(self) -> tuple[float, int, TimerKind, Hashable]:
        """Pop the heap's top; if it was a lane's head, arm the lane's next entry."""
        deadline, seq, kind, key, ln = _pop(self._heap)
        if ln is not None:
            q = ln.q
            q.popleft()
            if not self._is_live(seq, kind, key):
                ln.dead -= 1
            if q:
                d, s, k, y = q[0]
                _push(self._heap, (d, s, k, y, ln))
        return deadline, seq, kind, key

    def _prune(self) -> None:
        heap = self._heap
        while heap:
            _, seq, kind, key, _ = heap[0]
            if self._is_live(seq, kind, key):
                return
            self._take()

    def peek(self) -> float:
        """The next live deadline, or infinity."""
        heap = self._heap
        if heap:
            deadline, seq, kind, key, _ = heap[0]
            if self._is_live(seq, kind, key):
                return deadline
            self._prune()
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
        deadline, _, kind, key = self._take()
        del self._live[kind][key]
        return deadline, kind, key

    def __len__(self) -> int:
        return sum(len(live) for live in self._live)

    @property
    def heap_size(self) -> int:
        """Entries held, live and dead, in the heap and the lanes (bounded by about twice
        the live ones plus the floors)."""
        return (
            len(self._heap)
            + sum(len(ln.q) for ln in self._lanes.values())
            - sum(1 for ln in self._lanes.values() if ln.q)
        )
