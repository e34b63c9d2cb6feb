"""One simulation run of a scenario: arrivals, rota and behaviour wired to the driver."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass

from router import Record
from router.config import HelplineConfig
from router.coverage import CoveragePlan
from router.errors import BadInput, ConfigError
from sim.arrivals import Arrival, profile_arrivals, read_replay
from sim.driver import Absent, RunStats, Simulation, Streams
from sim.rota import rota_timeline
from sim.scenario import LoadedScenario

__all__ = ["RunResult", "build", "replication_seed", "run_replications", "simulate"]

DAY = dt.timedelta(days=1)


def replication_seed(seed: int, replication: int) -> str:
    """The stream seed of one replication: independent streams per replication."""
    return f"{seed}.{replication}"


@dataclass(frozen=True, slots=True)
class RunResult:
    records: list[Record]
    config: HelplineConfig
    first: dt.date
    last: dt.date
    start: float  # POSIX time of local midnight at the start of ``first``
    end: float  # ... and at the end of ``last``
    seed: int
    replication: int
    stats: RunStats


def build(
    loaded: LoadedScenario,
    *,
    seed: int,
    replication: int = 0,
    first: dt.date | None = None,
    last: dt.date | None = None,
    volume_multiplier: float = 1.0,
    progress: Callable[[float], None] | None = None,
) -> tuple[Simulation, dt.date, dt.date]:
    """A ready-to-run ``Simulation`` of ``loaded`` on local dates ``first``..``last``."""
    s, cfg = loaded.scenario, loaded.config
    first = first or s.start
    last = last or s.end
    if last < first:
        raise ConfigError("the simulated period ends before it starts", key="end")
    plan = CoveragePlan(cfg)
    streams = Streams(replication_seed(seed, replication))
    file = str(loaded.path) if loaded.path else "(scenario)"
    arrivals: list[Arrival]
    if s.arrivals.replay is not None:
        path = loaded.base_dir / s.arrivals.replay.file
        arrivals = read_replay(path, s.arrivals.replay.format, plan, cfg, first=first, last=last)
        if volume_multiplier != 1.0:
            raise ConfigError(
                "a replayed log has exact arrival times; it cannot be multiplied",
                file=file,
                key="arrivals.replay",
            )
    else:
        arrivals = profile_arrivals(
            s.arrivals,
            plan,
            cfg,
            streams.arrivals,
            first=first,
            last=last,
            volume_multiplier=volume_multiplier,
            file=file,
        )
    for ch in sorted({a.channel for a in arrivals}):
        if ch not in s.callers:
            raise ConfigError(
                f"contacts arrive on {ch} but callers.{ch} is not described",
                file=file,
                key="callers",
            )
    timeline = rota_timeline(s.rota, s.absences, plan, first=first, last=last)
    start, end = plan.instant(first, 0), plan.instant(last, 1440)
    absences = [
        Absent(team=a.team, start=plan.instant(a.start, 0), end=plan.instant(a.end + DAY, 0))
        for a in s.absences
        if plan.instant(a.end + DAY, 0) > start and plan.instant(a.start, 0) < end
    ]
    sim = Simulation(
        config=cfg,
        arrivals=arrivals,
        callers={str(ch): c for ch, c in s.callers.items()},
        teams=s.teams,
        timeline=timeline,
        streams=streams,
        start=start,
        end=end,
        absences=absences,
        progress=progress,
    )
    return sim, first, last


def simulate(
    loaded: LoadedScenario,
    *,
    seed: int | None = None,
    replication: int = 0,
    first: dt.date | None = None,
    last: dt.date | None = None,
    volume_multiplier: float = 1.0,
    progress: Callable[[float], None] | None = None,
) -> RunResult:
    """Run one replication of a scenario; the records are what the live service would log."""
    seed = loaded.scenario.seed if seed is None else seed
    sim, first, last = build(
        loaded,
        seed=seed,
        replication=replication,
        first=first,
        last=last,
        volume_multiplier=volume_multiplier,
        progress=progress,
    )
    records = sim.run()
    return RunResult(
        records=records,
        config=loaded.config,
        first=first,
        last=last,
        start=sim.start,
        end=sim.end,
        seed=seed,
        replication=replication,
        stats=sim.stats,
    )


def run_replications(
    loaded: LoadedScenario,
    *,
    seed: int | None = None,
    replications: int = 1,
    first: dt.date | None = None,
    last: dt.date | None = None,
    volume_multiplier: float = 1.0,
    progress: Callable[[int, float], None] | None = None,
    jobs: int = 1,
) -> list[RunResult]:
    """Independent replications (stream seeds ``seed.0``, ``seed.1``...) of one scenario.

    ``progress(replication, simulated_time)`` is called about once a simulated day
    (with ``jobs`` > 1, once per replication as it ends, with time ``math.inf``).
    With ``jobs`` > 1 the replications run in that many processes; the results are
    the same.
    """
    if replications < 1:
        raise BadInput("replications must be at least 1", field="replications")
    if jobs > 1 and replications > 1:
        from sim.parallel import runner

        setting = (loaded, seed, first, last, volume_multiplier)
        with runner(_one, setting, min(jobs, replications)) as run:
            return run.run(
                list(range(replications)),
                None if progress is None else (lambda i: progress(i, math.inf)),
            )
    out: list[RunResult] = []
    for rep in range(replications):
        tick = None if progress is None else (lambda t, rep=rep: progress(rep, t))
        out.append(
            simulate(
                loaded,
                seed=seed,
                replication=rep,
                first=first,
                last=last,
                volume_multiplier=volume_multiplier,
                progress=tick,
            )
        )
    return out


def _one(
    setting: tuple[LoadedScenario, int | None, dt.date | None, dt.date | None, float], rep: int
) -> RunResult:
    loaded, seed, first, last, vm = setting
    return simulate(
        loaded, seed=seed, replication=rep, first=first, last=last, volume_multiplier=vm
    )
