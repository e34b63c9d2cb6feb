"""How fast can any simulator of this line be that feeds a routing core every event?

``bench_sim.py`` asks the project's simulator (the full routing core) to run
the M/M/c+M line at least half as fast as SimPy's textbook model. This script
measures, in one run and on the same line, the floors under that target,
interleaved (each model once per round, ``ROUNDS`` rounds), CPU time of this
process (``time.process_time``), medians:

- ``simpy``: the reference model of ``bench_sim.py``;
- ``bare loop``: the leanest event loop we can write in Python for this line
  with no routing core at all: one heap of (time, seq, kind, customer), a
  FIFO of waiting customers, a count of free agents. It is what a
  special-purpose M/M/c+M simulator costs;
- ``bare loop + events``: the same loop, also building the core's event
  object for each of the arrival, answer, end or abandon it would send
  (with the simulator's cheapest constructors, ``sim._events``) and calling a
  router that does nothing with it (returns no commands). It is the floor
  for any simulator that drives a routing core event by event, before the
  core decides anything;
- ``linje``: the project's simulator, the full routing core (fed with
  ``Router.apply`` / ``Router.advance``).

Every loop draws the same distributions; the P(abandon) column shows that each
models the same line (Erlang A gives the exact value).

Run: ``.venv/bin/python benchmarks/bench_sim_floor.py [--customers N] [--rounds R]``.
"""

from __future__ import annotations

import argparse
import heapq
import random
import sys
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._ab import cpu, median
from benchmarks.bench_sim import (
    AGENTS,
    AHT,
    CUSTOMERS,
    PATIENCE,
    RATE,
    REQUIRED_RATIO,
    linje_line,
    simpy_line,
)
from sim import _events as ev
from sim.erlang import ErlangA

ARRIVE, ABANDON, END = 0, 1, 2
ROUNDS = 3


def bare_line(customers: int, seed: int = 1, send: Callable[[Any], object] | None = None) -> float:
    """The M/M/c+M line as a bare event loop; returns P(abandon).

    With ``send``, every arrival, answer, end and abandon also builds the
    routing core's event and passes it to ``send``.
    """
    rng = random.Random(seed)
    ex = rng.expovariate
    heap: list[tuple[float, int, int, list[Any]]] = []
    push, pop = heapq.heappush, heapq.heappop
    waiting: deque[list[Any]] = deque()
    free = AGENTS
    seq = 0
    eid = 0
    abandoned = 0
    t = 0.0
    for _ in range(customers):
        t += ex(RATE)
        seq += 1
        push(heap, (t, seq, ARRIVE, [seq, 0]))  # [id, state: 0 waiting, 1 served, 2 gone]
    while heap:
        now, _, kind, cust = pop(heap)
        if kind == ARRIVE:
            if send is not None:
                eid += 1
                send(ev.arrived(f"s{eid}", now, f"c{cust[0]}", "phone", "phone"))
            if free:
                free -= 1
                cust[1] = 1
                if send is not None:
                    eid += 1
                    send(ev.answered(f"s{eid}", now, f"c{cust[0]}", "a1"))
                seq += 1
                push(heap, (now + ex(1.0 / AHT), seq, END, cust))
            else:
                waiting.append(cust)
                seq += 1
                push(heap, (now + ex(1.0 / PATIENCE), seq, ABANDON, cust))
        elif kind == ABANDON:
            if cust[1] == 0:
                cust[1] = 2
                abandoned += 1
                if send is not None:
                    eid += 1
                    send(ev.abandoned(f"s{eid}", now, f"c{cust[0]}"))
        else:
            if send is not None:
                eid += 1
                send(ev.ended(f"s{eid}", now, f"c{cust[0]}"))
            free += 1
            while waiting:
                nxt = waiting.popleft()
                if nxt[1] == 0:
                    nxt[1] = 1
                    free -= 1
                    if send is not None:
                        eid += 1
                        send(ev.answered(f"s{eid}", now, f"c{nxt[0]}", "a1"))
                    seq += 1
                    push(heap, (now + ex(1.0 / AHT), seq, END, nxt))
                    break
    return abandoned / customers


def _null_router(event: object) -> list[object]:
    return []


def measure(customers: int, rounds: int = ROUNDS) -> list[tuple[str, float, float]]:
    """(name, customers/s, P(abandon)) for each model, interleaved rounds, CPU time, medians."""
    models: list[tuple[str, Callable[[], float]]] = [
        ("simpy", lambda: simpy_line(customers)["abandoned"] / customers),
        ("bare loop", lambda: bare_line(customers)),
        ("bare loop + events", lambda: bare_line(customers, send=_null_router)),
        ("linje", lambda: linje_line(customers)["abandoned"] / customers),
    ]
    times: dict[str, list[float]] = {name: [] for name, _ in models}
    p_abandon: dict[str, float] = {}
    for _ in range(rounds):
        for name, run in models:
            seconds, p_abandon[name] = cpu(run)
            times[name].append(seconds)
    return [(name, customers / median(times[name]), p_abandon[name]) for name, _ in models]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=CUSTOMERS)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()
    rows = measure(args.customers, args.rounds)
    simpy_rate = rows[0][1]
    print(f"{'model':20} {'customers/s':>12} {'us/customer':>12} {'x SimPy':>8} {'P(abandon)':>11}")
    for name, rate, p in rows:
        print(f"{name:20} {rate:12,.0f} {1e6 / rate:12.2f} {rate / simpy_rate:8.2f} {p:11.4f}")
    print(
        f"{'Erlang A':20} {'':12} {'':12} {'':8} {ErlangA(RATE, AHT, PATIENCE, AGENTS).p_abandon():11.4f}"
    )
    budget = 1e6 / (REQUIRED_RATIO * simpy_rate)
    print(
        f"{REQUIRED_RATIO:g}x SimPy leaves {budget:.2f} us per customer for everything,"
        " routing core included"
    )
