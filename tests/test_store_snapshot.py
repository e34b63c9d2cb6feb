"""Snapshots: recovery from a snapshot plus the log's tail equals a full replay."""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path
from typing import Any

import pytest

from adapters.store import CorruptLog, EmbeddedStore, read_entries
from adapters.store.snapshots import snapshot_dir
from router import Command, Event, HelplineConfig, LinjeError, Record, command_to_dict
from tests.helpers.store_workload import Op, workload


def feed(store: EmbeddedStore, ops: list[Op]) -> list[dict[str, Any]]:
    """Send ``ops`` in batches of three; every command as a dict, in order."""
    out: list[Command] = []
    batch: list[Event] = []

    def flush() -> None:
        out.extend(c for r in store.ingest(batch) for c in r.commands)
        batch.clear()

    for op in ops:
        if op.event is None:
            flush()
            out.extend(store.tick(op.at))
            continue
        batch.append(op.event)
        if len(batch) == 3:
            flush()
    flush()
    return [command_to_dict(c) for c in out]


def snapshots(data_dir: Path) -> list[str]:
    return sorted(p.name for p in snapshot_dir(data_dir).glob("*.snap"))


def replayed(data_dir: Path, config: HelplineConfig) -> dict[str, Any]:
    """The supervisor view after a full replay of a copy of ``data_dir``'s log alone."""
    copy = data_dir.with_name(data_dir.name + "-replayed")
    shutil.copytree(data_dir / "log", copy / "log")
    with EmbeddedStore.open(copy, config, fsync=False) as store:
        assert store.recovery_report["from_snapshot"] is None
        return store.router.snapshot()


@pytest.fixture(scope="module")
def ops(vo_config: HelplineConfig) -> list[Op]:
    return workload(vo_config, seed=11, n_events=240)


def test_recovery_from_a_snapshot_and_tail_equals_a_full_replay(
    tmp_path: Path, vo_config: HelplineConfig, ops: list[Op]
) -> None:
    first, rest = ops[: len(ops) * 2 // 3], ops[len(ops) * 2 // 3 :]
    with EmbeddedStore.open(tmp_path / "a", vo_config, snapshot_every=50, fsync=False) as store:
        feed(store, first)
        last = store.last_seq
    assert len(snapshots(tmp_path / "a")) == 2  # only the last two are kept
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    shutil.rmtree(snapshot_dir(tmp_path / "b"))

    a = EmbeddedStore.open(tmp_path / "a", vo_config, fsync=False)
    b = EmbeddedStore.open(tmp_path / "b", vo_config, fsync=False)
    snap_seq = a.recovery_report["from_snapshot"]
    assert snap_seq is not None and last - 50 < snap_seq <= last
    assert a.recovery_report["entries_replayed"] == last - snap_seq
    assert b.recovery_report["from_snapshot"] is None
    assert b.recovery_report["entries_replayed"] == last
    assert a.router.snapshot() == b.router.snapshot()
    assert a.router.next_deadline() == b.router.next_deadline()
    # And they go on alike: same commands, same records, same log.
    assert feed(a, rest) == feed(b, rest)
    assert a.router.snapshot() == b.router.snapshot()
    recs_a: list[Record] = [r for e in read_entries(tmp_path / "a", last + 1) for r in e.records]
    assert recs_a and recs_a == [
        r for e in read_entries(tmp_path / "b", last + 1) for r in e.records
    ]
    assert a.commands_since(0) == b.commands_since(0)
    a.close()
    b.close()
    log_a = sorted((tmp_path / "a" / "log").iterdir())
    log_b = sorted((tmp_path / "b" / "log").iterdir())
    assert [p.read_bytes() for p in log_a] == [p.read_bytes() for p in log_b]


def test_a_corrupt_snapshot_falls_back_to_the_older_one_then_to_a_full_replay(
    tmp_path: Path, vo_config: HelplineConfig, ops: list[Op]
) -> None:
    data = tmp_path / "data"
    with EmbeddedStore.open(data, vo_config, snapshot_every=40, fsync=False) as store:
        feed(store, ops)
        last = store.last_seq
    want = replayed(data, vo_config)
    older, newer = snapshots(data)
    path = snapshot_dir(data) / newer
    raw = bytearray(path.read_bytes())
    raw[-10] ^= 0xFF
    path.write_bytes(bytes(raw))
    with EmbeddedStore.open(data, vo_config, fsync=False) as store:
        report = store.recovery_report
        assert report["from_snapshot"] == int(older.split(".")[0])
        assert report["notes"] == [f"snapshot {newer} skipped: checksum mismatch"]
        assert store.router.snapshot() == want
    (snapshot_dir(data) / older).write_bytes(b"LINJESNP")
    with EmbeddedStore.open(data, vo_config, fsync=False) as store:
        report = store.recovery_report
        assert report["from_snapshot"] is None
        assert report["entries_replayed"] == last
        assert report["notes"] == [
            f"snapshot {newer} skipped: checksum mismatch",
            f"snapshot {older} skipped: shorter than its header",
            "full replay of the log",
        ]
        assert store.router.snapshot() == want


def test_a_snapshot_of_another_format_version_or_configuration_is_not_used(
    tmp_path: Path, vo_config: HelplineConfig, ops: list[Op]
) -> None:
    with EmbeddedStore.open(tmp_path, vo_config, snapshot_every=1000, fsync=False) as store:
        feed(store, ops[:60])
    want = replayed(tmp_path, vo_config)
    with EmbeddedStore.open(tmp_path, vo_config, snapshot_every=10, fsync=False) as store:
        assert store.recovery_report["from_snapshot"] is None  # none yet; one is written now
    (name,) = snapshots(tmp_path)
    path = snapshot_dir(tmp_path) / name
    good = path.read_bytes()
    path.write_bytes(good[:8] + struct.pack("<I", 99) + good[12:])
    with EmbeddedStore.open(tmp_path, vo_config, snapshot_every=1000, fsync=False) as store:
        assert store.recovery_report["notes"][0] == (
            f"snapshot {name} skipped: format version 99, this code reads 2"
        )
        assert store.router.snapshot() == want
    path.write_bytes(good)
    renamed = vo_config.model_copy(update={"name": "another name"})
    with EmbeddedStore.open(tmp_path, renamed, snapshot_every=1000, fsync=False) as store:
        assert store.recovery_report["notes"][0] == (
            f"snapshot {name} skipped: written under another configuration"
        )
        assert store.recovery_report["from_snapshot"] is None
    with EmbeddedStore.open(tmp_path, vo_config, snapshot_every=1000, fsync=False) as store:
        assert store.recovery_report["from_snapshot"] == int(name.split(".")[0])
        assert store.recovery_report["notes"] == []


def test_a_snapshot_beyond_the_end_of_the_log_is_corruption(
    tmp_path: Path, vo_config: HelplineConfig, ops: list[Op]
) -> None:
    with EmbeddedStore.open(tmp_path, vo_config, snapshot_every=30, fsync=False) as store:
        feed(store, ops[:40])
    (name,) = snapshots(tmp_path)
    seg = next((tmp_path / "log").iterdir())
    os.truncate(seg, 0)  # the log lost what the snapshot says it covers
    with pytest.raises(CorruptLog, match=f"snapshot covers record {int(name[:20])}"):
        EmbeddedStore.open(tmp_path, vo_config, fsync=False)


def test_a_failed_snapshot_write_does_not_fail_the_events(
    tmp_path: Path, vo_config: HelplineConfig, ops: list[Op], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = EmbeddedStore.open(tmp_path, vo_config, snapshot_every=5, fsync=False)

    def no_space(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("adapters.store.embedded.write_snapshot", no_space)
    feed(store, ops[:20])
    assert store.last_seq > 5
    assert snapshots(tmp_path) == []
    store.close()
    with EmbeddedStore.open(tmp_path, vo_config, fsync=False) as again:
        assert again.last_seq == store.last_seq


def test_an_unreadable_snapshot_is_reported_not_fatal(
    tmp_path: Path, vo_config: HelplineConfig, ops: list[Op]
) -> None:
    with EmbeddedStore.open(tmp_path, vo_config, snapshot_every=10, fsync=False) as store:
        feed(store, ops[:30])
    for p in snapshot_dir(tmp_path).glob("*.snap"):
        p.unlink()
        p.mkdir()  # reading it fails with an OSError
    try:
        with EmbeddedStore.open(tmp_path, vo_config, fsync=False) as store:
            notes = store.recovery_report["notes"]
            assert notes[-1] == "full replay of the log"
            assert all("unreadable" in n for n in notes[:-1])
    except LinjeError as exc:  # pragma: no cover - a clear failure message if it regresses
        pytest.fail(f"open failed: {exc.detail}")


class _RunsCode:
    """Unpickling this would run a shell command that leaves a file behind."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("version", [1, 2])
def test_a_snapshot_whose_body_would_run_code_is_never_executed(
    tmp_path: Path, vo_config: HelplineConfig, ops: list[Op], version: int
) -> None:
    import pickle
    import zlib

    from adapters.store import snapshots

    data, marker = tmp_path / "data", tmp_path / "ran"
    with EmbeddedStore.open(data, vo_config, snapshot_every=1000, fsync=False) as store:
        feed(store, ops[:60])
        seq = store.last_seq
    want = replayed(data, vo_config)
    # A file with a valid header and checksum around a pickle that runs a command,
    # as someone who can write the data directory could plant it (format 1 was pickle).
    body = pickle.dumps({"router": _RunsCode(marker), "seq": seq})
    head = struct.pack("<8sIQQI", snapshots.MAGIC, version, seq, len(body), zlib.crc32(body))
    snapshot_dir(data).mkdir(exist_ok=True)
    (snapshot_dir(data) / f"{seq:020d}.snap").write_bytes(head + body)
    with EmbeddedStore.open(data, vo_config, snapshot_every=1000, fsync=False) as store:
        (note, *_) = store.recovery_report["notes"]
        assert store.recovery_report["from_snapshot"] is None
        assert store.router.snapshot() == want
    assert not marker.exists()
    assert note.startswith(f"snapshot {seq:020d}.snap skipped: ")
