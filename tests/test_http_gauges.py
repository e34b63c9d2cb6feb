"""The /metrics gauges' figures read straight from the router equal those of the live state.

``live_gauges`` reads the waiting contacts and the agents only (a scrape must not
walk the whole retained state on the event loop); at every point of a workload
with agents logging in and out, contacts ringing, waiting and ending, its queue
lengths, longest waits and agent counts are exactly what the live snapshot
(``live_snapshot``, what ``/v1/state`` shows) says at the same clock reading.
"""

from __future__ import annotations

from typing import Any

from adapters.http.engine_api import LiveGauges, live_gauges, live_snapshot
from router import HelplineConfig, Router
from tests.helpers.store_workload import workload
from tests.http_helpers import ManualClock


def from_snapshot(snap: dict[str, Any]) -> LiveGauges:
    queues = []
    for q in snap["queues"]:
        oldest = min((w["arrived_at"] for w in q["waiting"]), default=None)
        wait = 0.0 if oldest is None else round(snap["server_time"] - oldest, 3)
        queues.append((q["queue"], q["channel"], len(q["waiting"]), wait))
    agents: dict[tuple[str, str, str], int] = {}
    for agent in snap["agents"]:
        for ch, chs in agent["channels"].items():
            key = (agent["team"], ch, chs["state"])
            agents[key] = agents.get(key, 0) + 1
    return LiveGauges(tuple(queues), agents)


def test_the_gauges_read_from_the_router_equal_the_live_snapshots(
    vo_config: HelplineConfig,
) -> None:
    router = Router(vo_config)
    clock = ManualClock("2021-11-15 10:00")
    assert live_gauges(router, clock.now()) == LiveGauges((), {})  # no clock yet
    seen_waiting = seen_states = 0
    for i, op in enumerate(workload(vo_config, seed=11, n_events=600)):
        if op.event is not None:
            router.apply(op.event)
        else:
            router.advance(op.at)
        if i % 7:
            continue
        clock.t = (router.now or clock.t) + 2.5004  # waits measured to a later clock
        expected = from_snapshot(live_snapshot(router, clock, vo_config))
        assert expected == live_gauges(router, clock.now())
        seen_waiting += sum(n for _, _, n, _ in expected.queues)
        seen_states += len({state for _, _, state in expected.agents})
    assert seen_waiting > 0 and seen_states > 2  # the workload exercised them
