"""The README's commands work as written: its example event is accepted by `make serve`."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.serve_process import Server

README = (ROOT / "README.md").read_text(encoding="utf-8")
DEV_AUTH = ROOT / "config" / "auth.dev.toml"


def section(title: str) -> str:
    start = README.index(f"## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end > 0 else None]


def shell_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, flags=re.DOTALL)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    # What `make serve` runs: the first user's configuration and the development tokens.
    srv = Server(tmp_path / "data", DEV_AUTH)
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


def test_the_example_event_is_accepted_now(server: Server) -> None:
    (block,) = shell_blocks(section("Posting events"))
    assert "http://127.0.0.1:8080/v1/events" in block
    block = block.replace("127.0.0.1:8080", f"127.0.0.1:{server.port}")
    run = subprocess.run(
        ["sh", "-c", block], check=False, capture_output=True, text=True, timeout=30
    )
    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout)
    assert [r["status"] for r in answer["results"]] == ["accepted"]


def test_the_readme_says_make_serve_takes_a_port() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "PORT   ?= 8080" in makefile
    assert "--port $(PORT)" in makefile
    assert "`make serve PORT=8081` runs the service on another port" in section("Posting events")
