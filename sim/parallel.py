"""Independent simulation tasks in worker processes, merged in a fixed order.

``linje simulate --jobs N`` and ``linje plan --jobs N`` cut their work into
tasks whose random numbers depend only on the task (a replication's stream
seed), never on which process runs it or when; ``run_tasks`` returns the
results in the order of the tasks, so ``--jobs 2`` writes the same bytes as
``--jobs 1``. Workers are forked (where the platform can) after the shared
setting is built, so it is inherited rather than sent; results come back
through ``multiprocessing``'s own pipes.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

__all__ = ["Runner", "runner"]

_SETTING: Any = None
_WORK: Callable[[Any, Any], Any] | None = None


def _init(setting: Any, work: Callable[[Any, Any], Any]) -> None:
    global _SETTING, _WORK
    _SETTING, _WORK = setting, work


def _call(task: Any) -> Any:
    assert _WORK is not None
    return _WORK(_SETTING, task)


class Runner:
    """Runs ``work(setting, task)`` for each task, in this process or in a pool."""

    def __init__(self, work: Callable[[Any, Any], Any], setting: Any, pool: Any = None) -> None:
        self.work = work
        self.setting = setting
        self.pool = pool

    def run(self, tasks: Sequence[Any], done: Callable[[int], None] | None = None) -> list[Any]:
        """The results of ``tasks``, in their order; ``done(i)`` after each one arrives."""
        out: list[Any] = []
        if self.pool is None:
            results: Iterator[Any] = (self.work(self.setting, t) for t in tasks)
        else:
            results = self.pool.imap(_call, tasks, chunksize=1)
        for i, r in enumerate(results):
            out.append(r)
            if done is not None:
                done(i)
        return out


@contextmanager
def runner(work: Callable[[Any, Any], Any], setting: Any, jobs: int = 1) -> Iterator[Runner]:
    """A ``Runner`` with ``jobs`` worker processes (none for ``jobs=1``)."""
    if jobs <= 1:
        yield Runner(work, setting)
        return
    methods = mp.get_all_start_methods()
    ctx = mp.get_context("fork" if "fork" in methods else "spawn")
    with ctx.Pool(jobs, initializer=_init, initargs=(setting, work)) as pool:
        yield Runner(work, setting, pool)
