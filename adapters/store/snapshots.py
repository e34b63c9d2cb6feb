"""Snapshots of the recovered ``Router``, so recovery replays only the log's tail.

A snapshot holds the router's state as plain data (``router.checkpoint``)
encoded as msgpack: reading one back cannot run code, whoever wrote the file
(a snapshot used to be a pickle: anyone who could write the data directory
could run code at start-up). A state is only valid for the code and
configuration that wrote it, so each file carries both fingerprints beside a
format version and the log seq it covers; any mismatch, a bad checksum or a
body that does not load means "not usable", and recovery falls back to the
older snapshot and then to a full replay, saying why.

File: ``DIR/snapshots/<seq, 20 digits>.snap`` =
``magic(8) version(u32) seq(u64) body_len(u64) crc32(u32)`` + msgpack body,
written to a temp file, fsynced, renamed, then the directory fsynced (the
rename is the commit point). The last ``KEEP`` snapshots are kept. The live
service writes them from a forked child (``BackgroundSnapshot``): the event
loop pays only for the fork, at any state size.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import logging
import os
import re
import signal
import struct
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import msgpack

import router as router_pkg
from adapters.store.segments import fsync_dir, make_dir
from router import checkpoint
from router.config import HelplineConfig
from router.core import ROUTING_STATE_MODULES, Router

__all__ = [
    "FORMAT_VERSION",
    "KEEP",
    "BackgroundSnapshot",
    "LoadedSnapshot",
    "code_fingerprint",
    "config_fingerprint",
    "load_latest",
    "snapshot_dir",
    "state_module_paths",
    "write_snapshot",
]

log = logging.getLogger("linje.store")

MAGIC = b"LINJESNP"
FORMAT_VERSION = 2  # 1 was a pickle
KEEP = 2
_HEAD = struct.Struct("<8sIQQI")
_NAME = re.compile(r"^(\d{20})\.snap$")


def snapshot_dir(data_dir: Path) -> Path:
    return data_dir / "snapshots"


def state_module_paths() -> list[Path]:
    """The source files of the modules that define a router's state."""
    base = Path(router_pkg.__file__).parent
    return sorted(base / f"{name.rpartition('.')[2]}.py" for name in ROUTING_STATE_MODULES)


@functools.cache
def code_fingerprint() -> str:
    """Hash of the source of the modules that define routing state, and the Python version.

    Only those (``router.core.ROUTING_STATE_MODULES``): editing a report label or
    the statistics does not invalidate every snapshot.
    """
    h = hashlib.sha256(f"{sys.version_info[:2]}".encode())
    for path in state_module_paths():
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def config_fingerprint(config: HelplineConfig) -> str:
    return hashlib.sha256(config.model_dump_json().encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class LoadedSnapshot:
    router: Router
    seq: int
    path: Path


def _encode(seq: int, router: Router) -> bytes:
    body = msgpack.packb(
        {
            "code": code_fingerprint(),
            "config": config_fingerprint(router.config),
            "seq": seq,
            "state": checkpoint.dump(router),
        },
        use_bin_type=True,
    )
    return _HEAD.pack(MAGIC, FORMAT_VERSION, seq, len(body), zlib.crc32(body)) + body


def _write_file(path: Path, data: bytes, *, fsync: bool) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)


def _prepare(data_dir: Path, seq: int) -> tuple[Path, Path]:
    sdir = snapshot_dir(data_dir)
    make_dir(sdir)
    for stale in sdir.glob(".*.snap*.tmp"):
        if not _writing(stale):
            stale.unlink(missing_ok=True)  # left by a crash mid-write
    final = sdir / f"{seq:020d}.snap"
    # Named by process: a follower left by a killed service never writes into the file
    # of its successor's follower.
    return sdir / f".{final.name}.{os.getpid()}.tmp", final


def _writing(tmp: Path) -> bool:
    """True if another live process is writing ``tmp`` (``.<name>.<pid>.tmp``): a
    follower left by a killed service may still be finishing its snapshot."""
    pid = tmp.name.rsplit(".", 2)[-2]
    if not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _commit(tmp: Path, final: Path, *, fsync: bool) -> Path:
    """The rename is the commit point; then the directory is fsynced and old ones pruned."""
    os.replace(tmp, final)
    if fsync:
        fsync_dir(final.parent)
    for old in _listing(final.parent)[:-KEEP]:
        old[1].unlink(missing_ok=True)
    return final


def write_snapshot(data_dir: Path, seq: int, router: Router, *, fsync: bool = True) -> Path:
    """Write a snapshot of ``router`` covering log entries up to ``seq``; prune old ones."""
    tmp, final = _prepare(data_dir, seq)
    _write_file(tmp, _encode(seq, router), fsync=fsync)
    return _commit(tmp, final, fsync=fsync)


class BackgroundSnapshot:
    """A snapshot serialised by a forked child, so the caller's thread never stalls.

    ``os.fork`` gives the child a copy-on-write image of the whole process: the
    router exactly as it is at the fork (between two steps), whatever the parent
    does next. The child closes every inherited descriptor (the store's ``LOCK``,
    the listening socket: a child outliving a killed parent must not keep the
    directory locked or the port bound), encodes the state, writes and fsyncs a
    temporary file and exits with ``os._exit`` (no atexit handlers, no logging:
    locks other threads held at the fork stay held in the child). The parent
    pays only the fork (page tables; about a millisecond per 100 MB of heap) and
    later reaps the child without waiting (``poll``); it renames the file into
    place (``commit``) only once its own log is durable up to ``seq``, so a
    snapshot never covers records the log does not hold.
    """

    def __init__(
        self, data_dir: Path, seq: int, router: Router, *, fsync: bool, durable: bool = False
    ) -> None:
        self.seq = seq
        self.fsync = fsync
        # ``durable``: the log already holds every record up to ``seq`` (a state just
        # recovered), so the child renames its own file into place once written: it
        # is there even if the parent is killed before it reaps the child.
        self.durable = durable
        self.tmp, self.final = _prepare(data_dir, seq)
        code_fingerprint()  # read the sources once here, not in every child
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child; coverage does not follow it
            status = 1
            try:
                gc.disable()  # a collection would touch (and copy) every page
                os.closerange(3, _MAX_FD)
                _write_file(self.tmp, _encode(seq, router), fsync=fsync)
                if durable:
                    _commit(self.tmp, self.final, fsync=fsync)
                status = 0
            except BaseException as exc:
                with contextlib.suppress(BaseException):
                    os.write(2, f"linje: snapshot {seq} failed: {type(exc).__name__}\n".encode())
            finally:
                os._exit(status)
        self.pid = pid
        self.failed: str | None = None

    def poll(self, *, block: bool = False) -> bool:
        """True once the child has exited (``failed`` says if it did not write the file)."""
        try:
            pid, status = os.waitpid(self.pid, 0 if block else os.WNOHANG)
        except ChildProcessError:  # reaped elsewhere
            self.failed = "the snapshot process vanished"
            return True
        if pid == 0:
            return False
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            self.failed = f"the snapshot process exited with {code}"
        return True

    def commit(self) -> Path:
        """Put the written file in place (a ``durable`` child already did)."""
        if self.durable:
            return self.final
        return _commit(self.tmp, self.final, fsync=self.fsync)

    def abandon(self) -> None:
        """Stop a child still writing and drop its file (the log it covers was not written)."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        self.poll(block=True)
        if not self.durable:  # (a durable one covers only logged records: it may stay)
            self.tmp.unlink(missing_ok=True)


_MAX_FD = os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 65536


def _listing(sdir: Path) -> list[tuple[int, Path]]:
    if not sdir.is_dir():
        return []
    out = []
    for p in sdir.iterdir():
        m = _NAME.match(p.name)
        if m:
            out.append((int(m.group(1)), p))
    return sorted(out)


def _load(path: Path, config: HelplineConfig) -> tuple[LoadedSnapshot | None, str]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, f"unreadable ({exc.strerror})"
    if len(data) < _HEAD.size:
        return None, "shorter than its header"
    magic, version, seq, length, crc = _HEAD.unpack_from(data)
    if magic != MAGIC:
        return None, "not a snapshot file"
    if version != FORMAT_VERSION:
        return None, f"format version {version}, this code reads {FORMAT_VERSION}"
    body = memoryview(data)[_HEAD.size :]
    if len(body) != length or zlib.crc32(body) != crc:
        return None, "checksum mismatch"
    try:
        meta = msgpack.unpackb(body, raw=False, strict_map_key=False)
    except (ValueError, msgpack.UnpackException) as exc:
        return None, f"not msgpack ({type(exc).__name__})"
    if not isinstance(meta, dict) or meta.get("seq") != seq:
        return None, "body does not match its header"
    if meta.get("code") != code_fingerprint():
        return None, "written by other routing-core code"
    if meta.get("config") != config_fingerprint(config):
        return None, "written under another configuration"
    try:
        router = checkpoint.load(config, meta.get("state"))
    except checkpoint.CheckpointError as exc:
        return None, f"holds no router state ({exc.detail})"
    return LoadedSnapshot(router=router, seq=seq, path=path), ""


def load_latest(data_dir: Path, config: HelplineConfig) -> tuple[LoadedSnapshot | None, list[str]]:
    """The newest usable snapshot (or None) and a note for each one passed over."""
    notes: list[str] = []
    for _, path in reversed(_listing(snapshot_dir(data_dir))):
        snap, why = _load(path, config)
        if snap is not None:
            return snap, notes
        notes.append(f"snapshot {path.name} skipped: {why}")
        log.warning("store: snapshot %s skipped: %s", path, why)
    return None, notes
