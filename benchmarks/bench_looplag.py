"""The event loop's worst lag while ``linje serve`` ingests 300,000 events under wrk.

``wrk -t2 -c32`` with ``benchmarks/wrk/events.lua`` (one unique valid event
per request) in 10-second runs until ``--events`` events are acknowledged, on
the default snapshot settings (a snapshot every 10,000 log entries, written by
the follower process that replays the log), so the run crosses about 30 snapshots with the state growing
throughout (all events fall within the day the router keeps). The figure is
the server's own ``linje_event_loop_lag_max_seconds`` (a task that sleeps
10 ms and measures how late it woke, ``adapters.http.looplag``) with
``linje_event_loop_busy_max_seconds`` (the most CPU time the loop's thread
used within one sample: a lag far above it was the machine not running the
service, not work on the loop), read at the end by the run's one ``/metrics``
scrape (a scrape builds the live state on the loop; its own cost is not in
the figures it returns, and a scrape after every run would add its stall to
the next one); beside it the snapshots written, the acknowledged count, the machine's
load average, and wrk's worst latency per run.

Run: ``.venv/bin/python benchmarks/bench_looplag.py [--events 300000]``.
Target: lag never above 20 ms.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._serve import linje, loop_lag, uptime, write_auth
from benchmarks.bench_http import acked, wrk


def main(n_events: int, connections: int) -> dict[str, Any]:
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        acks = tmpdir / "acks"
        acks.mkdir()
        server = linje(tmpdir / "data", write_auth(tmpdir / "auth.toml"))
        try:
            done = 0
            while done < n_events:
                res = wrk(f"{server.base}/v1/events", acks, f"g{len(runs)}", seconds=10,
                          threads=2, conns=connections)  # fmt: skip
                done = len(acked(acks, "g"))
                runs.append({"acknowledged_total": done, "per_s": round(res["per_s"], 1),
                             "wrk_p99_ms": res["p99_us"] / 1000,
                             "wrk_max_ms": res["max_us"] / 1000, "load": uptime()})  # fmt: skip
            lag = loop_lag(server.base)
        finally:
            server.stop()
        snaps = sorted(p.name for p in (tmpdir / "data" / "vo_linjen" / "snapshots").glob("*"))
    return {
        "acknowledged": done,
        "newest_snapshots": snaps,
        "snapshots_crossed": done // 10_000,
        "linje_event_loop_lag_max_ms": round(lag[0] * 1000, 2),
        "linje_event_loop_busy_max_ms": round(lag[1] * 1000, 2),
        "runs": runs,
        "target": "lag <= 20 ms",
        "verdict": "meets" if lag[0] <= 0.020 else "does NOT meet",
    }


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--events", type=int, default=300_000)
    p.add_argument("--connections", type=int, default=32)
    a = p.parse_args()
    print(json.dumps(main(a.events, a.connections), indent=2))
