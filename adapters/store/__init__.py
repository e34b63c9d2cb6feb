"""The embedded default store: an append-only event log on disk, snapshots, recovery.

``EmbeddedStore`` wraps a ``Router`` so that every acknowledged event is on
disk first; ``read_entries`` reads the log for replay, the report and the
command-stream resume. See ``adapters.store.segments`` for the file format.
"""

from adapters.store.embedded import EmbeddedStore, IngestResult
from adapters.store.entries import LogEntry, log_dir, read_entries
from adapters.store.errors import (
    CorruptLog,
    FsyncFailed,
    LogWriteFailed,
    ReplayDiverged,
    StoreClosed,
    StoreLocked,
)
from adapters.store.segments import LogScan, SegmentWriter, TornTail

__all__ = [
    "CorruptLog",
    "EmbeddedStore",
    "FsyncFailed",
    "IngestResult",
    "LogEntry",
    "LogScan",
    "LogWriteFailed",
    "ReplayDiverged",
    "SegmentWriter",
    "StoreClosed",
    "StoreLocked",
    "TornTail",
    "log_dir",
    "read_entries",
]
