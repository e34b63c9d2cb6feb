"""A recorded log in which a longer ring changes who is offered what (the what-if tests).

Four days of VO-linjen's phone line (config/vo-linjen.toml), Monday 25 to
Thursday 28 October 2021, made by the simulator and written through the
embedded store exactly as the live service logs: two KSS agents 08:30-15:30,
one OK agent 15:30-23:00, nobody at night. Agents let about a third of the
rings ring out (away from the phone), so with the configured 20 s ring many
calls are answered on a second ring; replayed with a 40 s ring those answers
fall where the replay is still on its first ring or in the 5 s retry pause,
and are refused as not offered.

The behaviour is deliberately not of the families ``sim.whatif`` fits
(lognormal patience and a uniform reach time here; exponential patience and
resampled reach there), so a what-if that reproduces the recorded figures
does so by estimation, not by construction.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

from adapters.store import EmbeddedStore
from router import HelplineConfig
from router.coverage import CoveragePlan
from sim.arrivals import Arrival
from sim.distributions import Lognormal, Patience, Uniform
from sim.driver import Simulation, Streams
from sim.rota import Pool, Timeline
from sim.scenario import Callers, TeamBehaviour

FIRST = dt.date(2021, 10, 25)
DAYS = 4
MEAN_GAP_S = 900.0  # one call every 15 minutes on average, day and night


def build_whatif_log(data_dir: Path, config: HelplineConfig) -> None:
    """Write the simulated four days into ``data_dir`` through the embedded store."""
    plan = CoveragePlan(config)
    start = plan.instant(FIRST, 0)
    end = plan.instant(FIRST + dt.timedelta(days=DAYS), 0)
    rng = random.Random("whatif-log")
    arrivals: list[Arrival] = []
    t = start
    while (t := t + rng.expovariate(1.0 / MEAN_GAP_S)) < end:
        arrivals.append(Arrival(at=t, channel="phone", queue="phone"))
    changes: list[tuple[float, int, int]] = []
    for n in range(DAYS):
        day = FIRST + dt.timedelta(days=n)
        changes += [
            (plan.instant(day, 8 * 60 + 30), 0, 2),
            (plan.instant(day, 15 * 60 + 30), 0, 0),
            (plan.instant(day, 15 * 60 + 30), 1, 1),
            (plan.instant(day, 23 * 60), 1, 0),
        ]
    timeline = Timeline(
        pools=(Pool(team="kss", channels=("phone",)), Pool(team="ok", channels=("phone",))),
        changes=tuple(sorted(changes)),
    )
    agents = TeamBehaviour(
        reach={"phone": Uniform(dist="uniform", low=2.0, high=19.0)}, no_pickup_share=0.35
    )
    callers = Callers(
        patience=Patience(short_share=0.15, rest=Lognormal(dist="lognormal", mean=100, sd=80)),
        handle=Lognormal(dist="lognormal", mean=600, sd=400),
    )
    sim = Simulation(
        config=config,
        arrivals=arrivals,
        callers={"phone": callers},
        teams={"kss": agents, "ok": agents},
        timeline=timeline,
        streams=Streams("whatif-log"),
        start=start,
        end=end,
        trace=[],
    )
    sim.run()
    assert sim.trace is not None
    with EmbeddedStore.open(data_dir, config, fsync=False) as store:
        for event in sim.trace:
            store.tick(event.at)  # the live service's timer loop
            (result,) = store.ingest([event])
            assert result.status == "accepted", (event, result.error)
        store.tick(end)
