"""The HTTP crash loop: post a scripted event stream while the server is SIGKILLed at random.

Used by ``tests/test_http_crash.py`` (a reduced size in the default suite) and
``benchmarks/crash_http.py`` (50,000 events, at least 200 kills). Like a real
adapter, the sender keeps its own cursor: after each restart it resends from
the first batch it has no acknowledgement for, plus a few it already has
(which must come back "duplicate"). The server is killed

* while it recovers (before it answers ``/readyz``),
* right after an acknowledgement, and
* with a request in flight, a random 0-4 ms after sending it: inside the
  group commit, the write, the fsync or the answer.

A response that arrived before the kill counts as an acknowledgement. After
every kill the log must hold every event acknowledged "accepted" exactly once,
with no gap in its sequence numbers and nothing that a clean run would not
accept; at the end the log's events, its records and the statistics served
over HTTP must equal a clean in-memory run of the same stream.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import json
import os
import random
import select
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters.http.wire import event_adapter, to_event
from adapters.store import read_entries
from router import Event, HelplineConfig, Router
from router.events import event_to_dict
from router.records import Record
from router.stats import fold_for_config, stats_to_json
from tests.helpers.store_workload import workload
from tests.http_helpers import TOKENS, bearer

ROOT = Path(__file__).resolve().parents[2]
SERVER = [sys.executable, "-m", "tests.helpers.http_crash_server"]
GROUP_BY = ("channel", "team")


@dataclass
class CrashReport:
    events: int
    runs: int = 0
    kills: int = 0
    kills_in_recovery: int = 0
    kills_in_flight: int = 0
    kills_after_ack: int = 0
    in_flight_acked: int = 0
    requests: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    log_entries: int = 0
    seconds: float = 0.0
    log_sizes: list[int] = field(default_factory=list)


def wire_events(config: HelplineConfig, *, seed: int, n_events: int) -> list[Event]:
    """The scripted stream as the server sees it: sent by ``carrier``, parsed from JSON."""
    out = []
    for op in workload(config, seed=seed, n_events=n_events):
        if op.event is None:
            continue  # ticks: the service keeps time itself
        d = event_to_dict(op.event)
        d["source"] = "carrier"
        d["at"] = dt.datetime.fromtimestamp(d["at"], dt.UTC).isoformat()
        out.append(to_event(event_adapter.validate_python(d)))
    return out


def to_wire(event: Event) -> dict[str, Any]:
    d = event_to_dict(event)
    d["at"] = dt.datetime.fromtimestamp(d["at"], dt.UTC).isoformat()
    return d


def clean_run(config: HelplineConfig, events: list[Event]) -> tuple[list[str], list[Record]]:
    """Ids accepted and records made by a fresh in-memory router fed the same stream."""
    router = Router(config)
    # The service starts the core's clock when it opens.
    records = router.advance(events[0].at).records
    accepted: list[str] = []
    for e in events:
        step = router.apply(e)
        records += step.records
        if step.accepted:
            accepted.append(e.event_id)
    return accepted, records


class Lines:
    """Lines from the zygote's stdout, with a deadline so that a hang fails the run."""

    def __init__(self, fd: int) -> None:
        self.fd, self.buf = fd, b""

    def next(self, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            ready, _, _ = select.select([self.fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise AssertionError("the crash server's zygote stopped answering")
            chunk = os.read(self.fd, 65536)
            if not chunk:
                raise AssertionError("the crash server's zygote exited")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ready(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.005)
    raise AssertionError("the server did not become ready")


def _post(conn: http.client.HTTPConnection, batch: list[Event]) -> None:
    body = json.dumps({"events": [to_wire(e) for e in batch]})
    headers = {**bearer("carrier"), "Content-Type": "application/json"}
    conn.request("POST", "/v1/events", body=body, headers=headers)


def _answer(conn: http.client.HTTPConnection) -> list[dict[str, Any]] | None:
    """The results of the request in flight, or None if the server died before answering."""
    try:
        r = conn.getresponse()
        data = r.read()
    except (OSError, http.client.HTTPException):
        return None
    if r.status != 200:
        raise AssertionError(f"the server answered {r.status}: {data[:300]!r}")
    return json.loads(data)["results"]  # type: ignore[no-any-return]


class Acks:
    """What the server acknowledged, checked as it arrives."""

    def __init__(self, report: CrashReport) -> None:
        self.report = report
        self.status: dict[str, str] = {}
        self.accepted: set[str] = set()

    def take(self, results: list[dict[str, Any]]) -> None:
        for r in results:
            eid, status = r["event_id"], r["status"]
            if status == "accepted":
                assert eid not in self.accepted, f"{eid} was accepted twice"
                self.accepted.add(eid)
                self.report.accepted += 1
            elif status == "duplicate":
                assert eid in self.accepted or self.status.get(eid) != "rejected", eid
                self.report.duplicates += 1
            else:
                self.report.rejected += 1
            self.status[eid] = status


def check_log(data: Path, acks: Acks, clean_ids: set[str]) -> int:
    """Every acknowledged event is in the log exactly once, sequence without gaps."""
    entries = list(read_entries(data))
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    logged = Counter(e.event.event_id for e in entries if e.event is not None)
    assert [eid for eid, n in logged.items() if n > 1] == []
    assert set(logged) <= clean_ids
    assert sorted(acks.accepted - set(logged)) == []
    return len(entries)


def run_crash_loop(
    data: Path,
    config: HelplineConfig,
    *,
    n_events: int,
    kills: int,
    seed: int,
    snapshot_every: int = 500,
    progress: Callable[[CrashReport], None] | None = None,
) -> CrashReport:
    """Run the loop until ``kills`` SIGKILLs have landed and the stream is through; check it."""
    events = wire_events(config, seed=seed, n_events=n_events)
    clean_ids, clean_records = clean_run(config, events)
    clean_set = set(clean_ids)
    rng = random.Random(seed)
    report = CrashReport(events=len(events))
    acks = Acks(report)
    # Batches of 1-4 events, fixed for the run; the sender's cursor is a batch index.
    batches: list[list[Event]] = []
    i = 0
    while i < len(events):
        n = rng.randint(1, 4)
        batches.append(events[i : i + n])
        i += n
    per_run = max(1, len(batches) // max(1, kills))
    cursor = 0  # first batch without an acknowledgement
    engine_dir = data / config.id
    zygote = subprocess.Popen(
        [*SERVER, str(data), repr(events[0].at), str(snapshot_every)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert zygote.stdin is not None and zygote.stdout is not None
    lines = Lines(zygote.stdout.fileno())
    t0 = time.monotonic()
    try:
        while report.kills < kills or cursor < len(batches):
            report.runs += 1
            assert report.runs < 3 * kills + 50, "the loop is not making progress"
            final = report.kills >= kills
            port = _free_port()
            zygote.stdin.write(f"run {port}\n".encode())
            zygote.stdin.flush()
            pid = int(lines.next().split()[1])
            if not final and rng.random() < 0.1:
                time.sleep(rng.uniform(0.0, 0.05))  # kill it while it recovers
                os.kill(pid, signal.SIGKILL)
                report.kills_in_recovery += 1
            else:
                _ready(port)
                cursor = _send(
                    port,
                    pid,
                    batches,
                    cursor,
                    acks,
                    rng=rng,
                    report=report,
                    final=final,
                    per_run=per_run,
                )
            status = int(lines.next().split()[1])
            if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
                report.kills += 1
            size = check_log(engine_dir, acks, clean_set)
            report.log_sizes.append(size)
            if progress is not None:
                progress(report)
    finally:
        zygote.stdin.close()
        zygote.wait(timeout=60)
    report.seconds = time.monotonic() - t0

    # The whole stream is through: the log equals the clean run, and so do the figures.
    report.log_entries = check_log(engine_dir, acks, clean_set)
    entries = list(read_entries(engine_dir))
    assert [e.event.event_id for e in entries if e.event is not None] == clean_ids
    assert [r for e in entries for r in e.records] == clean_records
    clean_stats = json.loads(json.dumps(stats_to_json(
        fold_for_config(clean_records, config, group_by=GROUP_BY))))  # fmt: skip
    assert _served_stats(data) == clean_stats
    return report


def _send(
    port: int,
    pid: int,
    batches: list[list[Event]],
    cursor: int,
    acks: Acks,
    *,
    rng: random.Random,
    report: CrashReport,
    final: bool,
    per_run: int,
) -> int:
    """Send from (a little before) the cursor; kill the server at a random point."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    start = max(0, cursor - rng.randint(0, 3))  # some already acknowledged: duplicates
    target = len(batches) if final else start + rng.randint(0, 2 * per_run)
    b = start
    while b < min(target, len(batches)):
        _post(conn, batches[b])
        results = _answer(conn)
        assert results is not None, "the server died on its own"
        report.requests += 1
        acks.take(results)
        b += 1
        cursor = max(cursor, b)
    if final and b >= len(batches):
        os.kill(pid, signal.SIGTERM)
        conn.close()
        return cursor
    if b < len(batches) and rng.random() < 0.7:
        # A request in flight when the server dies: inside the commit, fsync or answer.
        _post(conn, batches[b])
        time.sleep(rng.choice([0.0, rng.uniform(0.0, 0.004)]))
        os.kill(pid, signal.SIGKILL)
        results = _answer(conn)
        report.kills_in_flight += 1
        if results is not None:
            report.in_flight_acked += 1
            report.requests += 1
            acks.take(results)
            cursor = max(cursor, b + 1)
    else:
        os.kill(pid, signal.SIGKILL)
        report.kills_after_ack += 1
    conn.close()
    return cursor


def _served_stats(data: Path) -> Any:
    """Start the service once more, uninterrupted, and ask it for the statistics."""
    with contextlib.ExitStack() as stack:
        zygote = subprocess.Popen(
            [*SERVER, str(data), "0", "500"], cwd=ROOT, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )  # fmt: skip
        stack.callback(zygote.wait, 60)
        assert zygote.stdin is not None and zygote.stdout is not None
        stack.callback(zygote.stdin.close)
        lines = Lines(zygote.stdout.fileno())
        port = _free_port()
        zygote.stdin.write(f"run {port}\n".encode())
        zygote.stdin.flush()
        pid = int(lines.next().split()[1])
        _ready(port)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", f"/v1/stats?group_by={','.join(GROUP_BY)}",
                     headers={"Authorization": f"Bearer {TOKENS['planner']}"})  # fmt: skip
        r = conn.getresponse()
        body = r.read()
        conn.close()
        os.kill(pid, signal.SIGTERM)
        lines.next()
        assert r.status == 200, body
        return json.loads(body)
