"""`linje serve --demo` (what `make demo` runs) shows moving state within seconds."""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from adapters.demo import demo_clock
from router import HelplineConfig
from router.coverage import CoveragePlan
from tests.http_helpers import TOKENS, TZ
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
