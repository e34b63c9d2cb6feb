"""POST /v1/events under wrk: Linje (durable acks) against a bare aiohttp endpoint, A/B.

The load generator is ``wrk`` (C; Debian's package: ``apt-get install wrk``)
with ``benchmarks/wrk/events.lua``: every request is one unique, valid event (or ``--batch N`` of them)
(arrivals, and abandons of contacts that arrived 512 earlier), ``-t2 -c32``
keep-alive connections on loopback.

- **bare**: ``benchmarks/bare_server.py``: aiohttp on uvloop reads the body,
  ``json.loads`` it and answers a result of Linje's shape. Nothing else.
- **linje**: ``linje serve`` on the VO-linjen configuration: the checked parse
  (``adapters.http.bodies``), auth, pydantic validation, routing, the event log
  (group commit: acknowledged only after the fsync covering the event),
  telemetry, snapshots every 10,000 entries (by the follower process that replays
  the log, ``adapters.store.follower``).

Rounds alternate bare, linje, bare, linje ... (``--rounds``, ``--seconds``
each); the figures are medians over rounds: requests/s and its ratio, wrk's
latency p50/p99/max, and each server's CPU per request (``/proc``: user+system
of the process, all threads). Then Linje is stopped and its log is checked
against what wrk was told: every acknowledged event is in the log exactly
once, and the only logged events not acknowledged are at most one request per
connection per round (in flight when wrk stopped). Also reported: Linje's
``linje_event_loop_lag_max_seconds`` over the whole run, and the load average.

``--batch N`` makes every request a batch of N events (``{"events": [...]}``,
one group commit each) on both sides; the target is for one event per request.

Run: ``.venv/bin/python benchmarks/bench_http.py [--rounds 3] [--seconds 10] [--batch 1]``.
Target: ratio >= 0.6, Linje p99 < 30 ms.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._serve import bare_and_linje, cpu_seconds, log_event_ids, loop_lag, uptime
from tests.http_helpers import TOKENS

LUA = Path(__file__).resolve().parent / "wrk" / "events.lua"
_JSON = re.compile(r"^WRK_JSON (\{.*\})$", re.M)


def wrk(
    url: str, acks: Path, run: str, *, seconds: int, threads: int, conns: int, batch: int = 1
) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--latency", "-s", str(LUA),
         url, "--", str(acks), TOKENS["carrier"], run, str(batch)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    m = _JSON.search(out)
    if m is None:
        raise RuntimeError(f"wrk printed no summary:\n{out}")
    res: dict[str, Any] = json.loads(m.group(1))
    res["per_s"] = res["requests"] / (res["duration_us"] / 1e6)
    return res


def acked(acks: Path, run_prefix: str) -> list[str]:
    ids: list[str] = []
    for f in sorted(acks.glob(f"acks-{run_prefix}*.txt")):
        ids += f.read_text().split()
    return ids


def main(rounds: int, seconds: int, threads: int, conns: int, batch: int = 1) -> dict[str, Any]:
    sides: dict[str, list[dict[str, Any]]] = {"bare": [], "linje": []}
    load_before = uptime()
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        acks = tmpdir / "acks"
        acks.mkdir()
        with bare_and_linje(tmpdir) as (bare, server):
            for r in range(rounds):
                for name, base, pid in (("bare", bare.base, bare.proc.pid),
                                        ("linje", server.base, server.proc.pid)):  # fmt: skip
                    c0 = cpu_seconds(pid)
                    res = wrk(f"{base}/v1/events", acks, f"{name[0]}{r}", seconds=seconds,
                              threads=threads, conns=conns, batch=batch)  # fmt: skip
                    res["cpu_us_per_request"] = (cpu_seconds(pid) - c0) / res["requests"] * 1e6
                    res["load"] = uptime()
                    sides[name].append(res)
            lag = loop_lag(server.base)
        logged = log_event_ids(tmpdir / "data" / "vo_linjen")
        ours = acked(acks, "l")
    counts: dict[str, int] = {}
    for eid in logged:
        counts[eid] = counts.get(eid, 0) + 1
    missing = [e for e in ours if counts.get(e, 0) != 1]
    extra = len(logged) - len(set(ours))
    check = {
        "acknowledged": len(ours),
        "logged": len(logged),
        "acknowledged_not_exactly_once": len(missing),
        "logged_twice": sum(1 for n in counts.values() if n > 1),
        "logged_not_acknowledged": extra,
        "ok": not missing
        and all(n == 1 for n in counts.values())
        and 0 <= extra <= rounds * conns * batch,
    }

    def med(name: str, key: str) -> float:
        return round(statistics.median(x[key] for x in sides[name]), 1)

    summary = {
        name: {
            "requests_per_s": med(name, "per_s"),
            "p50_ms": med(name, "p50_us") / 1000,
            "p99_ms": med(name, "p99_us") / 1000,
            "max_ms": med(name, "max_us") / 1000,
            "cpu_us_per_request": med(name, "cpu_us_per_request"),
            "errors": sum(x["non2xx"] + x["timeouts"] + x["read_errors"] for x in sides[name]),
        }
        for name in sides
    }
    ratio = round(summary["linje"]["requests_per_s"] / summary["bare"]["requests_per_s"], 3)
    return {
        "wrk": f"-t{threads} -c{conns} -d{seconds}s, {rounds} rounds each, interleaved",
        "events_per_request": batch,
        **summary,
        "ratio_requests_per_s": ratio,
        "linje_event_loop_lag_max_ms": round(lag[0] * 1000, 2),
        "linje_event_loop_busy_max_ms": round(lag[1] * 1000, 2),
        "log_check": check,
        "load_before": load_before,
        "load_per_round": {n: [x["load"] for x in sides[n]] for n in sides},
        "rounds": sides,
        "target": "ratio >= 0.6 and linje p99 < 30 ms",
        "verdict": "meets" if ratio >= 0.6 and summary["linje"]["p99_ms"] < 30 else "does NOT meet",
    }


def test_http_ratio(benchmark) -> None:  # type: ignore[no-untyped-def]
    result = benchmark.pedantic(lambda: main(1, 5, 2, 32), rounds=1, iterations=1)
    benchmark.extra_info.update({k: v for k, v in result.items() if k != "rounds"})
    assert result["log_check"]["ok"], result["log_check"]


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--batch", type=int, default=1, help="events per request (default 1)")
    a = p.parse_args()
    print(json.dumps(main(a.rounds, a.seconds, a.threads, a.connections, a.batch), indent=2))
