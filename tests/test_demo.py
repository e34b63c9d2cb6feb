"""`linje serve --demo` (what `make demo` runs) shows moving state within seconds."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

from tests.http_helpers import TOKENS
from tests.serve_process import Server, write_auth


def state(base: str) -> dict:  # type: ignore[type-arg]
    req = urllib.request.Request(
        f"{base}/v1/state", headers={"Authorization": f"Bearer {TOKENS['supervisor']}"}
    )
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())  # type: ignore[no-any-return]


def test_demo_traffic_moves_the_live_state_across_a_handover(tmp_path: Path) -> None:
    server = Server(
        tmp_path / "demo", write_auth(tmp_path / "auth.toml"), "--demo", "--clock-speed", "60"
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
