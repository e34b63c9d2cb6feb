"""Errors of the embedded store, in the core's hierarchy (``router.errors``).

All of them are our side's problem (HTTP 500 family): the caller's event was
fine, the disk or the data directory is not. The service exits non-zero on
``LogWriteFailed`` (and so on ``FsyncFailed``): after a failed fsync the
kernel may have dropped the dirty pages, so retrying would acknowledge data
that never reached the disk (the PostgreSQL "fsyncgate" lesson, 2018).
"""

from __future__ import annotations

from router.errors import LinjeError

__all__ = [
    "CorruptLog",
    "FsyncFailed",
    "LogWriteFailed",
    "ReplayDiverged",
    "StoreClosed",
    "StoreLocked",
]


class CorruptLog(LinjeError):
    """A record that is not a torn tail failed its checks; names segment and offset."""

    status = 500
    code = "corrupt-log"

    def __init__(self, detail: str, *, segment: str | None = None, offset: int | None = None):
        where = f"{segment} at byte {offset}: " if segment is not None else ""
        super().__init__(f"{where}{detail}")
        self.segment = segment
        self.offset = offset


class LogWriteFailed(LinjeError):
    """Writing the log failed; the store refuses every later append."""

    status = 500
    code = "log-write-failed"


class FsyncFailed(LogWriteFailed):
    """fsync of the log (or its directory) failed; nothing in the batch is acknowledged."""

    code = "fsync-failed"


class ReplayDiverged(LinjeError):
    """Replaying a log entry produced other commands or records than were logged."""

    status = 500
    code = "replay-diverged"


class StoreLocked(LinjeError):
    """Another process has this data directory open."""

    status = 500
    code = "store-locked"


class StoreClosed(LinjeError):
    """The store was closed, or stopped after an internal error; restart to recover."""

    status = 500
    code = "store-closed"
