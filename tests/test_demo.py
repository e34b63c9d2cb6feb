"""`linje serve --demo` (what `make demo` runs) shows moving state within seconds."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from adapters.demo import DEMO_MARKER, check_demo_dir, demo_clock, new_demo_run
from adapters.store import EmbeddedStore
from router import AgentLoggedIn, HelplineConfig
from router.coverage import CoveragePlan
from router.errors import ConfigError
from tests.conftest import ROOT, VO_LINJEN
from tests.http_helpers import TOKENS, TZ, local_ts
from tests.redis_helpers import SHARED_URL
from tests.serve_process import Server, write_auth

# `linje serve --demo` without --clock-speed (what `make demo` runs): adapters/cli_serve.py.
MAKE_DEMO_SPEED = 10.0


def state(base: str) -> dict:  # type: ignore[type-arg]
    req = urllib.request.Request(
        f"{base}/v1/state", headers={"Authorization": f"Bearer {TOKENS['supervisor']}"}
    )
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())  # type: ignore[no-any-return]


def handover_after(start: float) -> float:
    """15:30 local on the day of ``start``: the weekday phone handover from KSS to OK."""
    day = dt.datetime.fromtimestamp(start, TZ).date()
    return dt.datetime.combine(day, dt.time(15, 30), tzinfo=TZ).timestamp()


def output(server: Server) -> str:
    return Path(server.log.name).read_text(errors="replace")


def assert_clean(log: str) -> None:
    assert "Traceback" not in log, log
    assert "ClientConnectorError" not in log, log
    assert '"level": "error"' not in log, log


def test_the_demo_clock_puts_the_handover_a_minute_after_start(vo_config: HelplineConfig) -> None:
    clock = demo_clock(vo_config, MAKE_DEMO_SPEED)
    local = dt.datetime.fromtimestamp(clock.start, TZ)
    assert local.time() == dt.time(15, 20)  # ten virtual minutes before the handover
    assert local.weekday() < 5 and not CoveragePlan(vo_config).is_holiday(local.date())
    assert clock.speed == MAKE_DEMO_SPEED
    assert (handover_after(clock.start) - clock.start) / clock.speed == 60.0  # real seconds
    # The lead is in real seconds, whatever the speed.
    fast = demo_clock(vo_config, 60.0)
    assert (handover_after(fast.start) - fast.start) / fast.speed == 60.0


def test_make_demo_starts_with_the_handover_most_of_a_minute_away(tmp_path: Path) -> None:
    """At make demo's speed the phone is KSS's, and the handover to OK over 30 real s away.

    (tests/test_dashboard_browser.py watches the same in the dashboard for 30 s.)
    """
    server = Server(tmp_path / "demo", write_auth(tmp_path / "auth.toml"), "--demo")
    try:
        server.wait_ready()
        first = state(server.base)
        assert first["clock_speed"] == MAKE_DEMO_SPEED
        phone = first["queues"][0]
        assert (phone["queue"], phone["owner"], phone["next_owner"]) == ("phone", "kss", "ok")
        real_left = (phone["next_handover"] - first["server_time"]) / first["clock_speed"]
        assert 30 < real_left <= 60, real_left
    finally:
        assert server.stop() == 0
    assert_clean(output(server))


def test_demo_traffic_moves_the_live_state_across_a_handover(
    tmp_path: Path, vo_config: HelplineConfig
) -> None:
    # Five virtual minutes (five real seconds at 60x) before the handover.
    handover = handover_after(demo_clock(vo_config, 60.0).start)
    start = dt.datetime.fromtimestamp(handover - 300, TZ).isoformat()
    server = Server(
        tmp_path / "demo",
        write_auth(tmp_path / "auth.toml"),
        "--demo",
        "--clock-speed",
        "60",
        "--clock-start",
        start,
    )
    try:
        server.wait_ready()
        seen_owners: set[str] = set()
        answered = arrived = 0
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            snap = state(server.base)
            seen_owners.add(snap["queues"][0]["owner"])
            arrived = snap["totals"]["arrived"]
            answered = snap["today"]["channels"].get("phone", {}).get("answered", 0)
            if {"kss", "ok"} <= seen_owners and arrived >= 3 and answered >= 1:
                break
            time.sleep(0.2)
        assert {"kss", "ok"} <= seen_owners  # the 15:30 handover happened
        assert arrived >= 3
        assert answered >= 1
        assert (tmp_path / "demo" / ".linje-demo").exists()
    finally:
        assert server.stop() == 0  # SIGTERM: a graceful shutdown
    assert_clean(output(server))


def tree(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its bytes (None for a folder)."""
    return {
        str(p.relative_to(root)): None if p.is_dir() else p.read_bytes()
        for p in sorted(root.rglob("*"))
    }


def write_real_log(data: Path, config: HelplineConfig) -> None:
    store = EmbeddedStore.open(data / config.id, config)
    try:
        login = AgentLoggedIn(
            event_id="real-1", at=local_ts("2026-11-30T10:00:00"), source="ui",
            agent_id="kss-1", team="kss", channels=("phone",),
        )  # fmt: skip
        (result,) = store.ingest([login])
        assert result.status == "accepted"
    finally:
        store.close()


def serve_in(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``linje serve ARGS`` run from ``cwd`` (so the default ``--data data`` is ``cwd/data``)."""
    return subprocess.run(
        [sys.executable, "-m", "adapters.cli", "serve", "--config", str(VO_LINJEN),
         "--port", "1", "--log-level", "critical", *args],
        cwd=cwd, capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


def test_a_refused_store_demo_run_leaves_a_real_log_byte_identical(
    tmp_path: Path, vo_config: HelplineConfig
) -> None:
    # The reproduction: `linje serve --store redis://... --demo` with the default --data data.
    write_real_log(tmp_path / "data", vo_config)
    before = tree(tmp_path / "data")
    assert any(name.endswith(".seg") for name in before)
    done = serve_in(tmp_path, "--store", SHARED_URL, "--demo")
    assert (done.returncode, done.stderr.count("\n")) == (2, 1), done.stderr
    assert "--demo runs on the embedded store" in done.stderr
    assert tree(tmp_path / "data") == before  # no marker either


@pytest.mark.parametrize("exists", [False, True])
def test_a_refused_store_demo_run_in_an_empty_folder_leaves_no_marker(
    tmp_path: Path, exists: bool
) -> None:
    if exists:
        (tmp_path / "data").mkdir()
    done = serve_in(tmp_path, "--store", SHARED_URL, "--demo")
    assert done.returncode == 2, done.stderr
    assert (tmp_path / "data").exists() == exists
    if exists:
        assert list((tmp_path / "data").iterdir()) == []


@pytest.mark.parametrize("marked", [False, True])
def test_demo_refuses_a_folder_with_a_real_log_even_if_marked(
    tmp_path: Path, vo_config: HelplineConfig, marked: bool
) -> None:
    write_real_log(tmp_path / "data", vo_config)
    if marked:  # e.g. a marker a refused run left behind before this was fixed
        (tmp_path / "data" / DEMO_MARKER).write_text("stale\n")
    before = tree(tmp_path / "data")
    done = serve_in(tmp_path, "--demo")
    assert (done.returncode, done.stderr.count("\n")) == (2, 1), done.stderr
    assert "holds a real log" in done.stderr
    assert tree(tmp_path / "data") == before


def test_each_demo_run_gets_a_new_folder_and_earlier_runs_are_kept(
    tmp_path: Path, vo_config: HelplineConfig
) -> None:
    data = tmp_path / "demo"
    check_demo_dir(data)  # not there yet: fine, and still not there
    assert not data.exists()
    first = new_demo_run(data)
    write_real_log(first, vo_config)  # the first run's log
    before = tree(first)
    check_demo_dir(data)  # the marker and earlier runs: fine
    second = new_demo_run(data)
    assert second != first
    assert sorted(p.name for p in data.iterdir()) == sorted([DEMO_MARKER, first.name, second.name])
    assert tree(first) == before
    assert list(second.iterdir()) == []
    (data / "notes.txt").write_text("mine\n")
    with pytest.raises(ConfigError, match="holds a real log"):
        check_demo_dir(data)


def test_ctrl_c_stops_the_demo_without_a_traceback(tmp_path: Path) -> None:
    """Ctrl-C while the traffic is busy: the demo stops before the server stops listening."""
    server = Server(
        tmp_path / "demo", write_auth(tmp_path / "auth.toml"), "--demo", "--clock-speed", "60"
    )
    try:
        server.wait_ready()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and state(server.base)["totals"]["arrived"] < 3:
            time.sleep(0.2)
        assert state(server.base)["totals"]["arrived"] >= 3  # the traffic is flowing
        server.proc.send_signal(signal.SIGINT)
        try:
            code = server.proc.wait(20)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            raise
    finally:
        server.stop()
    log = output(server)
    assert code == 0, log
    assert_clean(log)
