"""`linje report ... | head`: a reader that goes away ends the command quietly (exit 141)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.cli import main
from adapters.config_file import load_config
from tests.conftest import ROOT, VO_LINJEN
from tests.golden_events import build_log

EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a command cut off by `| head`


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("pipe") / "data"
    build_log(data, load_config(VO_LINJEN))
    return data


def closed_pipe_run(*argv: str) -> subprocess.CompletedProcess[bytes]:
    """Run ``linje argv`` with its stdout a pipe whose reader has already gone (as `| head`)."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(
            [sys.executable, "-m", "adapters.cli", *argv],
            check=False,
            stdout=write,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            timeout=120,
        )
    finally:
        os.close(write)


@pytest.mark.parametrize(
    "argv",
    [
        ["report", "--format", "csv"],
        ["report", "--format", "json"],
        ["report"],
        ["replay", "--config", str(VO_LINJEN)],
        ["replay", "--config", str(VO_LINJEN), "--format", "json"],
    ],
    ids=["report-csv", "report-json", "report-table", "replay-table", "replay-json"],
)
def test_a_closed_pipe_ends_quietly(log: Path, argv: list[str]) -> None:
    done = closed_pipe_run(*argv, "--data", str(log))
    assert (done.returncode, done.stderr) == (EXIT_BROKEN_PIPE, b"")


def test_check_config_into_a_closed_pipe(log: Path) -> None:
    done = closed_pipe_run("check-config", str(VO_LINJEN))
    assert (done.returncode, done.stderr) == (EXIT_BROKEN_PIPE, b"")


class _Gone(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError


def test_main_returns_141_on_a_broken_pipe(log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdout", _Gone())
    assert main(["report", "--data", str(log), "--format", "csv"]) == EXIT_BROKEN_PIPE
