"""Shared timing for the benchmarks: CPU time, A/B interleaved rounds, medians.

The machine the benchmarks run on is shared, so every figure is CPU time of
this process (``time.process_time``), never wall time, and the sides being
compared run interleaved (A B A B ...) so that drift hits both equally; each
side's figure is the median over the rounds.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any


def cpu(fn: Callable[[], Any]) -> tuple[float, Any]:
    """CPU seconds of one call of ``fn`` (after a full collection), and its result.

    The garbage collector stays on while ``fn`` runs: what it costs is part of the work.
    """
    gc.collect()
    t0 = time.process_time()
    out = fn()
    return time.process_time() - t0, out


def interleave(
    sides: Sequence[tuple[str, Callable[[], Any]]], rounds: int
) -> dict[str, list[float]]:
    """Run each side once per round, in order (A B A B ...); CPU seconds per side and round."""
    times: dict[str, list[float]] = {name: [] for name, _ in sides}
    for _ in range(rounds):
        for name, fn in sides:
            times[name].append(cpu(fn)[0])
    return times


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def verdict(ok: bool) -> str:
    return "meets" if ok else "does NOT meet"


def core_build() -> str:
    """Which routing core this process runs (the native build or the pure-Python one)."""
    from adapters.native import status

    if status() == "native":
        return "routing core: native (mypyc, build/native; LINJE_NATIVE=0 for the pure one)"
    return "routing core: pure Python (LINJE_NATIVE=0, or the native build is missing or stale)"
