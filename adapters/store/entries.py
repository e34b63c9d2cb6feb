"""Log entries: what one record of the event log holds, and reading them back.

One entry per accepted event, and one per productive ``tick`` (timers that
produced commands or records), as a msgpack map::

    {"k": "event" | "tick",
     "at": float,        # event: the router's clock just before the event was applied
                         #        (the event's own time is inside "event"); tick: the
                         #        time passed to Router.advance
     "event": event_to_dict(...) | None,
     "commands": [command_to_dict(...), ...],
     "records": [record_to_dict(...), ...]}

The record's sequence number in the log is the entry's ``seq``. Storing the
clock before an event (rather than only the event's time) makes replay exact
even when ticks that produced nothing were never logged: replay advances to
that clock first, so an event that arrived within the clock tolerance but
behind the clock is applied at the same instant as it was live.

No caller identity can be here: events, commands and records have no field
for it (see ``router.events``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack

from adapters.store.errors import CorruptLog
from adapters.store.segments import LogScan
from router.commands import Command, command_from_dict, command_to_dict
from router.errors import LinjeError
from router.events import Event, event_from_dict, event_to_dict
from router.records import Record, record_from_dict, record_to_dict

__all__ = ["KINDS", "LogEntry", "decode_payload", "encode_entry", "log_dir", "read_entries"]

KINDS = ("event", "tick")


def log_dir(data_dir: str | Path) -> Path:
    """Where a data directory keeps its segments."""
    return Path(data_dir) / "log"


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One decoded log entry."""

    seq: int
    kind: str  # "event" or "tick"
    at: float
    event: Event | None
    commands: tuple[Command, ...]
    records: tuple[Record, ...]


def encode_entry(
    kind: str,
    at: float,
    event: Event | None,
    commands: list[Command],
    records: list[Record],
    *,
    collect: list[dict[str, Any]] | None = None,
) -> bytes:
    """The msgpack payload of one entry; the command dicts are also added to ``collect``."""
    command_dicts = [command_to_dict(c) for c in commands]
    if collect is not None:
        collect.extend(command_dicts)
    return msgpack.packb(
        {
            "k": kind,
            "at": at,
            "event": None if event is None else event_to_dict(event),
            "commands": command_dicts,
            "records": [record_to_dict(r) for r in records],
        },
        use_bin_type=True,
    )


def decode_payload(
    seq: int, payload: bytes | memoryview, where: str | Path | None = ""
) -> dict[str, Any]:
    """The raw map of one entry, checked for shape; ``CorruptLog`` if it is not one.

    ``where`` (the segment) is only turned into text for an error message.
    """
    try:
        raw = msgpack.unpackb(payload, raw=False, strict_map_key=False)
    except (ValueError, msgpack.UnpackException) as exc:
        raise CorruptLog(
            f"record {seq} is not valid msgpack: {exc}", segment=str(where) if where else None
        ) from None
    if (
        not isinstance(raw, dict)
        or raw.get("k") not in KINDS
        or not isinstance(raw.get("at"), int | float)
        or not isinstance(raw.get("commands"), list)
        or not isinstance(raw.get("records"), list)
        or (raw["k"] == "event") != isinstance(raw.get("event"), dict)
    ):
        raise CorruptLog(f"record {seq} is not a log entry", segment=str(where) if where else None)
    return raw


def _entry(seq: int, raw: dict[str, Any], where: str) -> LogEntry:
    try:
        return LogEntry(
            seq=seq,
            kind=raw["k"],
            at=float(raw["at"]),
            event=None if raw["event"] is None else event_from_dict(raw["event"]),
            commands=tuple(command_from_dict(c) for c in raw["commands"]),
            records=tuple(record_from_dict(r) for r in raw["records"]),
        )
    except (KeyError, TypeError, ValueError, LinjeError) as exc:
        # An event the current code refuses, or a command of an unknown type:
        # the entry is not something this version wrote.
        raise CorruptLog(f"record {seq} does not decode: {exc!r}", segment=where or None) from None


def read_entries(data_dir: str | Path, from_seq: int = 1) -> Iterator[LogEntry]:
    """Entries with ``seq >= from_seq``, in order, for read-only consumers.

    Never modifies the files: a torn tail (a crash, or a writer mid-append)
    simply ends the iteration; corruption anywhere else raises ``CorruptLog``.
    """
    scan = LogScan(log_dir(data_dir), from_seq)
    for seq, payload in scan:
        where = str(scan.last_segment)
        yield _entry(seq, decode_payload(seq, payload, where), where)
