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

A timer is one object, shared by the live map, its lane and the heap: setting
one allocates it once, and rescheduling or cancelling marks it ``dead`` (no
lookup to tell a live entry from a stale one). A dead timer stays where it is
and is skipped when it surfaces. Dead ones are swept once they outnumber live
ones (plus a floor): the heap is rebuilt, and a lane filtered behind its head,
so both stay within about twice their live timers and each operation is
amortised O(1) for a lane, O(log n) for the heap.
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


class _Tally:
    """How many timers of one lane are dead (a timer points here, never at its lane:
    lane -> timer -> lane would be a reference cycle)."""

    __slots__ = ("dead",)

    def __init__(self) -> None:
        self.dead = 0


class _Timer:
    """One timer: where it is due, its tie-break, what fires, and its lane's tally if any."""

    __slots__ = ("dead", "deadline", "key", "kind", "seq", "tally")

    def __init__(
        self, deadline: float, seq: int, kind: TimerKind, key: Hashable, tally: _Tally | None
    ) -> None:
        self.deadline = deadline
        self.seq = seq
        self.kind = kind
        self.key = key
        self.tally = tally
        self.dead = False


class _Lane:
    """Timers of one stream, deadlines non-decreasing; its head is armed in the heap."""

    __slots__ = ("q", "tally")

    def __init__(self) -> None:
        self.q: deque[_Timer] = deque()
        self.tally = _Tally()  # timers of q that are no longer live


class Timers:
    __slots__ = ("_heap", "_lanes", "_live", "_n", "_seq")

    def __init__(self) -> None:
        # (deadline, seq, timer, its lane): a lane's head, or a timer of no lane (None)
        self._heap: list[tuple[float, int, _Timer, _Lane | None]] = []
        # kind -> key -> the live timer
        self._live: tuple[dict[Hashable, _Timer], ...] = tuple({} for _ in TimerKind)
        self._lanes: dict[Hashable, _Lane] = {}
        self._seq = 0
        self._n = 0  # timers pushed on the heap since the last compaction check

    def set(self, deadline: float, kind: TimerKind, key: Hashable, lane: Hashable = None) -> None:
        """(Re)set the timer ``(kind, key)``; ``lane`` names a stream of growing deadlines."""
        self._seq = seq = self._seq + 1
        live = self._live[kind]
        old = live.get(key)
        if old is not None:
            old.dead = True
            if old.tally is not None:
                old.tally.dead += 1
        if lane is not None:
            ln = self._lanes.get(lane)
            if ln is None:
                ln = self._lanes[lane] = _Lane()
            q = ln.q
            if not q:
                live[key] = t = _Timer(deadline, seq, kind, key, ln.tally)
                q.append(t)
                _push(self._heap, (deadline, seq, t, ln))
                return
            if q[-1].deadline <= deadline:
                live[key] = t = _Timer(deadline, seq, kind, key, ln.tally)
                q.append(t)
                dead = ln.tally.dead
                if dead > _LANE_FLOOR and 2 * dead > len(q):
                    self._sweep(ln)
                return
        live[key] = t = _Timer(deadline, seq, kind, key, None)
        _push(self._heap, (deadline, seq, t, None))
        self._n += 1
        if self._n > 4 * _COMPACT_FLOOR:
            self._n = 0
            if len(self._heap) > 2 * (self._unlaned() + len(self._lanes)) + _COMPACT_FLOOR:
                self.compact()

    def restore(self, deadline: float, seq: int, kind: TimerKind, key: Hashable) -> None:
        """Put back a live timer read from a checkpoint (no lane: the same firing order);
        ``compact`` arms the restored set."""
        self._live[kind][key] = _Timer(deadline, seq, kind, key, None)

    def cancel(self, kind: TimerKind, key: Hashable) -> None:
        old = self._live[kind].pop(key, None)
        if old is not None:
            old.dead = True
            if old.tally is not None:
                old.tally.dead += 1

    def deadline(self, kind: TimerKind, key: Hashable) -> float | None:
        live = self._live[kind].get(key)
        return None if live is None else live.deadline

    def live(self) -> list[tuple[TimerKind, list[tuple[Hashable, int, float]]]]:
        """Every live timer, kind by kind: (kind, [(key, seq, deadline), ...] in set order)."""
        return [
            (kind, [(key, t.seq, t.deadline) for key, t in live.items()])
            for kind, live in zip(TimerKind, self._live, strict=True)
        ]

    def _sweep(self, ln: _Lane) -> None:
        """Drop a lane's dead timers behind its head (the head stays: it is armed)."""
        q = ln.q
        head = q.popleft()
        kept: deque[_Timer] = deque()
        kept.append(head)
        for t in q:
            if not t.dead:
                kept.append(t)
        ln.q = kept
        ln.tally.dead = 1 if head.dead else 0

    def _unlaned(self) -> int:
        n = 0
        for live in self._live:
            for t in live.values():
                if t.tally is None:
                    n += 1
        return n

    def compact(self) -> None:
        """Rebuild the heap from the live timers of no lane and every lane's head."""
        heap: list[tuple[float, int, _Timer, _Lane | None]] = []
        for live in self._live:
            for t in live.values():
                if t.tally is None:
                    heap.append((t.deadline, t.seq, t, None))
        for ln in self._lanes.values():
            if ln.q:
                t = ln.q[0]
                heap.append((t.deadline, t.seq, t, ln))
        heapq.heapify(heap)
        self._heap = heap

    def _take(self) -> _Timer:
        """Pop the heap's top; if it was a lane's head, arm the lane's next timer."""
        _, _, t, ln = _pop(self._heap)
        if ln is not None:
            q = ln.q
            q.popleft()
            if t.dead:
                ln.tally.dead -= 1
            if q:
                n = q[0]
                _push(self._heap, (n.deadline, n.seq, n, ln))
        return t

    def _prune(self) -> None:
        heap = self._heap
        while heap and heap[0][2].dead:
            self._take()

    def peek(self) -> float:
        """The next live deadline, or infinity."""
        heap = self._heap
        if heap:
            top = heap[0]
            if not top[2].dead:
                return top[0]
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
        t = self._take()
        t.dead = True  # fired: no longer live
        del self._live[t.kind][t.key]
        return t.deadline, t.kind, t.key

    def __len__(self) -> int:
        return sum(len(live) for live in self._live)

    @property
    def heap_size(self) -> int:
        """Timers held, live and dead, in the heap and the lanes (bounded by about twice
        the live ones plus the floors)."""
        return (
            len(self._heap)
            + sum(len(ln.q) for ln in self._lanes.values())
            - sum(1 for ln in self._lanes.values() if ln.q)
        )
