"""The ``linje`` command line. Errors are one line on stderr and a non-zero exit.

Each subcommand lives with its driver and is imported only when it is named,
so ``linje --help`` and ``linje --version`` import none of them (no pydantic,
aiohttp, matplotlib...): ``COMMANDS`` says where each one lives and carries
the one-line help the top-level list shows.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["COMMANDS", "build_parser", "command", "main"]

Handler = Callable[[argparse.Namespace], int]
_COMMANDS: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = []

# name: (the module that registers it, its one-line help), in the order `linje --help` lists them.
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("adapters.cli_serve", "run the live routing service"),
    "check-config": ("adapters.cli", "validate a helpline configuration file"),
    "publish-forms": ("adapters.cli", "freeze new content registration form versions in the lock"),
    "report": ("adapters.cli_store", "statistics from the event log (tables, CSV, JSON, charts)"),
    "replay": (
        "adapters.cli_store",
        "run the logged events through another configuration and compare",
    ),
    "import": ("adapters.cli_store", "import a PBX or carrier log into the event log"),
    "simulate": ("sim.cli", "run a scenario through the routing core in virtual time"),
    "plan": ("sim.cli", "find the fewest agents per team, channel and hour that meet a target"),
    "native": ("adapters.cli", "build the native (compiled) routing core, or say which runs"),
}

# What a shell reports for a process ended by SIGPIPE (`linje report | head`).
EXIT_BROKEN_PIPE = 128 + int(signal.SIGPIPE)


def command(
    fn: Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None],
) -> Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]:
    """Register a function that adds one subcommand to the parser."""
    _COMMANDS.append(fn)
    return fn


def _every_problem(name: str, problems: Sequence[object]) -> int:
    """Each problem of a configuration on its own line of stderr; the exit status 2."""
    for problem in problems:
        print(f"linje {name}: error: {problem}", file=sys.stderr)
    return 2


@command
def _check_config(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "check-config",
        help=COMMANDS["check-config"][1],
        description="Validate a helpline configuration file and list every problem in it, "
        "one a line: file, line, key and reason.",
    )
    p.add_argument("file", help="TOML file, e.g. config/vo-linjen.toml")

    def run(args: argparse.Namespace) -> int:
        from adapters.config_file import InvalidConfig, load_config

        try:
            cfg = load_config(args.file)
        except InvalidConfig as exc:
            return _every_problem("check-config", exc.problems)
        queues = ", ".join(
            f"{n} ({q.channel}, {q.effective_strategy})" for n, q in cfg.queues.items()
        )
        forms = "".join(f"; form {f.id} v1-v{len(f.versions)}" for f in cfg.forms)
        print(
            f"{args.file}: ok: helpline {cfg.id}, teams {', '.join(cfg.teams)}; queues {queues}"
            f"{forms}"
        )
        return 0

    p.set_defaults(run=run)


@command
def _publish_forms(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "publish-forms",
        help=COMMANDS["publish-forms"][1],
        description="Add the digest of every new version of the helpline's content "
        "registration forms (forms/<helpline>/) to forms/forms.lock. A version already "
        "published is never rewritten: check-config refuses one that changed.",
    )
    p.add_argument("file", help="the helpline's TOML file, e.g. config/vo-linjen.toml")

    def run(args: argparse.Namespace) -> int:
        from adapters.config_file import InvalidConfig, load_model
        from adapters.forms_file import forms_dir, publish_forms
        from router.config import HelplineConfig

        try:
            helpline = load_model(HelplineConfig, args.file).id
            added = publish_forms(forms_dir(args.file), helpline)
        except InvalidConfig as exc:
            return _every_problem("publish-forms", exc.problems)
        print(f"published: {', '.join(added)}" if added else "nothing new to publish")
        return 0

    p.set_defaults(run=run)


@command
def _native(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("native", help="build the native (compiled) routing core, or say which runs")
    p.add_argument("action", choices=("build", "status"), help="build it, or print native or pure")

    def run(args: argparse.Namespace) -> int:
        from adapters import native

        if args.action == "build":
            print(f"native build: {native.build()}")
        else:
            print(native.status())
        return 0

    p.set_defaults(run=run)


class _Version(argparse.Action):
    """``--version``: the installed package's version, looked up only when asked."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from importlib.metadata import version

        print(f"linje {version('linje')}")
        parser.exit()


def _load(module: str) -> None:
    import importlib

    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:  # an optional part that is not installed
        if exc.name != module:
            raise


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser; only the subcommand named in ``argv`` (if any) is imported and built in full."""
    named = next((a for a in argv if not a.startswith("-")), None)
    if named in COMMANDS:
        _load(COMMANDS[named][0])
    parser = argparse.ArgumentParser(
        prog="linje",
        description="Linje: real-time contact-centre routing for helplines.",
    )
    parser.add_argument("--version", action=_Version, help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in _COMMANDS:
        add(sub)
    for name, (module, text) in COMMANDS.items():
        if module not in sys.modules:
            sub.add_parser(name, help=text)  # listed only; built in full when named
    order = list(COMMANDS)
    sub._choices_actions.sort(key=lambda a: order.index(a.dest) if a.dest in order else len(order))
    return parser


def _quiet_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so the exit's flush stays quiet."""
    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError):  # not a real file (a test's capture): nothing is flushed
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 0 if args.command is None else 2
    from router.errors import LinjeError

    try:
        code: int = args.run(args)
        sys.stdout.flush()
    except LinjeError as exc:
        print(f"linje {args.command}: error: {exc.detail}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (`linje report | head`): stop quietly
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":  # pragma: no cover
    # Run the registry of the importable module, not this __main__ copy.
    from adapters import cli as _cli  # noqa: PLW0406

    sys.exit(_cli.main())
