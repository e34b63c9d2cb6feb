"""Snapshots by a follower process: the serving process never forks, and nothing it has not logged
is ever in a snapshot.

- The follower's snapshots, taken while ingest goes on, recover to exactly the
  state of a full replay, and the log is left as it was.
- It snapshots a long tail this recovery replayed as soon as it caught up.
- ``LogTail`` hands out complete records only: a record cut mid-write (or a
  zero-filled extension) is read once it is complete; a whole record that fails
  its checksum is corruption.
- The follower exits when the service closes the pipe, or dies.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adapters.store import EmbeddedStore, log_dir
from adapters.store.errors import CorruptLog
from adapters.store.follower import LogTail, SnapshotFollower
from adapters.store.segments import encode_record, list_segments
from adapters.store.snapshots import snapshot_dir
from router import HelplineConfig, checkpoint
from tests.helpers.store_workload import workload


def snaps(data: Path) -> list[int]:
    return sorted(int(p.name.split(".")[0]) for p in snapshot_dir(data).glob("*.snap"))


def wait_for(condition, what: str, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"never happened: {what}")


def test_the_followers_snapshots_recover_as_a_full_replay_and_the_log_is_left_as_it_was(
    vo_config: HelplineConfig, tmp_path: Path
) -> None:
    events = [op.event for op in workload(vo_config, seed=8, n_events=500) if op.event is not None]
    data = tmp_path / "a"
    with EmbeddedStore.open(data, vo_config, snapshot_every=40, fsync=False,
                            follower=True) as store:  # fmt: skip
        store.start_follower()
        half = len(events) // 2
        for i in range(0, half, 5):
            store.ingest(events[i : i + 5])
        wait_for(lambda: snaps(data), "a first snapshot")
        first = snaps(data)[-1]
        for i in range(half, len(events), 5):
            store.ingest(events[i : i + 5])
        last = store.last_seq
        wait_for(lambda: snaps(data)[-1] > last - 40, "a snapshot near the end")
        assert first <= half < last - 40
        assert not store._child  # never a fork
        logged = {p.name: p.read_bytes() for _, p in list_segments(log_dir(data))}
    taken = snaps(data)
    assert len(taken) == 2 and taken[-1] <= last  # (the last KEEP are kept)
    assert logged == {p.name: p.read_bytes() for _, p in list_segments(log_dir(data))}
    copy = tmp_path / "b"
    shutil.copytree(data / "log", copy / "log")
    with (
        EmbeddedStore.open(data, vo_config, fsync=False) as a,
        EmbeddedStore.open(copy, vo_config, fsync=False) as b,
    ):
        assert a.recovery_report["from_snapshot"] == taken[-1]
        assert b.recovery_report["from_snapshot"] is None
        assert (last, last) == (a.last_seq, b.last_seq)
        # (the dumps first: Router.snapshot() marks the rosters due on a router just
        # loaded from a checkpoint, not on a replayed one, and the dump holds that mark)
        assert checkpoint.dump(b.router) == checkpoint.dump(a.router)
        assert b.router.snapshot() == a.router.snapshot()


def test_a_long_recovered_tail_is_snapshotted_once_the_follower_caught_up(
    vo_config: HelplineConfig, tmp_path: Path
) -> None:
    events = [op.event for op in workload(vo_config, seed=9, n_events=200) if op.event is not None]
    with EmbeddedStore.open(tmp_path, vo_config, fsync=False) as store:
        store.ingest(events)
        last = store.last_seq
    # A tail of snapshot_every // 10 records or more: snapshotted with no new record.
    with EmbeddedStore.open(tmp_path, vo_config, snapshot_every=10 * last, fsync=False,
                            follower=True) as store:  # fmt: skip
        assert store.recovery_report["entries_replayed"] == last
        store.start_follower()
        wait_for(lambda: snaps(tmp_path) == [last], "the tail's snapshot")
    # A shorter one is left to the next snapshot_every records.
    with EmbeddedStore.open(tmp_path, vo_config, snapshot_every=10**6, fsync=False,
                            follower=True) as store:  # fmt: skip
        store.start_follower()
        store.ingest([])
    assert snaps(tmp_path) == [last]


def test_the_tail_hands_out_complete_records_only(tmp_path: Path) -> None:
    seg = tmp_path / f"{1:020d}.seg"
    records = [encode_record(i, f"payload {i}".encode()) for i in (1, 2, 3)]
    seg.write_bytes(records[0] + records[1][:7])
    tail = LogTail(tmp_path, 1)
    assert tail.read() == [(1, b"payload 1")]
    with seg.open("ab") as f:
        f.write(records[1][7:] + b"\0" * 30)  # then a zero-filled extension
    assert tail.read() == [(2, b"payload 2")]
    seg.write_bytes(records[0] + records[1] + records[2])
    assert tail.read() == [(3, b"payload 3")]
    (tmp_path / f"{4:020d}.seg").write_bytes(encode_record(4, b"next segment"))
    assert tail.read() == [(4, b"next segment")]
    assert tail.read() == []
    tail.close()
    late = LogTail(tmp_path, 3)  # starts mid-segment
    assert late.read() == [(3, b"payload 3")]
    assert late.read() == [(4, b"next segment")]
    late.close()
    bad = bytearray(records[0])
    bad[-1] ^= 1
    seg.write_bytes(bytes(bad))
    with pytest.raises(CorruptLog):
        LogTail(tmp_path, 1).read()


def test_the_follower_exits_when_the_pipe_closes_even_if_the_service_is_killed(
    vo_config: HelplineConfig, tmp_path: Path
) -> None:
    follower = SnapshotFollower(tmp_path, vo_config, snapshot_every=100, fsync=False)
    assert follower.proc.poll() is None
    assert follower.stop(timeout=60) == 0
    # A parent killed with SIGKILL: its end of the pipe closes with it.
    script = (
        "import sys, time; from pathlib import Path; "
        "from adapters.store.follower import SnapshotFollower; "
        "from adapters.config_file import load_config; "
        f"f = SnapshotFollower(Path({str(tmp_path)!r}), load_config(sys.argv[1]), "
        "snapshot_every=100, fsync=False); print(f.proc.pid, flush=True); time.sleep(600)"
    )
    root = Path(__file__).resolve().parent.parent
    parent = subprocess.Popen([sys.executable, "-c", script, str(root / "config" / "vo-linjen.toml")],
                              cwd=root, stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)
    parent.wait()

    def gone() -> bool:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return True
        # (a zombie until init reaps it: its state is Z)
        with open(f"/proc/{child}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"

    wait_for(gone, "the orphaned follower's exit")


def test_the_follower_starts_once_the_log_is_a_tenth_of_the_interval_past_the_snapshot(
    vo_config: HelplineConfig, tmp_path: Path
) -> None:
    events = [op.event for op in workload(vo_config, seed=10, n_events=60) if op.event is not None]
    with EmbeddedStore.open(tmp_path, vo_config, snapshot_every=100, fsync=False,
                            follower=True) as store:  # fmt: skip
        while store.last_seq < 9:
            store.ingest(events[:1])
            events = events[1:]
        assert (store.last_seq, store._follower) == (9, None)
        while store.last_seq < 10:
            store.ingest(events[:1])
            events = events[1:]
        assert store._follower is not None and store._follower.proc.poll() is None
        follower = store._follower
    assert follower.proc.returncode == 0  # stopped with the store
