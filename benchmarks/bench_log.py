"""Event log throughput: fsync-batched appends, and recovery of a long log.

(a) Appends at batch sizes 1, 10 and 100, durable (one fsync per batch), as
    events/s of CPU time through ``EmbeddedStore.ingest`` (routing included)
    and through the bare ``SegmentWriter``; baseline: the same appends without
    fsync in the same run. CPU time does not count the wait for the disk, so
    the ratio is the CPU cost of durability at that batch size, not its latency.
(b) Recovery of an N-entry log (default 200,000; ``--entries``), three sides
    on the same files, interleaved (bare, scan, replay, bare, scan, replay,
    ...; ``ROUNDS`` rounds), CPU time of this process (``time.process_time``),
    medians:
    - ``bare`` (the baseline): walk the record headers and msgpack-decode every
      payload, nothing else;
    - ``scan``: the log scan alone (``LogScan``: CRCs, then ``decode_payload``),
      no router;
    - ``replay``: ``EmbeddedStore.open`` from the log with no snapshot (scan,
      CRCs, decode, verified replay of every entry through the router).
    Reported: entries/s of each, and replay's speed as a fraction of the bare
    decode's (target: at least ``TARGET_RATIO``).

Run: ``.venv/bin/python benchmarks/bench_log.py [--entries N] [--rounds R] [--dir DIR]
[--skip-append]`` (most of the time at large N builds the log by routing the
events), or ``.venv/bin/pytest benchmarks/bench_log.py`` for a reduced
pytest-benchmark run (20k entries) that asserts the target.
"""

from __future__ import annotations

import argparse
import shutil
import struct
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import msgpack

from adapters.config_file import load_config
from adapters.store import EmbeddedStore, LogScan, SegmentWriter, log_dir
from adapters.store.entries import decode_payload, encode_entry
from adapters.store.segments import HEADER, list_segments
from benchmarks._ab import interleave, median, verdict
from benchmarks.workload import realistic_events
from router import Event, HelplineConfig, Router

CONFIG = Path(__file__).resolve().parent.parent / "config" / "vo-linjen.toml"
APPEND_EVENTS = {1: 1_500, 10: 10_000, 100: 50_000}
ENTRIES = 200_000
ROUNDS = 5
TARGET_RATIO = 0.3  # replay speed / bare decode speed, at least


def _payloads(config: HelplineConfig, events: list[Event]) -> list[bytes]:
    """The entries the store would log for ``events`` (routed with ``Router.apply``)."""
    router = Router(config)
    out = []
    for ev in events:
        step = router.apply(ev)
        if not step.accepted:
            continue
        clock = step.clock if step.clock is not None else ev.at
        out.append(encode_entry("event", clock, ev, step.commands, step.records))
    return out


def bench_append(config: HelplineConfig, work: Path) -> list[dict[str, Any]]:
    rows = []
    events = realistic_events(config, max(APPEND_EVENTS.values()), seed=3)
    payloads = _payloads(config, events)
    for batch, n in APPEND_EVENTS.items():
        row: dict[str, Any] = {"batch": batch, "events": n}
        for fsync in (True, False):
            d = work / f"append-{batch}-{fsync}"
            store = EmbeddedStore.open(d, config, fsync=fsync, snapshot_every=10**9)
            t0 = time.process_time()
            for i in range(0, n, batch):
                store.ingest(events[i : i + batch])
            row[f"ingest_{'fsync' if fsync else 'nofsync'}"] = n / (time.process_time() - t0)
            store.close()
            w = SegmentWriter(work / f"raw-{batch}-{fsync}", next_seq=1, fsync=fsync)
            t0 = time.process_time()
            for i in range(0, n, batch):
                w.append_many(payloads[i : i + batch])
            row[f"writer_{'fsync' if fsync else 'nofsync'}"] = n / (time.process_time() - t0)
            w.close()
        rows.append(row)
    return rows


def build_log(config: HelplineConfig, data: Path, n: int) -> float:
    """A store of ``n`` entries from a realistic event stream (no fsync: it is a fixture)."""
    events = realistic_events(config, n + n // 50, seed=5)
    t0 = time.process_time()
    store = EmbeddedStore.open(data, config, fsync=False, snapshot_every=10**9)
    i = 0
    while store.last_seq < n and i < len(events):
        take = min(1000, n - store.last_seq)
        store.ingest(events[i : i + take])
        i += take
    assert store.last_seq == n, f"only {store.last_seq} entries from {len(events)} events"
    store.close()
    return time.process_time() - t0


def bare_decode(data: Path) -> int:
    """The baseline: walk the record headers and msgpack-decode every payload."""
    n = 0
    size = HEADER.size
    unpack = struct.Struct("<I").unpack_from
    for _, path in list_segments(log_dir(data)):
        buf = path.read_bytes()
        mv = memoryview(buf)
        off = 0
        while off < len(buf):
            (length,) = unpack(buf, off)
            msgpack.unpackb(mv[off + size : off + size + length], raw=False)
            off += size + length
            n += 1
    return n


def scan_decode(data: Path) -> int:
    n = 0
    for seq, payload in LogScan(log_dir(data)):
        decode_payload(seq, payload)
        n += 1
    return n


def recover(config: HelplineConfig, data: Path) -> dict[str, Any]:
    """``EmbeddedStore.open`` from the log alone (no snapshot): its recovery report."""
    shutil.rmtree(data / "snapshots", ignore_errors=True)
    store = EmbeddedStore.open(data, config, fsync=False, snapshot_every=10**9)
    report = dict(store.recovery_report)
    store.close()
    return report


def bench_recovery(
    config: HelplineConfig, data: Path, n: int, rounds: int = ROUNDS
) -> dict[str, Any]:
    out: dict[str, Any] = {"entries": n, "rounds": rounds}
    if not (log_dir(data)).is_dir():
        out["build_s"] = build_log(config, data, n)
    out["log_bytes"] = sum(p.stat().st_size for _, p in list_segments(log_dir(data)))
    assert bare_decode(data) == n and scan_decode(data) == n
    rep = recover(config, data)
    assert rep["entries_replayed"] == n, rep
    assert rep["diverged"] == 0, rep
    times = interleave(
        [
            ("bare_s", lambda: bare_decode(data)),
            ("scan_s", lambda: scan_decode(data)),
            ("recover_s", lambda: recover(config, data)),
        ],
        rounds,
    )
    for key, values in times.items():
        out[key] = median(values)
    out["ratio"] = out["bare_s"] / out["recover_s"]
    return out


def report(rows: list[dict[str, Any]], rec: dict[str, Any]) -> str:
    lines = ["(a) appends, events per CPU second (durable = one fsync per batch)"]
    lines.append(
        f"{'batch':>6} {'ingest+fsync':>13} {'ingest no-fsync':>16} {'ratio':>7}"
        f" {'writer+fsync':>13} {'writer no-fsync':>16} {'ratio':>7}"
    )
    for r in rows:
        lines.append(
            f"{r['batch']:>6} {r['ingest_fsync']:>13,.0f} {r['ingest_nofsync']:>16,.0f}"
            f" {r['ingest_fsync'] / r['ingest_nofsync']:>7.3f}"
            f" {r['writer_fsync']:>13,.0f} {r['writer_nofsync']:>16,.0f}"
            f" {r['writer_fsync'] / r['writer_nofsync']:>7.3f}"
        )
    n = rec["entries"]
    lines.append(
        f"(b) recovery of {n:,} entries ({rec['log_bytes'] / 2**20:,.1f} MiB),"
        f" {rec['rounds']} interleaved rounds, CPU time, medians"
    )
    if "build_s" in rec:
        lines.append(f"    building the log (routing + encoding): {rec['build_s']:.1f} CPU s")
    for label, key in (
        ("bare msgpack decode loop (baseline)", "bare_s"),
        ("log scan: CRCs + decode, no router", "scan_s"),
        ("EmbeddedStore.open: verified replay", "recover_s"),
    ):
        lines.append(
            f"    {label:38} {rec[key]:7.2f} s {n / rec[key]:>12,.0f} entries/s"
            f"  x{rec[key] / rec['bare_s']:.2f} of baseline time"
        )
    ratio = rec["ratio"]
    lines.append(
        f"    replay speed / bare decode speed {ratio:.2f}x (target at least {TARGET_RATIO:g}x):"
        f" {verdict(ratio >= TARGET_RATIO)}"
    )
    return "\n".join(lines)


def test_log_recovery(benchmark) -> None:  # type: ignore[no-untyped-def]
    config = load_config(CONFIG)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        rec = bench_recovery(config, data, 20_000)
        benchmark.pedantic(recover, args=(config, data), rounds=1, iterations=1)
        benchmark.extra_info["bare_decode_cpu_s"] = rec["bare_s"]
        benchmark.extra_info["recover_cpu_s"] = rec["recover_s"]
        benchmark.extra_info["ratio_replay_to_bare_speed"] = rec["ratio"]
        assert rec["ratio"] >= TARGET_RATIO, f"replay is {rec['ratio']:.2f}x bare decode speed"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=ENTRIES)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--dir", help="keep the log here and reuse it on the next run")
    parser.add_argument("--skip-append", action="store_true")
    args = parser.parse_args()
    config = load_config(CONFIG)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rows = [] if args.skip_append else bench_append(config, work)
        data = Path(args.dir) if args.dir else work / "recovery"
        rec = bench_recovery(config, data, args.entries, args.rounds)
    print(report(rows, rec))
    return 0 if rec["ratio"] >= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
