"""The ``linje`` command line. Errors are one line on stderr and a non-zero exit."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from router.errors import LinjeError

__all__ = ["main"]

Handler = Callable[[argparse.Namespace], int]
_COMMANDS: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = []


def command(
    fn: Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None],
) -> Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]:
    """Register a function that adds one subcommand to the parser."""
    _COMMANDS.append(fn)
    return fn


@command
def _check_config(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("check-config", help="validate a helpline configuration file")
    p.add_argument("file", help="TOML file, e.g. config/vo-linjen.toml")

    def run(args: argparse.Namespace) -> int:
        from adapters.config_file import load_config

        cfg = load_config(args.file)
        queues = ", ".join(
            f"{n} ({q.channel}, {q.effective_strategy})" for n, q in cfg.queues.items()
        )
        print(f"{args.file}: ok: helpline {cfg.id}, teams {', '.join(cfg.teams)}; queues {queues}")
        return 0

    p.set_defaults(run=run)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="linje",
        description="Linje: real-time contact-centre routing for helplines.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in _COMMANDS:
        add(sub)
    return parser


def _load_plugins() -> None:
    # Subcommands that live with their drivers register themselves on import.
    import importlib

    for mod in ("adapters.cli_store", "adapters.cli_serve", "sim.cli"):
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise


def main(argv: Sequence[str] | None = None) -> int:
    _load_plugins()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        code: int = args.run(args)
    except LinjeError as exc:
        print(f"linje {args.command}: error: {exc.detail}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":  # pragma: no cover
    # Run the registry of the importable module, not this __main__ copy.
    from adapters import cli as _cli  # noqa: PLW0406

    sys.exit(_cli.main())
