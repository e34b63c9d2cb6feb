"""Append-only segment files of length-prefixed, checksummed, numbered records.

A log is a directory of segments named by the sequence number of their first
record (``00000000000000000001.seg``), rolled at a size limit. Each record::

    offset  size  field
    0       4     payload length n (u32, little-endian)
    4       8     seq (u64), contiguous from 1 across segments
    12      4     CRC32 of seq (8 bytes, LE) + payload
    16      4     CRC32 of bytes 0-15: a header checksum, so that a flipped bit in
                  a length field is caught where it is instead of making a middle
                  record look like a torn tail and dropping everything after it
    20      n     payload (msgpack, opaque here)

Only the end of the last segment may be torn (a crash mid-append): a short
header, a short payload or a zero-filled tail (ext4 may extend a file before
its blocks reach the disk) is reported as a ``TornTail`` and cut off by the
writer. A last record whose header checks out and whose payload is all there
but fails its checksum was written whole: that is damage, not a torn write,
and it may be an acknowledged event, so its bytes are kept aside in
``quarantine/`` beside the segment (and the recovery report says where)
before it is cut off; nothing acknowledged is ever dropped without a trace. Anything else that fails
a check, anywhere, is ``CorruptLog`` naming the segment and byte offset:
nothing is skipped silently. A batch is written with one ``write`` and one
``fsync`` (group commit, as PostgreSQL's WAL and etcd's do), and the directory
is fsynced whenever a segment is created, so the new name survives a crash.
"""

from __future__ import annotations

import logging
import os
import re
import struct
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from adapters.store.errors import CorruptLog, FsyncFailed, LogWriteFailed
from router.errors import InternalError

__all__ = [
    "DEFAULT_SEGMENT_BYTES",
    "HEADER",
    "MAX_PAYLOAD",
    "LogScan",
    "SegmentWriter",
    "TornTail",
    "encode_record",
    "fsync_dir",
    "list_segments",
    "make_dir",
    "segment_name",
    "truncate_tail",
]

log = logging.getLogger("linje.store")

HEADER = struct.Struct("<IQII")
_SEQ = struct.Struct("<Q")
_HEAD_SUM = 16  # the header checksum covers the first 16 bytes
# 64 MiB, Kafka's and etcd's order of magnitude: few files, cheap to roll.
DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024
# A log entry is one event and its commands: kilobytes. A larger length in a
# header whose checksum passed cannot come from us.
MAX_PAYLOAD = 16 * 1024 * 1024
_NAME = re.compile(r"^(\d{20})\.seg$")


def segment_name(first_seq: int) -> str:
    """File name of the segment whose first record has ``first_seq``."""
    return f"{first_seq:020d}.seg"


def encode_record(seq: int, payload: bytes) -> bytes:
    """One record: header (length, seq, CRCs) followed by the payload."""
    crc = zlib.crc32(payload, zlib.crc32(_SEQ.pack(seq)))
    head = struct.pack("<IQI", len(payload), seq, crc)
    return head + struct.pack("<I", zlib.crc32(head)) + payload


def make_dir(path: Path) -> None:
    """Create ``path`` (private to the service) and make its name durable."""
    if path.is_dir():
        return
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    """fsync a directory so that files created or renamed in it survive a crash."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def list_segments(log_dir: Path) -> list[tuple[int, Path]]:
    """(first seq, path) of every segment, in order; a stray ``.seg`` name is corruption."""
    if not log_dir.is_dir():
        return []
    out: list[tuple[int, Path]] = []
    for p in log_dir.iterdir():
        if not p.name.endswith(".seg"):
            continue  # temp files and notes left by an operator are not ours to judge
        m = _NAME.match(p.name)
        if m is None or int(m.group(1)) < 1:
            raise CorruptLog(
                "segment file name is not a 20-digit first sequence number",
                segment=str(p),
                offset=0,
            )
        out.append((int(m.group(1)), p))
    out.sort()
    return out


@dataclass(frozen=True, slots=True)
class TornTail:
    """An incomplete last record: where it starts and how many bytes it spans."""

    segment: str
    offset: int
    dropped: int
    reason: str
    damaged: bool = False  # a whole record that fails its checksum: kept aside, not just cut

    @property
    def quarantine(self) -> Path:
        """Where a damaged record's bytes are kept."""
        seg = Path(self.segment)
        return seg.parent / "quarantine" / f"{seg.stem}.{self.offset}.bad"

    def message(self) -> str:
        if self.damaged:
            return (
                f"damaged last record in {self.segment} at byte {self.offset}: {self.reason}; "
                f"its {self.dropped} bytes were kept in {self.quarantine} and cut from the log"
            )
        return (
            f"torn tail in {self.segment} at byte {self.offset}: {self.reason}; "
            f"{self.dropped} bytes dropped"
        )


class LogScan:
    """Iterate ``(seq, payload)`` of the records with ``seq >= from_seq``, checking each.

    With ``stop_seq`` the iteration ends after that record (a partial read
    of a long log). Raises ``CorruptLog`` on a bad record anywhere but the tail of the last
    segment and on a gap in the sequence. A torn tail ends the iteration and is
    left in ``torn``; the scan itself never modifies the files. After the
    iteration ``last_seq`` is the last complete record's seq (0 for an empty
    log), ``last_segment`` the last segment's path and ``valid_size`` the
    length of its complete records.
    """

    def __init__(self, log_dir: Path, from_seq: int = 1, *, stop_seq: int | None = None) -> None:
        self.log_dir = log_dir
        self.from_seq = max(1, from_seq)
        self.stop_seq = stop_seq
        self.torn: TornTail | None = None
        self.last_seq = 0
        self.last_segment: Path | None = None
        self.valid_size = 0

    def __iter__(self) -> Iterator[tuple[int, memoryview]]:
        segments = list_segments(self.log_dir)
        if not segments:
            return
        start = 0
        for i, (first, _) in enumerate(segments):
            if first <= self.from_seq:
                start = i
        first0, path0 = segments[start]
        if first0 > self.from_seq:
            raise CorruptLog(
                f"the log has no record {self.from_seq}: its first segment begins at {first0}",
                segment=str(path0),
                offset=0,
            )
        self.last_seq = first0 - 1
        for i in range(start, len(segments)):
            first, path = segments[i]
            if first != self.last_seq + 1:
                raise CorruptLog(
                    f"sequence gap: segment begins at {first}, the previous record was "
                    f"{self.last_seq}",
                    segment=str(path),
                    offset=0,
                )
            last = i == len(segments) - 1
            self.last_segment = path
            yield from self._segment(path, first, last=last)
            if self.stop_seq is not None and self.last_seq >= self.stop_seq:
                return

    def _segment(self, path: Path, first: int, *, last: bool) -> Iterator[tuple[int, memoryview]]:
        data = path.read_bytes()
        mv = memoryview(data)
        size = len(data)
        off = 0
        expected = first
        name = str(path)
        hsize = HEADER.size
        while off < size:
            rem = size - off
            if rem < hsize:
                self._torn_or_corrupt(name, off, rem, "short record header", last)
                return
            length, seq, crc, hcrc = HEADER.unpack_from(data, off)
            if zlib.crc32(mv[off : off + _HEAD_SUM]) != hcrc:
                if last and not any(mv[off:]):
                    self._torn_or_corrupt(name, off, rem, "zero-filled tail", last)
                    return
                raise CorruptLog("record header checksum mismatch", segment=name, offset=off)
            if length > MAX_PAYLOAD:
                raise CorruptLog(
                    f"record length {length} exceeds {MAX_PAYLOAD}", segment=name, offset=off
                )
            end = off + hsize + length
            if end > size:
                self._torn_or_corrupt(
                    name, off, rem, f"payload of {length} bytes cut at {size - off - hsize}", last
                )
                return
            payload = mv[off + hsize : end]
            if zlib.crc32(payload, zlib.crc32(_SEQ.pack(seq))) != crc:
                if last and end == size:
                    self._torn_or_corrupt(
                        name,
                        off,
                        rem,
                        "payload checksum mismatch with an intact header",
                        last,
                        damaged=True,
                    )
                    return
                raise CorruptLog(f"checksum mismatch in record {seq}", segment=name, offset=off)
            if seq != expected:
                raise CorruptLog(
                    f"sequence gap: expected record {expected}, found {seq}",
                    segment=name,
                    offset=off,
                )
            self.last_seq = seq
            off = end
            self.valid_size = off
            if seq >= self.from_seq:
                yield seq, payload
            if self.stop_seq is not None and seq >= self.stop_seq:
                return
            expected += 1
        self.valid_size = off

    def _torn_or_corrupt(
        self, name: str, off: int, rem: int, reason: str, last: bool, *, damaged: bool = False
    ) -> None:
        self.valid_size = off
        if not last:
            raise CorruptLog(
                f"{reason} in a segment that is not the last", segment=name, offset=off
            )
        self.torn = TornTail(segment=name, offset=off, dropped=rem, reason=reason, damaged=damaged)


def _keep_aside(torn: TornTail, *, fsync: bool) -> None:
    """Copy a damaged record's bytes to its quarantine file, durably, before the cut."""
    with open(torn.segment, "rb") as f:
        f.seek(torn.offset)
        data = f.read(torn.dropped)
    make_dir(torn.quarantine.parent)
    fd = os.open(torn.quarantine, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)
    if fsync:
        fsync_dir(torn.quarantine.parent)


def truncate_tail(torn: TornTail, *, fsync: bool = True) -> None:
    """Cut a torn tail off its segment (durably) and log what was dropped.

    A damaged whole record is first kept aside (``TornTail.quarantine``) and
    logged as an error: it may be an acknowledged event.
    """
    if torn.damaged:
        _keep_aside(torn, fsync=fsync)
    fd = os.open(torn.segment, os.O_WRONLY)
    try:
        os.ftruncate(fd, torn.offset)
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)
    if torn.damaged:
        log.error("store: %s", torn.message())
    else:
        log.warning("store: %s", torn.message())


class SegmentWriter:
    """Appends batches of records, one ``write`` and one ``fsync`` per batch.

    Any ``OSError`` while writing raises ``LogWriteFailed`` (``FsyncFailed``
    for fsync) and every later append raises it again: the writer never
    retries, because after a failed fsync the kernel may have dropped the
    dirty pages and a retry that succeeds would acknowledge lost data.
    """

    def __init__(
        self,
        log_dir: Path,
        *,
        next_seq: int,
        tail: Path | None = None,
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
        fsync: bool = True,
    ) -> None:
        self.log_dir = log_dir
        self.next_seq = next_seq
        self.segment_bytes = segment_bytes
        self.fsync = fsync
        self._failed: LogWriteFailed | None = None
        self._fd: int | None = None
        self._size = 0
        self.segment: Path | None = None
        make_dir(log_dir)
        if tail is not None:
            self._fd = os.open(tail, os.O_WRONLY | os.O_APPEND)
            self._size = os.fstat(self._fd).st_size
            self.segment = tail

    @property
    def last_seq(self) -> int:
        return self.next_seq - 1

    @property
    def failed(self) -> LogWriteFailed | None:
        """The failure that stopped this writer, if any."""
        return self._failed

    def check(self) -> None:
        """Raise if an earlier write or fsync failed (the writer is stopped for good)."""
        if self._failed is not None:
            raise type(self._failed)(
                f"refusing to append: an earlier write failed and is never retried "
                f"({self._failed.detail})"
            )

    def append_many(self, payloads: Sequence[bytes]) -> int:
        """Append ``payloads`` as consecutive records, durable on return; the last seq."""
        self.check()
        if not payloads:
            return self.last_seq
        for p in payloads:
            if len(p) > MAX_PAYLOAD:
                raise InternalError(f"log entry of {len(p)} bytes exceeds {MAX_PAYLOAD}")
        seq = self.next_seq
        buf = b"".join([encode_record(seq + i, p) for i, p in enumerate(payloads)])
        if self._fd is None or (self._size > 0 and self._size + len(buf) > self.segment_bytes):
            self._roll(seq)
        assert self._fd is not None
        try:
            view = memoryview(buf)
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
        except OSError as exc:
            self._fail(LogWriteFailed(f"write to {self.segment} failed: {exc}"))
        if self.fsync:
            try:
                os.fsync(self._fd)
            except OSError as exc:
                self._fail(FsyncFailed(f"fsync of {self.segment} failed: {exc}"))
        self._size += len(buf)
        self.next_seq += len(payloads)
        return self.last_seq

    def _roll(self, first_seq: int) -> None:
        # The previous segment was fsynced with its last batch; only close it.
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        path = self.log_dir / segment_name(first_seq)
        try:
            self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        except OSError as exc:
            self._fail(LogWriteFailed(f"cannot create segment {path}: {exc}"))
        self.segment = path
        self._size = 0
        if self.fsync:
            try:
                fsync_dir(self.log_dir)
            except OSError as exc:
                self._fail(FsyncFailed(f"fsync of directory {self.log_dir} failed: {exc}"))

    def _fail(self, err: LogWriteFailed) -> NoReturn:
        self._failed = err
        log.error("store: %s; no further appends", err.detail)
        raise err

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
