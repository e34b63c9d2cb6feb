"""Subcommands that work on a data directory's event log: report, replay, import.

``linje report`` prints the statistics pages (or CSV/JSON, and PNG charts);
``linje replay`` runs the logged events through another configuration and
compares; ``linje import`` converts an Asterisk queue_log or a carrier's call
log (docs/IMPORT.md) into events in the log.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapters.cli import COMMANDS, command

__all__ = ["helpline_dir"]

if TYPE_CHECKING:
    from rich.console import Console

    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]

DEFAULT_CONFIG = "config/vo-linjen.toml"
DATA_HELP = (
    "the data directory, as `linje serve` prints it (one folder per helpline), "
    "or one helpline's folder"
)
HELPLINE_HELP = "the helpline's id in --data (default: the only one there)"


def _bad(detail: str) -> Exception:
    from router.errors import BadInput

    return BadInput(detail)


def helpline_dir(data: str, helpline: str | None = None, *, new: str | None = None) -> Path:
    """One helpline's folder in ``data``, laid out as ``linje serve`` does: ``DATA/<id>/log``.

    ``data`` may also be a helpline's folder itself (it holds ``log/``). Without
    ``helpline`` it is the only helpline there; ``new`` is the one to create when
    there is none yet (``linje import``). Several, or none, is a one-line error
    naming the choices.
    """
    root = Path(data)
    present = (
        sorted(p.name for p in root.iterdir() if (p / "log").is_dir()) if root.is_dir() else []
    )
    if helpline is not None:
        if helpline in present or helpline == new:
            return root / helpline
        here = f"helplines here: {', '.join(present)}" if present else "no helpline here yet"
        raise _bad(f"--data {data} has no helpline {helpline!r} ({here})")
    if (root / "log").is_dir():
        return root
    if len(present) == 1:
        return root / present[0]
    if present:
        raise _bad(
            f"--data {data} holds helplines {', '.join(present)}: choose one with --helpline"
        )
    if new is not None:
        return root / new
    raise _bad(
        f"{data}: no event log here (expected {root / 'HELPLINE' / 'log'}, "
        "as linje serve writes it)"
    )


def _console() -> Console:
    """A rich console on stdout whose broken pipe ends the command as any other write's does."""
    from rich.console import Console

    class PipeConsole(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError

    return PipeConsole()


# -------------------------------------------------------------------- report
@command
def _report(sub: SubParsers) -> None:
    p = sub.add_parser(
        "report",
        help=COMMANDS["report"][1],
        description="The helpline's figures from its event log, shaped like its statistics "
        "pages: contacts per month and channel, unanswered calls by cause, answer rate and "
        "service level, contacts by hour and weekday. CSV and JSON for spreadsheets and "
        "scripts, PNG charts with --plots.",
    )
    p.add_argument("--data", required=True, metavar="DIR", help=DATA_HELP)
    p.add_argument("--helpline", metavar="ID", help=HELPLINE_HELP)
    p.add_argument(
        "--config",
        default=DEFAULT_CONFIG,
        metavar="FILE",
        help="the helpline's configuration: time zone, thresholds (default: %(default)s)",
    )
    p.add_argument("--from", dest="start", metavar="DATE", help="first local date, YYYY-MM-DD")
    p.add_argument("--to", dest="end", metavar="DATE", help="last local date (included)")
    p.add_argument("--month", metavar="YYYY-MM", help="one calendar month")
    p.add_argument(
        "--format",
        choices=("table", "csv", "json"),
        default="table",
        help="output format (default: %(default)s)",
    )
    p.add_argument(
        "--group-by",
        default="month,channel",
        metavar="KEYS",
        help="csv/json groups: any of month, day, hour, weekday, channel, queue, team "
        "(default month,channel; empty for totals)",
    )
    p.add_argument("--plots", metavar="DIR", help="also write PNG charts into DIR")
    p.add_argument(
        "--content",
        metavar="GROUPS",
        nargs="?",
        const="",
        help="content statistics instead (what contacts were about, per year and channel, "
        "small counts suppressed): optional groups month, team (e.g. --content team)",
    )
    p.add_argument("--lang", choices=("en", "nb"), default="en", help="labels of --content")

    def run(args: argparse.Namespace) -> int:
        from zoneinfo import ZoneInfo

        if args.content is not None:
            return _report_content(args)

        from adapters.config_file import load_config
        from adapters.report import (
            Report,
            load_records,
            parse_group_by,
            parse_window,
            render_tables,
            to_csv,
            to_json,
        )

        cfg = load_config(args.config)
        group_by = parse_group_by(args.group_by)
        start, end, label = parse_window(
            ZoneInfo(cfg.timezone), start=args.start, end=args.end, month=args.month
        )
        data = helpline_dir(args.data, args.helpline)
        report = Report(cfg, load_records(data), start, end, label)
        if args.format == "json":
            print(json.dumps(to_json(report, group_by), indent=2, ensure_ascii=False))
        elif args.format == "csv":
            sys.stdout.write(to_csv(report, group_by))
        else:
            render_tables(report, _console())
        if args.plots:
            from adapters.report_plots import write_plots

            for path in write_plots(report, args.plots):
                print(f"wrote {path}", file=sys.stderr)
        return 0

    p.set_defaults(run=run)


def _report_content(args: argparse.Namespace) -> int:
    from adapters.config_file import load_config
    from adapters.report import load_records
    from adapters.report_content import render_content, write_content_plots
    from router.content_stats import CONTENT_GROUPS, content_stats
    from router.errors import BadInput

    by = tuple(g.strip() for g in args.content.split(",") if g.strip())
    if any(g not in CONTENT_GROUPS for g in by) or len(set(by)) != len(by):
        raise BadInput(f"--content takes distinct groups among {', '.join(CONTENT_GROUPS)}")
    if args.start or args.end or args.month:
        raise BadInput("--content reports whole years; leave out --from, --to and --month")
    if args.format == "csv":
        raise BadInput("--content prints a table or json, not csv")
    cfg = load_config(args.config)
    stats = content_stats(load_records(helpline_dir(args.data, args.helpline)), cfg, by=by)
    if args.format == "json":
        print(json.dumps(stats, indent=2, ensure_ascii=False))
    else:
        render_content(stats, cfg, _console(), args.lang)
    if args.plots:
        for path in write_content_plots(stats, cfg, args.plots, args.lang):
            print(f"wrote {path}", file=sys.stderr)
    return 0


# -------------------------------------------------------------------- replay
@command
def _replay(sub: SubParsers) -> None:
    p = sub.add_parser(
        "replay",
        help=COMMANDS["replay"][1],
        description="Run the events of a helpline's log through another configuration "
        '("what if chat had been open 24/7?") and set the figures it gives beside the '
        "recorded ones; events the other configuration refuses are counted per reason. "
        "When the recorded behaviour no longer fits (answers refused as not offered), the "
        "recorded arrivals are re-run through the simulator instead, and the output says so.",
    )
    p.add_argument("--data", required=True, metavar="DIR", help=DATA_HELP)
    p.add_argument("--helpline", metavar="ID", help=HELPLINE_HELP)
    p.add_argument("--config", required=True, metavar="FILE", help="the configuration to try")
    p.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="output format (default: %(default)s)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=1,
        help="random seed of a simulated what-if (default: %(default)s)",
    )

    def run(args: argparse.Namespace) -> int:
        from adapters.config_file import load_config
        from adapters.replay import replay, replay_to_json

        result = replay(
            helpline_dir(args.data, args.helpline), load_config(args.config), seed=args.seed
        )
        if args.format == "json":
            print(json.dumps(replay_to_json(result), indent=2, ensure_ascii=False))
        else:
            from adapters.replay import render_replay

            render_replay(result, args.config, _console())
        return 0

    p.set_defaults(run=run)


# -------------------------------------------------------------------- import
@command
def _import(sub: SubParsers) -> None:
    p = sub.add_parser(
        "import",
        help=COMMANDS["import"][1],
        description="Convert an Asterisk queue_log or a carrier's call log into events in a "
        "helpline's log (docs/IMPORT.md); importing the same file again adds nothing.",
    )
    kinds = p.add_subparsers(dest="source", metavar="SOURCE", required=True)
    for name, helptext in (
        ("asterisk-queue-log", "an Asterisk queue_log file (docs/IMPORT.md)"),
        ("carrier-csv", "a carrier's call log as CSV (docs/IMPORT.md)"),
    ):
        k = kinds.add_parser(name, help=helptext)
        k.add_argument("file", help="the file to import")
        k.add_argument("--data", required=True, metavar="DIR", help=DATA_HELP)
        k.add_argument(
            "--helpline",
            metavar="ID",
            help="the helpline's id in --data (default: the only one there, or --config's "
            "helpline in a new data directory)",
        )
        k.add_argument(
            "--config",
            default=DEFAULT_CONFIG,
            metavar="FILE",
            help="the helpline's configuration: queues, teams (default: %(default)s)",
        )
        k.add_argument(
            "--queue-map",
            action="append",
            default=[],
            required=name == "asterisk-queue-log",
            metavar="QUEUE=linjequeue[,...]",
            help="which of the file's queues feed which Linje queue",
        )
        k.add_argument(
            "--agent-team",
            action="append",
            default=[],
            metavar="PATTERN=team[,...]",
            help="team of the agents whose name matches a shell pattern (first match wins); "
            "without it and --default-team, TEAM-* names belong to TEAM",
        )
        k.add_argument("--default-team", metavar="TEAM", help="team of agents matching no pattern")
        if name == "asterisk-queue-log":
            k.add_argument(
                "--member-alias",
                action="append",
                default=[],
                metavar="MEMBERNAME=INTERFACE[,...]",
                help="a queue member's name and its interface are one agent (ADDMEMBER names "
                "the interface, CONNECT the member name); 1001 and SIP/1001 are learnt",
            )
        k.add_argument(
            "--dry-run", action="store_true", help="convert and check, write nothing to the log"
        )
        k.add_argument(
            "--no-fsync",
            action="store_true",
            help="do not fsync each event (much faster for big files; after an OS crash "
            "during the import, re-run it)",
        )
        k.set_defaults(run=_run_import)


def _run_import(args: argparse.Namespace) -> int:
    from adapters.config_file import load_config
    from adapters.importers.common import DryRunSink, parse_queue_map, parse_team_map

    cfg = load_config(args.config)
    queue_map = parse_queue_map(args.queue_map, cfg)
    teams = parse_team_map(args.agent_team, args.default_team, cfg)
    from adapters.importers.asterisk import parse_member_aliases

    aliases = parse_member_aliases(getattr(args, "member_alias", []))
    if not Path(args.file).is_file():
        raise _bad(f"cannot read {args.file}: no such file")
    data = helpline_dir(args.data, args.helpline, new=cfg.id)
    if data != Path(args.data) and data.name != cfg.id:
        raise _bad(
            f"--data {args.data}: {data} is helpline {data.name}'s folder, "
            f"but --config {args.config} is helpline {cfg.id}"
        )

    # Read the whole file first (a month of calls is small) so that a file
    # refused as a whole leaves the data directory untouched. A gzip file
    # (a rotated queue_log.1.gz) is read as its text.
    from adapters.importers.common import read_lines

    try:
        lines = read_lines(args.file)
    except OSError as exc:
        raise _bad(f"cannot read {args.file}: {exc.strerror or exc}") from None
    if args.source == "carrier-csv":
        from adapters.importers.carrier_csv import check_header

        check_header(lines)

    def convert(sink: Any) -> Any:
        if args.source == "asterisk-queue-log":
            from adapters.importers.asterisk import import_queue_log

            return import_queue_log(
                lines,
                sink=sink,
                config=cfg,
                queue_map=queue_map,
                teams=teams,
                member_aliases=aliases,
            )
        from adapters.importers.carrier_csv import import_carrier_csv

        return import_carrier_csv(lines, sink=sink, config=cfg, teams=teams, queue_map=queue_map)

    if args.dry_run:
        summary = convert(DryRunSink(cfg))
        where = "checked (dry run, nothing written)"
    else:
        from adapters.store import EmbeddedStore

        with EmbeddedStore.open(data, cfg, fsync=not args.no_fsync) as store:
            summary = convert(store)
        where = f"imported into {data}"
    for problem in summary.problems():
        print(problem, file=sys.stderr)
    print(f"{args.file}: {summary.source} {where}")
    for line in summary.lines():
        print(f"  {line}")
    return 0
