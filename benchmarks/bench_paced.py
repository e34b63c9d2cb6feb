"""Open-loop paced ingest at 500, 1,000 and 2,000 events/s: ack latency, Linje vs bare, A/B.

The client is ``benchmarks/paced.py`` in its own process (aiohttp on uvloop,
64 keep-alive connections; request i due at t0 + i/rate whatever happened to
the others), one unique valid event per request. For each rate it runs
against the bare endpoint (``benchmarks/bare_server.py``: read, ``json.loads``,
answer) and then against ``linje serve`` (durable acks: answered after the
fsync covering the event), ``--seconds`` each, the pair repeated ``--rounds``
times; figures are medians over rounds. Reported per side and rate: events/s
achieved, ack latency p50/p99/p99.9/max (send to answer), p99 from the due
time, errors; Linje's ``linje_event_loop_lag_max_seconds`` over the run; the
load average at each run.

Run: ``.venv/bin/python benchmarks/bench_paced.py [--rates 500,1000,2000] [--seconds 20]``.
Target at 2,000/s: sustained, Linje ack p99 < 15 ms and p99.9 < 40 ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._serve import bare_and_linje, cpu_seconds, loop_lag, uptime
from tests.http_helpers import TOKENS

PACED = Path(__file__).resolve().parent / "paced.py"


def paced(url: str, rate: int, seconds: float, run: str, token: str | None) -> dict[str, Any]:
    cmd = [sys.executable, str(PACED), url, "--rate", str(rate), "--seconds", str(seconds),
           "--run", run]  # fmt: skip
    if token:
        cmd += ["--token", token]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    res: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return res


def main(rates: list[int], seconds: float, rounds: int) -> dict[str, Any]:
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        with bare_and_linje(tmpdir) as (bare, server):
            for rate in rates:
                per = runs.setdefault(str(rate), {"bare": [], "linje": []})
                for r in range(rounds):
                    for name, base, pid, token in (
                        ("bare", bare.base, bare.proc.pid, None),
                        ("linje", server.base, server.proc.pid, TOKENS["carrier"]),
                    ):
                        c0 = cpu_seconds(pid)
                        res = paced(f"{base}/v1/events", rate, seconds, f"{name[0]}{rate}r{r}",
                                    token)  # fmt: skip
                        res["server_cpu_us_per_event"] = round(
                            (cpu_seconds(pid) - c0) / max(1, res["sent"]) * 1e6, 1
                        )
                        res["load"] = uptime()
                        per[name].append(res)
            lag = loop_lag(server.base)
    keys = ("per_s", "ack_p50_ms", "ack_p99_ms", "ack_p999_ms", "ack_max_ms", "from_due_p99_ms",
            "server_cpu_us_per_event")  # fmt: skip
    summary = {
        rate: {
            name: {k: round(statistics.median(x[k] for x in xs), 2) for k in keys}
            | {"errors": sum(x["errors"] for x in xs)}
            for name, xs in sides.items()
        }
        for rate, sides in runs.items()
    }
    top = summary.get("2000", {}).get("linje")
    ok = (
        top is not None
        and top["per_s"] >= 1960
        and top["ack_p99_ms"] < 15
        and (top["ack_p999_ms"] < 40)
    )
    return {
        "seconds_per_run": seconds,
        "rounds": rounds,
        "medians": summary,
        "linje_event_loop_lag_max_ms": round(lag[0] * 1000, 2),
        "linje_event_loop_busy_max_ms": round(lag[1] * 1000, 2),
        "runs": runs,
        "target": "2000/s sustained, linje ack p99 < 15 ms, p99.9 < 40 ms",
        "verdict": "meets" if ok else "does NOT meet",
    }


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rates", default="500,1000,2000")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--rounds", type=int, default=1)
    a = p.parse_args()
    print(json.dumps(main([int(x) for x in a.rates.split(",")], a.seconds, a.rounds), indent=2))
