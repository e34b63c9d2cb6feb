"""Supervisor streams that stop reading: dropped within SLOW_READER_S, routing unaffected.

``linje serve`` (own process, real clock) with 300 agents logged in, so every
state push is about 80 kB. A healthy supervisor reads the SSE state stream
throughout. Two phases of the same paced load (arrivals, and callers hanging
up 0.2 s later):

* baseline: only the healthy reader;
* stalled: five more supervisors open the stream and never read again (a
  4 kB receive window, so the server's writes back up at once).

Reported per phase: ack latency p50/p99 (client side) and the mean routing
decision latency (server side, ``linje_routing_decision_duration_seconds``
from /metrics), with the ratio stalled / baseline; for each stalled reader
the time from its last read to the server dropping it (from the server's log),
against ``SLOW_READER_S``; and how many states the healthy reader got per
second in each phase.

Run: ``.venv/bin/python benchmarks/bench_slow_reader.py`` (env LINJE_SLOW_RATE).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import socket
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from adapters.http.streams import SLOW_READER_S
from benchmarks.paced import run_paced
from tests.http_helpers import TOKENS, bearer
from tests.serve_process import Server, write_auth

RATE = float(os.environ.get("LINJE_SLOW_RATE", "200"))
PHASE_S = 15.0
STALLED = 5
_DECISION = re.compile(r"^linje_routing_decision_duration_seconds_(sum|count)\{[^}]*\} (\S+)$")


def decision_totals(base: str) -> tuple[float, float]:
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as r:
        text = r.read().decode()
    out = {"sum": 0.0, "count": 0.0}
    for line in text.splitlines():
        m = _DECISION.match(line)
        if m:
            out[m.group(1)] += float(m.group(2))
    return out["sum"], out["count"]


def stalled_reader(port: int) -> socket.socket:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(
        f"GET /v1/state/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {TOKENS['supervisor']}\r\n\r\n".encode()
    )
    s.recv(1024)  # the response head: the stream is open; from now on nothing is read
    return s


def make_body(phase: str) -> Any:
    def body(i: int) -> dict[str, Any]:
        at = dt.datetime.now(dt.UTC).isoformat()
        base = {"event_id": f"{phase}-{i}", "at": at, "source": "carrier"}
        if i % 2 == 0 or i < 40:
            return {**base, "type": "contact.arrived", "contact_id": f"{phase}{i}",
                    "channel": "phone", "queue": "phone"}  # fmt: skip
        return {**base, "type": "contact.abandoned", "contact_id": f"{phase}{i - 41}"}

    return body


async def phase(base: str, name: str) -> dict[str, Any]:
    before = decision_totals(base)
    result = await run_paced(f"{base}/v1/events", make_body(name), rate=RATE, seconds=PHASE_S,
                             headers=bearer("carrier"))  # fmt: skip
    after = decision_totals(base)
    count = after[1] - before[1]
    return {
        **result.summary(),
        "decision_mean_ms": round((after[0] - before[0]) / count * 1000, 3) if count else None,
    }


async def run(server: Server) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC).isoformat()
    logins = [{"event_id": f"login-{n}", "type": "agent.logged_in", "at": now,
               "source": "carrier", "agent_id": f"kss-{n}", "team": "kss",
               "channels": ["phone"]} for n in range(300)]  # fmt: skip
    states = {"n": 0}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{server.base}/v1/events", json={"events": logins},
                                headers=bearer("carrier")) as r:  # fmt: skip
            assert r.status == 200, await r.text()

        async def healthy() -> None:
            async with session.get(f"{server.base}/v1/state/stream",
                                   headers=bearer("supervisor")) as r:  # fmt: skip
                async for line in r.content:
                    if line.startswith(b"data: "):
                        states["n"] += 1

        reader = asyncio.create_task(healthy())
        await asyncio.sleep(1)
        s0 = states["n"]
        baseline = await phase(server.base, "base")
        baseline["healthy_reader_states_per_s"] = round((states["n"] - s0) / PHASE_S, 1)
        stall_at = time.time()
        sockets = [stalled_reader(server.port) for _ in range(STALLED)]
        s0 = states["n"]
        stalled = await phase(server.base, "stall")
        stalled["healthy_reader_states_per_s"] = round((states["n"] - s0) / PHASE_S, 1)
        phase_end = time.time()
        reader.cancel()
        for s in sockets:
            s.close()
    return {"baseline": baseline, "stalled": stalled, "stall_at": stall_at, "end": phase_end}


def drop_times(log: Path) -> list[float]:
    out = []
    for line in log.read_text().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if "dropped a reader that stopped reading" in rec.get("message", ""):
            when = dt.datetime.strptime(rec["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
            out.append(when.replace(tzinfo=dt.UTC).timestamp())
    return out


def main() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        server = Server(tmpdir / "data", write_auth(tmpdir / "auth.toml"), "--adapter-rate", "0")
        try:
            server.wait_ready()
            out = asyncio.run(run(server))
        finally:
            server.stop()
        drops = drop_times(tmpdir / f"serve-{server.port}.log")
    stall_at, end = out.pop("stall_at"), out.pop("end")
    # Drops after the phase are the healthy reader leaving, not a stalled one.
    delays = sorted(round(t - stall_at, 2) for t in drops if t <= end)
    b, s = out["baseline"], out["stalled"]
    return {
        "rate_per_s": RATE,
        "phase_s": PHASE_S,
        **out,
        "stalled_readers": STALLED,
        "dropped": len(delays),
        "slow_reader_s": SLOW_READER_S,
        "seconds_from_last_read_to_drop": delays,
        "ratio_ack_p99_stalled_vs_baseline": round(s["ack_p99_ms"] / b["ack_p99_ms"], 2),
        "ratio_decision_mean_stalled_vs_baseline": (
            round(s["decision_mean_ms"] / b["decision_mean_ms"], 2)
            if s["decision_mean_ms"] and b["decision_mean_ms"]
            else None
        ),
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
