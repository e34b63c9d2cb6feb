"""Linje's simulator and capacity planning: the real routing core in virtual time.

    loaded = load_scenario("config/scenarios/pilot-2019-2021.toml")
    result = simulate(loaded, seed=1)          # records, as the live service logs them
    stats = run_stats(result, ("channel",))    # the same fold as GET /v1/stats

``linje simulate`` and ``linje plan`` (``sim.cli``) are the planner's
commands; ``sim.erlang`` has Erlang B, C and A.
"""

from sim.driver import Simulation, Streams
from sim.erlang import ErlangA, ErlangC, erlang_b, erlang_c
from sim.run import RunResult, run_replications, simulate
from sim.scenario import LoadedScenario, Scenario, load_scenario
from sim.summary import run_stats

__all__ = [
    "ErlangA",
    "ErlangC",
    "LoadedScenario",
    "RunResult",
    "Scenario",
    "Simulation",
    "Streams",
    "erlang_b",
    "erlang_c",
    "load_scenario",
    "run_replications",
    "run_stats",
    "simulate",
]
