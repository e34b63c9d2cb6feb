"""`linje --help` is quick and complete: no heavy import, every option explained, --version."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tomllib

import pytest

from adapters.cli import COMMANDS, build_parser, main
from tests.conftest import ROOT

HEAVY = ("aiohttp", "holidays", "matplotlib", "msgpack", "numpy", "opentelemetry", "pydantic",
         "redis", "rich", "router", "uvloop")  # fmt: skip
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT
    )
    return done.stdout


def test_help_and_version_import_no_heavy_module() -> None:
    # What `linje --help` costs is what it imports: pydantic, holidays, aiohttp... took ~1 s.
    code = f"""
import contextlib, io, json, sys
from adapters.cli import main
for argv in (["--help"], ["--version"], ["report", "--help"], ["replay", "--help"],
             ["import", "carrier-csv", "--help"], ["check-config", "--help"]):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
        main(argv)
print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}} & set({HEAVY!r}))))
"""
    assert json.loads(python(code)) == []


def test_version_is_the_package_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "adapters.cli", "--version"],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, f"linje {VERSION}\n", "")


def test_the_top_level_help_lists_every_command_with_its_own_help() -> None:
    listed = python(
        "import argparse\n"
        "from adapters.cli import build_parser\n"
        "(sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]\n"
        "print('\\n'.join(f'{a.dest}={a.help}' for a in sub._choices_actions))\n"
    )
    assert listed.splitlines() == [f"{name}={text}" for name, (_, text) in COMMANDS.items()]
    # ...and that line is the one each command's own module registers.
    for name in COMMANDS:
        (sub,) = [
            a for a in build_parser([name])._actions if isinstance(a, argparse._SubParsersAction)
        ]
        (real,) = [a for a in sub._choices_actions if a.dest == name]
        assert (name, real.help) == (name, COMMANDS[name][1])
        assert len(sub.choices[name]._actions) > 1  # built in full, not only listed


def _subparser(*names: str) -> argparse.ArgumentParser:
    parser = build_parser(names)
    for name in names:
        (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        parser = sub.choices[name]
    return parser


@pytest.mark.parametrize(
    "names",
    [
        ("report",),
        ("replay",),
        ("import", "carrier-csv"),
        ("import", "asterisk-queue-log"),
        ("check-config",),
    ],
)
def test_every_option_has_help(names: tuple[str, ...]) -> None:
    p = _subparser(*names)
    assert [a.dest for a in p._actions if not a.help] == []


@pytest.mark.parametrize(
    ("argv", "lines"),
    [
        (
            ["report", "--help"],
            [
                "The helpline's figures from its event log, shaped like its statistics pages: "
                "contacts per month and channel, unanswered calls by cause, answer rate and "
                "service level, contacts by hour and weekday. CSV and JSON for spreadsheets and "
                "scripts, PNG charts with --plots.",
                "  --config FILE         the helpline's configuration: time zone, thresholds "
                "(default: config/vo-linjen.toml)",
                "  --helpline ID         the helpline's id in --data (default: the only one there)",
                "                        output format (default: table)",
            ],
        ),
        (
            ["replay", "--help"],
            [
                "Run the events of a helpline's log through another configuration (\"what if chat "
                'had been open 24/7?") and set the figures it gives beside the recorded ones; '
                "events the other configuration refuses are counted per reason. When the recorded "
                "behaviour no longer fits (answers refused as not offered), the recorded arrivals "
                "are re-run through the simulator instead, and the output says so.",
                "  --config FILE         the configuration to try",
            ],
        ),
        (
            ["serve", "--help"],
            [
                "  --host HOST           address to listen on (dev tokens: loopback only) "
                "(default: 127.0.0.1)",
                "  --port PORT           TCP port to listen on (default: 8080)",
                "  --snapshot-every SNAPSHOT_EVERY",
                "  --log-level {debug,info,warning,error,critical}",
            ],
        ),
        (
            ["import", "asterisk-queue-log", "--help"],
            [
                "  --config FILE         the helpline's configuration: queues, teams "
                "(default: config/vo-linjen.toml)",
            ],
        ),
    ],
)
def test_help_explains_and_gives_defaults(
    argv: list[str], lines: list[str], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("COLUMNS", "400")
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 0
    out = capsys.readouterr().out.splitlines()
    assert [line for line in lines if line not in out] == []
