"""``linje plan --jobs 2`` against ``--jobs 1`` on the pilot, in the same run.

Each side is the real command (``python -m adapters.cli plan ...`` in a fresh
process) on ``config/scenarios/pilot-2019-2021.toml`` with the target
``answered>=0.95 excluding short_abandon``, writing to its own directory. The
sides alternate (1 2 1 2 ...) for ``--rounds`` rounds. The figure is the ratio
of the medians of **wall** time, jobs 1 over jobs 2: the point of ``--jobs`` is
to finish sooner, so CPU time of one process would not show it (the work moves
to the worker processes). The CPU time of the whole process tree (the children's
user + system time) is printed beside it: it should stay about the same. Every
round's ``plan.json`` and ``plan.md`` must be the same bytes on both sides.

On a machine with two free cores expect close to 2x. On a shared machine a
busy neighbour lowers the wall-time ratio, so each round also measures the
machine's own ceiling: the same pure-Python CPU work (``burn``) done twice in
this process and once in each of two forked processes, wall time, alternated
the same way. The plan's speed-up is printed beside that ceiling; the share
of it reached (speed-up / ceiling) is what ``--jobs`` itself costs.

Run: ``.venv/bin/python benchmarks/bench_plan.py [--weeks W] [--rounds R]``
(defaults: 13 weeks, up to 4 replications per candidate, 2 rounds).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._ab import median, verdict

ROOT = Path(__file__).resolve().parent.parent
PILOT = ROOT / "config" / "scenarios" / "pilot-2019-2021.toml"
TARGET = 1.6  # at least this speed-up with two jobs on two cores


def run_plan(out: Path, jobs: int, weeks: int, max_reps: int) -> tuple[float, float, bytes]:
    """(wall seconds, CPU seconds of the process tree, plan.json + plan.md) of one run."""
    args = [
        sys.executable, "-m", "adapters.cli", "plan", str(PILOT),
        "--target", "answered>=0.95 excluding short_abandon",
        "--weeks", str(weeks), "--max-replications", str(max_reps),
        "--jobs", str(jobs), "--no-plots", "--progress", "never", "--out", str(out),
    ]  # fmt: skip
    before = os.times()
    t0 = time.perf_counter()
    subprocess.run(args, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return wall, cpu, (out / "plan.json").read_bytes() + (out / "plan.md").read_bytes()


def burn(n: int) -> int:
    """Pure-Python CPU work with no I/O and nothing shared."""
    s = 0
    for i in range(n):
        s += i
    return s


def ceiling(n: int = 10_000_000) -> float:
    """Wall-time speed-up of two processes over one on two equal pieces of CPU work."""
    t0 = time.perf_counter()
    burn(n)
    burn(n)
    one = time.perf_counter() - t0
    with mp.get_context("fork").Pool(2) as pool:
        t0 = time.perf_counter()
        pool.map(burn, [n, n], chunksize=1)
        two = time.perf_counter() - t0
    return one / two


def measure(weeks: int, max_reps: int, rounds: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {
        "wall1": [], "wall2": [], "cpu1": [], "cpu2": [], "ceiling": []
    }  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            times["ceiling"].append(ceiling())
            outputs = []
            for jobs in (1, 2):
                wall, cpu, produced = run_plan(Path(tmp) / f"{r}-{jobs}", jobs, weeks, max_reps)
                times[f"wall{jobs}"].append(wall)
                times[f"cpu{jobs}"].append(cpu)
                outputs.append(produced)
            if outputs[0] != outputs[1]:
                raise SystemExit("--jobs 2 wrote other bytes than --jobs 1")
    return times


def report(times: dict[str, list[float]]) -> float:
    w1, w2 = median(times["wall1"]), median(times["wall2"])
    c1, c2 = median(times["cpu1"]), median(times["cpu2"])
    ratio = w1 / w2
    top = median(times["ceiling"])
    print("| side | wall s (median) | CPU s of the tree (median) |")
    print("|---|---|---|")
    print(f"| --jobs 1 | {w1:.1f} | {c1:.1f} |")
    print(f"| --jobs 2 | {w2:.1f} | {c2:.1f} |")
    print(
        f"speed-up (wall, jobs 1 / jobs 2): {ratio:.2f}x; target at least {TARGET}x: "
        f"{verdict(ratio >= TARGET)}; the same bytes on both sides"
    )
    print(
        f"this machine's ceiling now (pure CPU work, 2 processes vs 1): {top:.2f}x; "
        f"the plan reaches {ratio / top:.0%} of it"
    )
    return ratio


def test_plan_two_jobs_against_one(benchmark) -> None:  # type: ignore[no-untyped-def]
    times = benchmark.pedantic(lambda: measure(4, 2, 2), rounds=1, iterations=1)
    benchmark.extra_info["speedup"] = report(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weeks", type=int, default=13)
    p.add_argument("--max-replications", type=int, default=4)
    p.add_argument("--rounds", type=int, default=2)
    a = p.parse_args()
    print(
        f"pilot plan, {a.weeks} weeks, up to {a.max_replications} replications, {a.rounds} rounds"
    )
    report(measure(a.weeks, a.max_replications, a.rounds))


if __name__ == "__main__":
    main()
