"""What the HTTP benchmarks share: the two servers, their CPU time, loop lag, the log check."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from adapters.store.entries import read_entries
from tests.serve_process import Server, free_port, write_auth

__all__ = ["Bare", "Server", "bare_and_linje", "cpu_seconds", "linje", "log_event_ids", "loop_lag", "uptime",
           "wait_http", "write_auth"]  # fmt: skip

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def uptime() -> str:
    """The machine's load averages (1, 5, 15 min), to go with every figure."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(url)


class Bare:
    """``benchmarks/bare_server.py`` as its own process on a free loopback port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "benchmarks" / "bare_server.py"), str(self.port)]
        )
        wait_http(f"{self.base}/readyz")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait()


def linje(data: Path, auth: Path, *extra: str) -> Server:
    """``linje serve`` as its own process, no adapter rate limit (this measures one node)."""
    server = Server(data, auth, "--log-level", "warning", "--adapter-rate", "0", *extra)
    server.wait_ready(timeout=120)
    return server


def _gauge(name: str) -> re.Pattern[bytes]:
    return re.compile(rb"^" + name.encode() + rb"(?:\{[^}]*\})? ([0-9.eE+-]+)$", re.M)


_LAG, _BUSY = (
    _gauge("linje_event_loop_lag_max_seconds"),
    _gauge("linje_event_loop_busy_max_seconds"),
)


def loop_lag(base: str) -> tuple[float, float]:
    """The server's ``linje_event_loop_lag_max_seconds`` and ``..._busy_max_seconds``
    (metrics are open on loopback)."""
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as r:
        text = r.read()
    lag, busy = _LAG.search(text), _BUSY.search(text)
    if lag is None or busy is None:
        raise RuntimeError("no linje_event_loop_lag_max_seconds in /metrics")
    return float(lag.group(1)), float(busy.group(1))


def log_event_ids(data_dir: Path) -> list[str]:
    """The event ids of every event entry in a helpline's log, in log order."""
    return [e.event.event_id for e in read_entries(data_dir) if e.event is not None]


@contextlib.contextmanager
def bare_and_linje(tmpdir: Path) -> Iterator[tuple[Bare, Server]]:
    """Both servers of an A/B run (Linje's data in ``tmpdir/data``), stopped at the end."""
    auth = write_auth(tmpdir / "auth.toml")
    bare = Bare()
    try:
        server = linje(tmpdir / "data", auth)
    except BaseException:
        bare.stop()
        raise
    try:
        yield bare, server
    finally:
        bare.stop()
        server.stop()
