"""Stationary M/M/n(+M) lines built in code, for validation against Erlang C / A.

One team, one phone queue owned by it around the clock, ``servers`` agents
logged in for the whole run, Poisson arrivals, exponential handle times and
patience, instant pick-up, no short-abandon class, no auto-pause, no wrap-up:
the assumptions of the Erlang formulas, with the real routing core in between.
"""

from __future__ import annotations

import math
import random

from router.config import HelplineConfig
from sim.arrivals import Arrival
from sim.distributions import Exponential, Never, Patience
from sim.driver import Simulation, Streams
from sim.rota import Pool, Timeline
from sim.scenario import Callers

__all__ = ["EPOCH", "mmn_config", "mmn_simulation", "poisson_arrivals"]

# Monday 4 January 2021, 00:00 UTC: any instant works, the line never changes.
EPOCH = 1609718400.0


def mmn_config(strategy: str = "longest_idle") -> HelplineConfig:
    """A helpline with one team owning one phone queue 24/7 and nothing else going on."""
    return HelplineConfig.model_validate(
        {
            "id": "stationary",
            "timezone": "UTC",
            "holidays_country": None,
            "short_abandon_s": 0,
            # Nothing may end a contact but the caller or the agent.
            "reconcile_wait_s": 1e12,
            "reconcile_service_s": 1e12,
            "channels": {"phone": {"capacity": 1, "ring_timeout_s": 20, "wrap_up_s": 0}},
            "agents": {"max_no_answer": 0},
            "teams": {"team": {}},
            "queues": {
                "phone": {
                    "channel": "phone",
                    "strategy": strategy,
                    "default": "team",
                    "long_wait_s": 1e12,
                }
            },
        }
    )


def poisson_arrivals(
    rng: random.Random, rate: float, customers: int, start: float = EPOCH
) -> list[Arrival]:
    """``customers`` arrivals of a Poisson process of ``rate`` per second from ``start``."""
    out: list[Arrival] = []
    t = start
    ex = rng.expovariate
    for _ in range(customers):
        t += ex(rate)
        out.append(Arrival(at=t, channel="phone", queue="phone"))
    return out


def mmn_simulation(
    *,
    servers: int,
    arrival_rate: float,
    mean_handle_s: float,
    mean_patience_s: float,
    customers: int,
    seed: int | str,
    strategy: str = "longest_idle",
) -> Simulation:
    """An M/M/n+M run (M/M/n when ``mean_patience_s`` is infinite), ready to ``run()``."""
    streams = Streams(seed)
    arrivals = poisson_arrivals(streams.arrivals, arrival_rate, customers)
    rest = (
        Never(dist="never")
        if math.isinf(mean_patience_s)
        else Exponential(dist="exponential", mean=mean_patience_s)
    )
    callers = Callers(
        patience=Patience(rest=rest),
        handle=Exponential(dist="exponential", mean=mean_handle_s),
    )
    timeline = Timeline(
        pools=(Pool(team="team", channels=("phone",)),), changes=((EPOCH, 0, servers),)
    )
    return Simulation(
        config=mmn_config(strategy),
        arrivals=arrivals,
        callers={"phone": callers},
        teams={},
        timeline=timeline,
        streams=streams,
        start=EPOCH,
        end=arrivals[-1].at if arrivals else EPOCH,
    )
