"""The core, the simulator and recovery make no reference cycles.

``router.step.collector_paused`` runs recovery's replay and every simulation
with Python's cycle collector paused; that is only right while nothing they do
leaves cyclic garbage behind (reference counting frees everything else at
once). Each test runs a realistic batch with the collector off and then counts
what a full collection finds unreachable: it must be nothing.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from adapters.store import EmbeddedStore
from benchmarks.workload import realistic_events
from router import HelplineConfig, Router
from router.step import collector_paused
from sim.stationary import mmn_simulation


def cyclic_garbage(run: Callable[[], Any]) -> int:
    """Objects a full collection finds unreachable after ``run()`` with the collector off."""
    gc.collect()
    gc.disable()
    try:
        run()
        return gc.collect()
    finally:
        gc.enable()


def test_routing_a_realistic_mix_leaves_no_cyclic_garbage(
    vo_config: HelplineConfig,
) -> None:
    events = realistic_events(vo_config, 3000)

    def run() -> None:
        router = Router(vo_config)
        for ev in events:
            router.apply(ev)
        router.advance(events[-1].at + 86400)

    assert cyclic_garbage(run) == 0


def test_a_simulation_leaves_no_cyclic_garbage() -> None:
    sim = mmn_simulation(
        servers=3,
        arrival_rate=2.5 / 180,
        mean_handle_s=180.0,
        mean_patience_s=300.0,
        customers=2000,
        seed=7,
    )
    assert cyclic_garbage(sim.run) == 0


def test_recovery_leaves_no_cyclic_garbage(tmp_path: Path, vo_config: HelplineConfig) -> None:
    events = realistic_events(vo_config, 1500)
    store = EmbeddedStore.open(tmp_path, vo_config, fsync=False)
    store.ingest(events)
    store.close()

    def run() -> None:
        EmbeddedStore.open(tmp_path, vo_config, fsync=False, snapshot_every=10**9).close()

    assert cyclic_garbage(run) == 0


def test_the_collector_is_paused_only_inside_and_restored_after() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # it was off before: it stays off
    finally:
        gc.enable()


class _Node:
    def __init__(self) -> None:
        self.other: Any = None


def test_what_a_paused_batch_kept_is_old_at_once_and_its_cycles_are_still_collected() -> None:
    # As in a process that froze nothing (a store opened earlier in this test run
    # may have frozen its heap: then collector_paused leaves the generations alone).
    gc.unfreeze()
    gc.collect()
    with collector_paused():
        kept = [[i] for i in range(50_000)]  # what a batch keeps (records, contacts)
        a, b = _Node(), _Node()
        a.other, b.other = b, a  # a cycle, dropped below
    # Nothing the batch kept is young: the next young collection does not walk it (with
    # the batch counted young, the first one after the pause would walk all of it).
    # Asked of the collector's own lists, so a collection started meanwhile by another
    # thread's allocations changes nothing here.
    young = {id(o) for o in gc.get_objects(generation=0) + gc.get_objects(generation=1)}
    assert sum(id(item) in young for item in kept) == 0
    assert id(kept) not in young
    assert gc.get_freeze_count() == 0
    del a, b
    assert gc.collect() >= 2  # the full collection still finds the cycle
    assert len(kept) == 50_000


def test_objects_frozen_before_a_paused_batch_stay_frozen() -> None:
    gc.collect()
    gc.freeze()  # as linje serve freezes its start-up heap
    try:
        frozen = gc.get_freeze_count()
        assert frozen > 0
        with collector_paused():
            kept = [[i] for i in range(1_000)]
        assert gc.get_freeze_count() == frozen
        assert len(kept) == 1_000
    finally:
        gc.unfreeze()
