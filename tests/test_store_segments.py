"""The segment log: records, rolls, torn tails (cut and reported) and corruption (refused)."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from adapters.store.errors import CorruptLog, FsyncFailed, LogWriteFailed
from adapters.store.segments import (
    HEADER,
    LogScan,
    SegmentWriter,
    encode_record,
    list_segments,
    segment_name,
    truncate_tail,
)


def payloads(n: int, start: int = 1) -> list[bytes]:
    # Varied lengths so that record boundaries fall at uneven offsets.
    return [f"entry-{i}:".encode() + bytes(i % 37) for i in range(start, start + n)]


def write_log(log_dir: Path, batches: list[list[bytes]], segment_bytes: int = 1 << 20) -> None:
    w = SegmentWriter(log_dir, next_seq=1, segment_bytes=segment_bytes, fsync=False)
    for b in batches:
        w.append_many(b)
    w.close()


def scan_all(log_dir: Path, from_seq: int = 1) -> tuple[list[tuple[int, bytes]], LogScan]:
    scan = LogScan(log_dir, from_seq)
    return [(seq, bytes(p)) for seq, p in scan], scan


def test_records_read_back_in_order_with_their_sequence_numbers(tmp_path: Path) -> None:
    data = payloads(25)
    write_log(tmp_path, [data[:1], data[1:11], data[11:]])
    got, scan = scan_all(tmp_path)
    assert got == list(enumerate(data, start=1))
    assert (scan.last_seq, scan.torn) == (25, None)


def test_a_record_is_header_then_payload_with_both_checksums(tmp_path: Path) -> None:
    rec = encode_record(7, b"abc")
    length, seq, _crc, _hcrc = HEADER.unpack_from(rec)
    assert (length, seq, rec[HEADER.size :]) == (3, 7, b"abc")


def test_reading_from_a_sequence_number_skips_the_earlier_records(tmp_path: Path) -> None:
    data = payloads(30)
    write_log(tmp_path, [data[i : i + 3] for i in range(0, 30, 3)], segment_bytes=200)
    got, _ = scan_all(tmp_path, from_seq=17)
    assert [s for s, _ in got] == list(range(17, 31))
    stopped = [s for s, _ in LogScan(tmp_path, 5, stop_seq=9)]
    assert stopped == [5, 6, 7, 8, 9]


def test_segments_roll_at_the_size_limit_and_are_named_by_their_first_record(
    tmp_path: Path,
) -> None:
    data = payloads(40)
    write_log(tmp_path, [[p] for p in data], segment_bytes=256)
    segs = list_segments(tmp_path)
    assert len(segs) > 3
    assert segs[0] == (1, tmp_path / segment_name(1))
    assert all(p.stat().st_size <= 256 for _, p in segs[:-1])
    assert scan_all(tmp_path)[0] == list(enumerate(data, start=1))


def test_a_writer_reopened_on_the_tail_continues_the_sequence(tmp_path: Path) -> None:
    write_log(tmp_path, [payloads(5)])
    _, scan = scan_all(tmp_path)
    w = SegmentWriter(tmp_path, next_seq=scan.last_seq + 1, tail=scan.last_segment, fsync=False)
    assert w.append_many(payloads(3, start=6)) == 8
    w.close()
    assert scan_all(tmp_path)[0] == list(enumerate(payloads(8), start=1))


def record_offsets(path: Path) -> list[int]:
    data = path.read_bytes()
    offs, off = [], 0
    while off < len(data):
        offs.append(off)
        off += HEADER.size + struct.unpack_from("<I", data, off)[0]
    return offs


def test_a_torn_tail_at_every_byte_of_the_last_three_records_is_cut_and_reported(
    tmp_path: Path,
) -> None:
    data = payloads(12)
    src = tmp_path / "src"
    write_log(src, [data[:4], data[4:9], data[9:]])
    seg = list_segments(src)[0][1]
    full = seg.read_bytes()
    offs = record_offsets(seg)
    assert len(offs) == 12
    cut_dir = tmp_path / "cut"
    cut_dir.mkdir()
    cut = cut_dir / seg.name
    ends = [*offs[1:], len(full)]
    for size in range(offs[-3], len(full)):
        cut.write_bytes(full[:size])
        complete = sum(1 for e in ends if e <= size)
        got, scan = scan_all(cut_dir)
        assert got == list(enumerate(data[:complete], start=1)), size
        boundary = size in offs
        assert (scan.torn is None) == boundary, size
        if scan.torn is not None:
            assert (scan.torn.segment, scan.torn.offset) == (str(cut), offs[complete])
            assert scan.torn.dropped == size - offs[complete]
            truncate_tail(scan.torn, fsync=False)
            assert cut.stat().st_size == offs[complete]
            assert scan_all(cut_dir)[1].torn is None


def test_a_zero_filled_tail_is_torn_not_corrupt(tmp_path: Path) -> None:
    write_log(tmp_path, [payloads(4)])
    seg = list_segments(tmp_path)[0][1]
    size = seg.stat().st_size
    with seg.open("ab") as f:
        f.write(bytes(100))
    got, scan = scan_all(tmp_path)
    assert len(got) == 4
    assert scan.torn is not None
    assert (scan.torn.offset, scan.torn.dropped, scan.torn.reason) == (
        size,
        100,
        "zero-filled tail",
    )


def test_a_flipped_byte_in_the_last_record_is_damage_kept_aside_not_a_silent_drop(
    tmp_path: Path,
) -> None:
    write_log(tmp_path, [payloads(4)])
    seg = list_segments(tmp_path)[0][1]
    raw = bytearray(seg.read_bytes())
    start = record_offsets(seg)[3]
    raw[-1] ^= 0x01
    seg.write_bytes(bytes(raw))
    got, scan = scan_all(tmp_path)
    assert len(got) == 3
    torn = scan.torn
    assert torn is not None
    assert (torn.damaged, torn.offset, torn.reason) == (
        True,
        start,
        "payload checksum mismatch with an intact header",
    )
    truncate_tail(torn, fsync=False)
    # The damaged record's bytes, exactly, are kept beside the log; the log ends before it.
    assert bytes(raw[start:]) == torn.quarantine.read_bytes()
    assert bytes(raw[:start]) == seg.read_bytes()
    assert f"kept in {torn.quarantine}" in torn.message()


def test_a_flipped_bit_anywhere_in_a_middle_record_is_corruption_naming_segment_and_offset(
    tmp_path: Path,
) -> None:
    write_log(tmp_path, [payloads(6)])
    seg = list_segments(tmp_path)[0][1]
    clean = seg.read_bytes()
    offs = record_offsets(seg)
    start, end = offs[2], offs[3]  # the third of six records
    for pos in range(start, end):
        for bit in (0x01, 0x80):
            raw = bytearray(clean)
            raw[pos] ^= bit
            seg.write_bytes(bytes(raw))
            with pytest.raises(CorruptLog) as err:
                scan_all(tmp_path)
            assert (err.value.segment, err.value.offset) == (str(seg), start), (pos, bit)
            assert f"{seg} at byte {start}" in err.value.detail
            assert err.value.status == 500


def test_damage_in_a_segment_that_is_not_the_last_is_corruption_even_at_its_end(
    tmp_path: Path,
) -> None:
    write_log(tmp_path, [[p] for p in payloads(20)], segment_bytes=200)
    first = list_segments(tmp_path)[0][1]
    size = first.stat().st_size
    os.truncate(first, size - 1)
    with pytest.raises(CorruptLog) as err:
        scan_all(tmp_path)
    assert err.value.segment == str(first)
    assert "not the last" in err.value.detail


def test_a_gap_in_sequence_numbers_is_corruption(tmp_path: Path) -> None:
    (tmp_path / segment_name(1)).write_bytes(
        encode_record(1, b"a") + encode_record(2, b"b") + encode_record(4, b"d")
    )
    with pytest.raises(CorruptLog, match="expected record 3, found 4") as err:
        scan_all(tmp_path)
    assert err.value.offset == 2 * (HEADER.size + 1)


def test_a_missing_segment_is_a_gap(tmp_path: Path) -> None:
    write_log(tmp_path, [[p] for p in payloads(20)], segment_bytes=200)
    segs = list_segments(tmp_path)
    segs[1][1].unlink()
    with pytest.raises(CorruptLog, match="sequence gap") as err:
        scan_all(tmp_path)
    assert err.value.segment == str(segs[2][1])


def test_a_log_that_does_not_begin_at_one_is_refused(tmp_path: Path) -> None:
    (tmp_path / segment_name(5)).write_bytes(encode_record(5, b"e"))
    with pytest.raises(CorruptLog, match="first segment begins at 5"):
        scan_all(tmp_path)


def test_a_stray_segment_name_is_refused(tmp_path: Path) -> None:
    write_log(tmp_path, [payloads(2)])
    (tmp_path / "backup.seg").write_bytes(b"")
    with pytest.raises(CorruptLog, match="20-digit"):
        scan_all(tmp_path)


def test_a_failed_fsync_stops_the_writer_for_good(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = SegmentWriter(tmp_path, next_seq=1, fsync=True)
    w.append_many(payloads(2))
    calls: list[int] = []

    def failing_fsync(fd: int) -> None:
        calls.append(fd)
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(FsyncFailed, match="Input/output error"):
        w.append_many(payloads(1, start=3))
    monkeypatch.undo()  # the disk "recovers": the writer must still refuse
    with pytest.raises(FsyncFailed, match="never retried"):
        w.append_many(payloads(1, start=4))
    assert len(calls) == 1
    assert w.last_seq == 2


def test_a_failed_write_stops_the_writer_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = SegmentWriter(tmp_path, next_seq=1, fsync=False)

    def full_disk(fd: int, data: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full_disk)
    with pytest.raises(LogWriteFailed, match="No space left"):
        w.append_many(payloads(1))
    monkeypatch.undo()
    with pytest.raises(LogWriteFailed):
        w.append_many(payloads(1))
