"""``linje simulate`` and ``linje plan``: the planner's commands.

Both load a scenario file (``config/scenarios/*.toml``), drive the real
routing core in virtual time and write their results to a directory. Bad
input is one line on stderr and exit status 2 (``adapters.cli``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from adapters.cli import command
from router.errors import BadInput

__all__: list[str] = []


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {value!r}") from None


def _positive(value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not x > 0 or x == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number (got {value})")
    return x


def _count(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {n})")
    return n


@contextmanager
def progress_bar(
    total: float, label: str, mode: str = "auto"
) -> Iterator[Callable[[float], None] | None]:
    """A rich progress bar on stderr (``auto``: only when stderr is a terminal).

    Yields a function taking the amount done so far, or None when no bar is shown.
    """
    if mode == "never" or (mode == "auto" and not sys.stderr.isatty()) or total <= 0:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
        console=Console(stderr=True, force_terminal=mode == "always"),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda done: bar.update(task, completed=done)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", help="scenario file, e.g. config/scenarios/pilot-2019-2021.toml")
    p.add_argument("--seed", type=int, help="random seed (default: the scenario's)")
    p.add_argument(
        "--volume-multiplier",
        type=_positive,
        default=1.0,
        metavar="X",
        help="multiply every volume (2 = twice the contacts)",
    )
    p.add_argument(
        "--chat-hours",
        metavar="HH:MM-HH:MM",
        help="open the chat these hours every day, owned like the phone",
    )
    p.add_argument("--out", type=Path, help="output directory (default: sim-out/<scenario>)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument(
        "--jobs",
        type=_count,
        default=1,
        metavar="N",
        help="worker processes (the output is the same for any N)",
    )
    p.add_argument(
        "--progress",
        choices=("auto", "always", "never"),
        default="auto",
        help="progress bar on stderr (auto: when it is a terminal)",
    )


def _load(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from sim.scenario import RoutingOverrides, load_scenario, parse_hours

    overrides = None
    if args.chat_hours:
        try:
            parse_hours(args.chat_hours)
        except ValueError as exc:
            raise BadInput(f"--chat-hours: {exc}", field="chat_hours") from None
        overrides = RoutingOverrides(chat_hours=args.chat_hours)
    return load_scenario(args.scenario, overrides=overrides)


@command
def _simulate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "simulate",
        help="run a scenario through the routing core in virtual time",
        description="Simulate a scenario with the real routing core and report the same "
        "statistics as the live service, heat maps and plots.",
    )
    _add_common(p)
    p.add_argument(
        "--replications",
        type=_count,
        default=1,
        metavar="N",
        help="independent runs; figures get 95 %% confidence intervals",
    )
    p.add_argument("--from", dest="first", type=_date, help="first day (default: the scenario's)")
    p.add_argument("--to", dest="last", type=_date, help="last day, inclusive")

    def run(args: argparse.Namespace) -> int:
        from sim.report import build_report, write_report
        from sim.run import run_replications

        loaded = _load(args)
        s = loaded.scenario
        first, last = args.first or s.start, args.last or s.end
        if last < first:
            raise BadInput(f"--to {last} is before --from {first}", field="to")
        out = args.out or Path("sim-out") / s.name
        days = (last - first).days + 1
        total = float(days * args.replications)
        from router.coverage import CoveragePlan

        t0 = CoveragePlan(loaded.config).instant(first, 0)
        with progress_bar(total, f"simulating {s.name}", args.progress) as bar:

            def tick(rep: int, t: float) -> None:
                if bar is not None:
                    bar(rep * days + min(days, (t - t0) / 86400.0))

            results = run_replications(
                loaded,
                seed=args.seed,
                replications=args.replications,
                first=first,
                last=last,
                volume_multiplier=args.volume_multiplier,
                progress=tick if bar is not None else None,
                jobs=args.jobs,
            )
        report = build_report(s, results, volume_multiplier=args.volume_multiplier)
        files = write_report(report, out, plots=not args.no_plots)
        print(_headline(report))
        for f in files:
            print(f"wrote {f}")
        return 0

    p.set_defaults(run=run)


def _headline(report) -> str:  # type: ignore[no-untyped-def]
    from sim.report import _pct

    lines = [
        f"{report.scenario.name}: {report.first} to {report.last}, seed {report.seed}, "
        f"{report.replications} replication(s)"
    ]
    for group, figs in report.summary.items():
        contacts = figs.get("contacts")
        n = "-" if contacts is None or contacts.mean is None else f"{contacts.mean:.0f}"
        lines.append(
            f"  {group:<6} contacts {n:>7}  answered {_pct(figs.get('answer_rate')):>16}"
            f"  excluding short abandons {_pct(figs.get('answer_rate_excl_short')):>16}"
        )
    return "\n".join(lines)


@command
def _plan(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "plan",
        help="find the fewest agents per team, channel and hour that meet a target",
        description="Start from Erlang A (with load carried over between hours), then "
        "simulate a ladder of staffings with common random numbers and take, per day type, "
        "hour, team and channel, the fewest agents whose 95 %% lower bound meets the target.",
    )
    _add_common(p)
    p.add_argument(
        "--target",
        required=True,
        help='e.g. "answered>=0.95 excluding short_abandon" or "service_level@20s>=0.8"',
    )
    p.add_argument(
        "--month",
        help="plan for a regular week of this month, YYYY-MM (default: the scenario's last month)",
    )
    p.add_argument("--weeks", type=_count, default=26, help="simulated weeks per evaluation")
    p.add_argument(
        "--replications",
        type=_count,
        default=2,
        metavar="N",
        help="replications per candidate staffing to start with",
    )
    p.add_argument(
        "--max-replications",
        type=_count,
        default=8,
        metavar="N",
        help="replications double up to this while a cell is undecided",
    )
    p.add_argument(
        "--day-types",
        default="weekday=mon-fri,saturday=sat,sunday_holiday=sun",
        metavar="NAME=DAYS,...",
        help="day types planned apart (default: weekday=mon-fri,saturday=sat,"
        "sunday_holiday=sun; public holidays follow the one with Sunday)",
    )
    p.add_argument(
        "--period",
        choices=("day", "week"),
        default="day",
        help="hours with under one contact a week are judged over this period",
    )

    def run(args: argparse.Namespace) -> int:
        from sim.plan import parse_day_types, parse_target, plan_staffing
        from sim.plan_output import render_plan, write_plan

        target = parse_target(args.target)
        day_types = parse_day_types(args.day_types)
        loaded = _load(args)
        month = args.month or loaded.scenario.end.strftime("%Y-%m")
        with progress_bar(1.0, f"planning {loaded.scenario.name}", args.progress) as bar:
            result = plan_staffing(
                loaded,
                target,
                month=month,
                weeks=args.weeks,
                replications=args.replications,
                max_replications=args.max_replications,
                seed=args.seed,
                volume_multiplier=args.volume_multiplier,
                day_types=day_types,
                period=args.period,
                jobs=args.jobs,
                progress=bar,
            )
        out = args.out or Path("sim-out") / f"{loaded.scenario.name}-plan"
        files = write_plan(result, out, plots=not args.no_plots)
        print(render_plan(result))
        for f in files:
            print(f"wrote {f}")
        return 0

    p.set_defaults(run=run)
