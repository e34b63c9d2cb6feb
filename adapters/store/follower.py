"""Snapshots written by a follower process that replays the log, so the serving process never forks.

A forked snapshot (``snapshots.BackgroundSnapshot``) costs the serving process
little at the fork, but for as long as the child encodes the state (1.6 s at
150k events of one day) every page the service writes is copied first
(copy-on-write faults, counted as the loop's own CPU time): batches that take
0.3 ms took 5-85 ms then. Under sustained load a child was alive most of the
time.

The follower is a separate program (``python -m adapters.store.follower``,
started once by ``EmbeddedStore.start_follower``) with its own memory: it
loads the newest usable snapshot, then reads the records the service appends
(``LogTail``: never modifying the log; a record not yet complete is read on
the next pass) and replays each through its own ``Router``, verified exactly
as recovery does (``recovery.replay_verified``). Every ``snapshot_every``
records, and once as soon as it has caught up with a tail of
``snapshot_every // 10`` or more (a restart that replayed a long tail), it
fsyncs the segment it read (so the snapshot never covers records the disk
may still lose) and writes a snapshot (``snapshots.write_snapshot``: temp
file, fsync, rename). The serving process does no snapshot work at all.

The follower stops when its standard input reaches end of file: the service
closed the pipe, or died (kill -9 closes it too); it then reads what is left
of the log and, if that is ``snapshot_every // 10`` records or more, writes a
last snapshot (after a clean stop the next start replays little). It writes to the log
directory nothing, takes no lock, and a follower that stops (an error, a
divergence) only means the next recovery replays a longer tail; its exit
status and one line on stderr say why.
"""

from __future__ import annotations

import contextlib
import gc
import os
import select
import subprocess
import sys
import zlib
from pathlib import Path

from adapters.store.entries import decode_payload, log_dir
from adapters.store.errors import CorruptLog
from adapters.store.recovery import replay_verified
from adapters.store.segments import _HEAD_SUM, _SEQ, HEADER, MAX_PAYLOAD, list_segments
from adapters.store.snapshots import config_fingerprint, load_latest, write_snapshot
from router.config import HelplineConfig
from router.core import Router

__all__ = ["POLL_S", "LogTail", "SnapshotFollower", "follow"]

# How often an idle follower looks for new records (a snapshot is due only
# every ``snapshot_every`` records: this bounds nothing but its own wake-ups).
POLL_S = 0.05
# The follower's scheduling priority (19: the lowest), so that on a busy machine the
# service's threads run first; it catches up when the load drops.
NICE = 19
# Exit statuses of the follower program.
EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


class LogTail:
    """The records appended to a log since the last ``read``, from ``next_seq`` on.

    Read-only: the bytes after the last complete record (a batch being
    written, a zero-filled extension) are left for a later ``read``; a record
    whose bytes are all there but fail a check is ``CorruptLog``.
    """

    def __init__(self, log_dir: Path, next_seq: int) -> None:
        self.log_dir = log_dir
        self.next_seq = next_seq  # the next record to hand out
        self.path: Path | None = None
        self._fd: int | None = None
        self._offset = 0  # bytes of the open segment consumed
        self._expected = 0  # seq of the next record in the open segment

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def sync(self) -> None:
        """fsync the open segment: every record read so far is then on the disk (the
        earlier segments were fsynced by the writer before it rolled to a new one)."""
        if self._fd is not None:
            os.fsync(self._fd)

    def _open(self) -> bool:
        segments = [
            (first, p) for first, p in list_segments(self.log_dir) if first <= self.next_seq
        ]
        if not segments:
            return False
        first, path = segments[-1]
        self._fd = os.open(path, os.O_RDONLY)
        self.path, self._offset, self._expected = path, 0, first
        return True

    def read(self) -> list[tuple[int, bytes]]:
        """(seq, payload) of every complete record past the last one handed out."""
        out: list[tuple[int, bytes]] = []
        if self._fd is None and not self._open():
            return out
        while True:
            assert self._fd is not None and self.path is not None
            size = os.fstat(self._fd).st_size
            if size > self._offset:
                data = os.pread(self._fd, size - self._offset, self._offset)
                self._offset += self._records(data, out)
            if self._offset < size:
                return out  # the rest is not complete yet
            following = self.log_dir / f"{self._expected:020d}.seg"
            if out or not following.exists():
                return out  # (at most one segment's records per read)
            os.close(self._fd)
            self._fd = os.open(following, os.O_RDONLY)
            self.path, self._offset = following, 0

    def _records(self, data: bytes, out: list[tuple[int, bytes]]) -> int:
        """Parse the complete records at the start of ``data``; the bytes consumed."""
        name = str(self.path)
        off, size, hsize = 0, len(data), HEADER.size
        while size - off >= hsize:
            length, seq, crc, hcrc = HEADER.unpack_from(data, off)
            if zlib.crc32(data[off : off + _HEAD_SUM]) != hcrc:
                if not any(data[off:]):
                    break  # a zero-filled extension: the record is not written yet
                raise CorruptLog(
                    "record header checksum mismatch", segment=name, offset=self._offset + off
                )
            if length > MAX_PAYLOAD:
                raise CorruptLog(f"record length {length} exceeds {MAX_PAYLOAD}", segment=name)
            end = off + hsize + length
            if end > size:
                break  # the payload is still being written
            payload = data[off + hsize : end]
            if zlib.crc32(payload, zlib.crc32(_SEQ.pack(seq))) != crc:
                raise CorruptLog(f"checksum mismatch in record {seq}", segment=name)
            if seq != self._expected:
                raise CorruptLog(f"sequence gap: expected record {self._expected}, found {seq}")
            self._expected += 1
            if seq >= self.next_seq:
                out.append((seq, payload))
                self.next_seq = seq + 1
            off = end
        return off


def _closed(fd: int, timeout: float) -> bool:
    """True once ``fd`` (the service's end of our stdin) is at end of file."""
    readable, _, _ = select.select([fd], [], [], timeout)
    if not readable:
        return False
    return os.read(fd, 4096) == b""


def follow(
    data_dir: Path,
    config: HelplineConfig,
    *,
    snapshot_every: int,
    fsync: bool,
    stop_fd: int,
) -> int:
    """Replay the log as it grows and write snapshots, until ``stop_fd`` closes; the last
    snapshot's seq (0: none written)."""
    gc.disable()  # the core makes no reference cycles (router.step.collector_paused)
    snap, _ = load_latest(data_dir, config)
    router, snap_seq = (snap.router, snap.seq) if snap is not None else (Router(config), 0)
    tail = LogTail(log_dir(data_dir), snap_seq + 1)
    last, written, caught_up, stopping = snap_seq, 0, False, False
    worth = max(1, snapshot_every // 10)
    try:
        while True:
            records = tail.read()
            for seq, payload in records:
                replay_verified(router, seq, decode_payload(seq, payload, tail.path), "raise")
                last = seq
            idle = not records
            # Every snapshot_every records; once caught up with a long tail (a restart);
            # and at the end, so that a clean stop is followed by a short recovery.
            if last - snap_seq >= snapshot_every or (
                idle and (stopping or not caught_up) and last - snap_seq >= worth
            ):
                if fsync:
                    tail.sync()
                write_snapshot(data_dir, last, router, fsync=fsync)
                snap_seq = written = last
            if stopping and idle:
                return written
            caught_up = caught_up or idle
            stopping = stopping or _closed(stop_fd, POLL_S if idle else 0)
    finally:
        tail.close()


class SnapshotFollower:
    """The service's handle on its follower process (see the module docstring)."""

    def __init__(
        self, data_dir: Path, config: HelplineConfig, *, snapshot_every: int, fsync: bool
    ) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "adapters.store.follower", str(data_dir), str(snapshot_every),
             "1" if fsync else "0", config_fingerprint(config)],
            stdin=subprocess.PIPE,
        )  # fmt: skip
        assert self.proc.stdin is not None
        # The configuration as JSON, one line (it round-trips exactly: the follower checks
        # its fingerprint); then the pipe stays open for as long as the service runs.
        self.proc.stdin.write(config.model_dump_json().encode() + b"\n")
        self.proc.stdin.flush()

    def stop(self, timeout: float = 30.0) -> int:
        """Close the pipe and wait for the follower (it finishes a snapshot it is writing)."""
        assert self.proc.stdin is not None
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def main(argv: list[str]) -> int:
    data_dir, every, fsync, fingerprint = Path(argv[0]), int(argv[1]), argv[2] == "1", argv[3]
    # Background work: the service's own threads come first whenever both want a CPU.
    os.nice(NICE)
    stdin = sys.stdin.buffer
    line = stdin.readline()
    if not line:
        return EXIT_OK  # the service was gone before we started
    config = HelplineConfig.model_validate_json(line)
    if config_fingerprint(config) != fingerprint:
        print("linje: snapshot follower: the configuration did not arrive intact", file=sys.stderr)
        return EXIT_CONFIG
    try:
        follow(data_dir, config, snapshot_every=every, fsync=fsync, stop_fd=stdin.fileno())
    except Exception as exc:
        print(f"linje: snapshot follower stopped: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover - the follower's own process
    sys.exit(main(sys.argv[1:]))
