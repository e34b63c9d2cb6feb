"""Start `linje serve` as a real process on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.conftest import ROOT, VO_LINJEN
from tests.http_helpers import TOKENS, WEBHOOK_SECRET


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_auth(path: Path) -> Path:
    lines = []
    for name, role in (("carrier", "adapter"), ("chat", "adapter"), ("supervisor", "supervisor"),
                       ("planner", "planner")):  # fmt: skip
        lines += [
            "[[tokens]]",
            f'role = "{role}"',
            f'name = "{name}"',
            f'token = "{TOKENS[name]}"',
            "",
        ]
    # The agent kss-1 (an agent token's name is the agent's id).
    lines += ["[[tokens]]", 'role = "agent"', 'name = "kss-1"', f'token = "{TOKENS["agent"]}"', ""]
    lines += [
        "[[webhook_keys]]",
        'adapter = "carrier"',
        'key_id = "car-1"',
        f'secret = "{WEBHOOK_SECRET}"',
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


class Server:
    def __init__(self, data: Path, auth: Path, *extra: str, config: Path = VO_LINJEN) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open(data.parent / f"serve-{self.port}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "adapters.cli", "serve", "--config", str(config),
             "--data", str(data), "--auth", str(auth), "--port", str(self.port), *extra],
            cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            try:
                with urllib.request.urlopen(f"{self.base}/readyz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise TimeoutError("server not ready")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.log.close()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode
