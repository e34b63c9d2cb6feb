"""Recovery: latest usable snapshot, then replay of the log's tail, verified.

Each entry is replayed through the real ``Router`` exactly as the store fed
it live (``router.step.replay_entry``: "event": advance to the logged clock,
then ``Router.apply``; "tick": ``Router.advance``),
and the commands and records it produces are compared with the logged ones,
byte for byte after msgpack encoding. A difference means the code or the
configuration changed under the log; by default that stops recovery
(``ReplayDiverged``, naming the record) rather than serving a state that no
longer matches what adapters were told. ``on_divergence="accept"`` keeps the
re-derived state and counts the differences in the report instead.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack

from adapters.store.entries import decode_payload, log_dir
from adapters.store.errors import CorruptLog, ReplayDiverged
from adapters.store.segments import LogScan, TornTail, truncate_tail
from adapters.store.snapshots import load_latest
from router.commands import command_to_dict
from router.config import HelplineConfig
from router.core import Router
from router.errors import BadInput
from router.records import record_to_dict
from router.step import REFUSED, Step, collector_paused, replay_entry

__all__ = ["RECENT_COMMANDS", "Recovered", "recover", "replay_verified"]

log = logging.getLogger("linje.store")

# Commands kept in memory for resuming command streams without reading the log.
RECENT_COMMANDS = 65_536


@dataclass(slots=True)
class Recovered:
    router: Router
    last_seq: int
    last_segment: Path | None
    snapshot_seq: int
    report: dict[str, Any]
    recent: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=RECENT_COMMANDS))
    # True when ``recent`` holds every command the log has (full replay, nothing evicted).
    recent_complete: bool = False


def _difference(seq: int, raw: dict[str, Any], cmds: list[Any], recs: list[Any]) -> str:
    what = "commands" if msgpack.packb(cmds) != msgpack.packb(raw["commands"]) else "records"
    got, logged = (cmds, raw["commands"]) if what == "commands" else (recs, raw["records"])
    for i, (a, b) in enumerate(zip(got, logged, strict=False)):
        if a != b:
            return f"record {seq}: {what}[{i}] replayed as {a!r}, logged as {b!r}"
    return f"record {seq}: {len(got)} {what} replayed, {len(logged)} logged"


def replay_verified(router: Router, seq: int, raw: dict[str, Any], on_divergence: str) -> str:
    """Replay one decoded entry through ``router`` and compare it with what was logged.

    Returns "ok", "diverged" (its commands or records differ, accepted) or
    "refused" (its event was refused, accepted: nothing was applied); with
    ``on_divergence="raise"`` either difference raises ``ReplayDiverged``.
    """
    # Every logged event was validated before it was logged, and the scan checked
    # each record's CRC: decode it without re-running the value checks (a type whose
    # checks also rebuild a value, ``contact.registered``, is decoded with them).
    try:
        step = replay_entry(router, raw, trusted=True)
    except BadInput as err:  # the logged event no longer decodes
        step = Step(REFUSED, error=err)
    if raw["k"] == "event" and not step.accepted:
        why = step.error.detail if step.error is not None else "its event_id is a duplicate"
        if on_divergence != "accept":
            raise ReplayDiverged(
                f"record {seq}: the logged event was refused on replay: {why}"
            ) from step.error
        return "refused"
    # The logged dicts went through msgpack, which keeps str, int, float, bool
    # and None and turns tuples into lists, as the *_to_dict functions do, so
    # the replayed dicts are compared with the decoded ones as they are, with no
    # re-encoding (equality does not tell 1 from 1.0 or True; no change to the
    # routing code turns one into another without changing other values too).
    cmd_dicts = [command_to_dict(c) for c in step.commands]
    rec_dicts = [record_to_dict(r) for r in step.records]
    if cmd_dicts != raw["commands"] or rec_dicts != raw["records"]:
        why = _difference(seq, raw, cmd_dicts, rec_dicts)
        if on_divergence != "accept":
            raise ReplayDiverged(f"{why} (code or configuration changed under the log?)")
        log.warning("store: replay diverged at %s", why)
        return "diverged"
    return "ok"


def _replay(
    router: Router, scan: LogScan, recent: deque[dict[str, Any]], on_divergence: str
) -> tuple[int, int]:
    """Replay every entry of ``scan``, verified; (entries replayed, divergences)."""
    replayed = diverged = 0
    for seq, payload in scan:
        raw = decode_payload(seq, payload, scan.last_segment)
        outcome = replay_verified(router, seq, raw, on_divergence)
        if outcome == "refused":
            diverged += 1
            continue
        if outcome == "diverged":
            diverged += 1
        recent.extend(raw["commands"])
        replayed += 1
    return replayed, diverged


def recover(
    data_dir: Path, config: HelplineConfig, *, fsync: bool = True, on_divergence: str = "raise"
) -> Recovered:
    """Rebuild the router from ``data_dir``; truncates a torn tail (and reports it)."""
    started = time.perf_counter()
    snap, notes = load_latest(data_dir, config)
    if snap is not None:
        router, snap_seq = snap.router, snap.seq
    else:
        router, snap_seq = Router(config), 0
        if notes:
            notes.append("full replay of the log")
    scan = LogScan(log_dir(data_dir), snap_seq + 1)
    recent: deque[dict[str, Any]] = deque(maxlen=RECENT_COMMANDS)
    with collector_paused():  # the core makes no reference cycles (see collector_paused)
        replayed, diverged = _replay(router, scan, recent, on_divergence)
    if scan.last_seq < snap_seq:
        raise CorruptLog(
            f"snapshot covers record {snap_seq} but the log ends at record {scan.last_seq}",
            segment=str(scan.last_segment) if scan.last_segment else None,
        )
    torn: TornTail | None = scan.torn
    if torn is not None:
        truncate_tail(torn, fsync=fsync)
        notes.append(torn.message())
    report = {
        "from_snapshot": snap_seq if snap is not None else None,
        "entries_replayed": replayed,
        "last_seq": scan.last_seq,
        "torn_bytes_truncated": torn.dropped if torn else 0,
        "torn": torn.message() if torn else None,
        "diverged": diverged,
        "notes": notes,
        "seconds": round(time.perf_counter() - started, 6),
    }
    log.info(
        "store: recovered to record %d (snapshot %s, %d replayed, %d torn bytes) in %.3f s",
        scan.last_seq,
        report["from_snapshot"],
        replayed,
        report["torn_bytes_truncated"],
        report["seconds"],
    )
    return Recovered(
        router=router,
        last_seq=scan.last_seq,
        last_segment=scan.last_segment,
        snapshot_seq=snap_seq,
        report=report,
        recent=recent,
        recent_complete=snap is None and len(recent) < RECENT_COMMANDS,
    )
