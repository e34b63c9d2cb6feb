"""Restart after kill -9: from spawning ``linje serve`` to ``/readyz`` 200, at 200k and 2M events.

For each size a data directory is built with the store itself (the events of
``benchmarks/wrk/events.lua``: arrivals, and abandons of contacts that arrived
512 earlier; default snapshot settings: a snapshot every 10,000 entries,
written by a forked child while the directory is built; ``linje serve`` then
writes them from its follower process), with the events one second apart (``--spacing``)
so the log spans 2.3 days at 200k and 23 days at 2M: 86,400 events a day, far
above any helpline's day. The router keeps a day of state (the dedup window
and ended contacts, ``dedup_window_s`` and ``ended_retention_s``), so what
recovery loads is bounded by that day, not by the log's length.
``--spacing 0`` puts every event in one day instead (the worst case for the
state's size).

Then ``linje serve`` is started on it, made ready, SIGKILLed, and started
again: the figure is the wall time from that spawn to the first ``/readyz``
200 (median of ``--rounds``), beside the same spawn-to-ready on an empty data
directory (the process's own start: imports, configuration), interleaved.
Recovery replays at most the entries after the newest snapshot.

Run: ``.venv/bin/python benchmarks/bench_restart.py [--sizes 200000,2000000]``.
Target: ready within 1 s at both sizes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.config_file import load_config
from adapters.store import EmbeddedStore
from adapters.store.snapshots import snapshot_dir
from benchmarks._serve import ROOT, Server, uptime, write_auth
from router.events import ContactAbandoned, ContactArrived, Event


def build(data: Path, n: int, spacing: float) -> dict[str, Any]:
    config = load_config(ROOT / "config" / "vo-linjen.toml")
    t0 = time.perf_counter()
    start = time.time() - n * spacing - 5
    with EmbeddedStore.open(data / config.id, config, fsync=False,
                            background_snapshots=True) as store:  # fmt: skip
        batch = 50
        for i in range(0, n, batch):
            store.ingest(_slice(i, min(batch, n - i), start, spacing))
        logged = store.last_seq
    snaps = sorted(p.name for p in snapshot_dir(data / config.id).glob("*.snap"))
    size = (snapshot_dir(data / config.id) / snaps[-1]).stat().st_size if snaps else 0
    return {"logged_entries": logged, "build_s": round(time.perf_counter() - t0, 1),
            "newest_snapshot": snaps[-1] if snaps else None, "snapshot_bytes": size}  # fmt: skip


def _slice(first: int, count: int, start: float, spacing: float) -> list[Event]:
    return [_event(i, start + i * spacing) for i in range(first, first + count)]


def _event(i: int, at: float) -> Event:
    k = i // 2
    if i % 2 == 1 and k > 512:
        return ContactAbandoned(event_id=f"e{i}", at=at, source="carrier", contact_id=f"c{k - 512}")
    cid = f"c{k}" if i % 2 == 0 else f"x{k}"
    return ContactArrived(event_id=f"e{i}", at=at, source="carrier", contact_id=cid,
                          channel="phone", queue="phone")  # fmt: skip


def spawn_to_ready(data: Path, auth: Path) -> float:
    t0 = time.perf_counter()
    server = Server(data, auth, "--log-level", "warning")
    server.wait_ready(timeout=300)
    took = time.perf_counter() - t0
    server.kill()
    return took


def main(sizes: list[int], spacing: float, rounds: int) -> dict[str, Any]:
    out: dict[str, Any] = {"spacing_s": spacing, "load_before": uptime()}
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        auth = write_auth(tmpdir / "auth.toml")
        for n in sizes:
            data = tmpdir / f"d{n}"
            built = build(data, n, spacing)
            spawn_to_ready(data, auth)  # serve once, then it is SIGKILLed
            empty, full = [], []
            for r in range(rounds):
                empty.append(spawn_to_ready(tmpdir / f"empty{n}-{r}", auth))
                full.append(spawn_to_ready(data, auth))  # each one ends in kill -9
            out[str(n)] = {
                **built,
                "ready_after_kill_s": round(statistics.median(full), 3),
                "empty_dir_ready_s": round(statistics.median(empty), 3),
                "runs_s": [round(x, 3) for x in full],
                "empty_runs_s": [round(x, 3) for x in empty],
                "load": uptime(),
            }
    ok = all(out[str(n)]["ready_after_kill_s"] < 1.0 for n in sizes)
    out["target"] = "ready within 1 s after kill -9 at every size"
    out["verdict"] = "meets" if ok else "does NOT meet"
    return out


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="200000,2000000")
    p.add_argument("--spacing", type=float, default=1.0)
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()
    print(json.dumps(main([int(x) for x in a.sizes.split(",")], a.spacing, a.rounds), indent=2))
