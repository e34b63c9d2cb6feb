"""Linje's simulator and capacity planning: the real routing core in virtual time.

    loaded = load_scenario("config/scenarios/pilot-2019-2021.toml")
    result = simulate(loaded, seed=1)          # records, as the live service logs them
    stats = run_stats(result, ("channel",))    # the same fold as GET /v1/stats

``linje simulate`` and ``linje plan`` (``sim.cli``) are the planner's
commands; ``sim.erlang`` has Erlang B, C and A.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.driver import Simulation, Streams
    from sim.erlang import ErlangA, ErlangC, erlang_b, erlang_c
    from sim.run import RunResult, run_replications, simulate
    from sim.scenario import LoadedScenario, Scenario, load_scenario
    from sim.summary import run_stats

# Loaded on first use: ``linje --help`` imports ``sim.cli`` and should stay fast.
_EXPORTS = {
    "ErlangA": "sim.erlang",
    "ErlangC": "sim.erlang",
    "LoadedScenario": "sim.scenario",
    "RunResult": "sim.run",
    "Scenario": "sim.scenario",
    "Simulation": "sim.driver",
    "Streams": "sim.driver",
    "erlang_b": "sim.erlang",
    "erlang_c": "sim.erlang",
    "load_scenario": "sim.scenario",
    "run_replications": "sim.run",
    "run_stats": "sim.summary",
    "simulate": "sim.run",
}

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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sim' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
