"""A node's start: the latest usable snapshot plus the outputs before it, then the log's tail.

Without a snapshot (none written, no key, another key, another fingerprint)
the whole log is folded, as the embedded store replays its whole log without
one. With one, the records and commands the owners recorded up to the
snapshot's position are read back from ``H:out`` (statistics and command
resume need them) and only the entries after it are folded.
"""

from __future__ import annotations

import logging
from typing import Any

from adapters.cluster.codec import decode_output, verify_snapshot
from adapters.cluster.fold import Fold, PoisonEntry
from adapters.cluster.keys import READ_BATCH
from adapters.cluster.log import HelplineLog
from adapters.store.recovery import RECENT_COMMANDS
from router.config import HelplineConfig
from router.core import Router
from router.records import Record, record_from_dict

__all__ = ["recover_fold"]

log = logging.getLogger("linje.cluster")
PAGE = 5000


async def recover_fold(
    hlog: HelplineLog,
    config: HelplineConfig,
    key: bytes | None,
    fingerprint: str,
    skip: set[str],
) -> tuple[Fold, int | None]:
    """The fold at the log's current tail, and the snapshot's entry count if one was used.

    An entry that trips an internal error in the core is added to ``skip`` and the
    fold is built again without it (``fold.PoisonEntry``).
    """
    while True:
        try:
            return await _recover(hlog, config, key, fingerprint, skip)
        except PoisonEntry as exc:
            log.error("helpline %s: %s; folding again without it", config.id, exc.detail)
            skip.add(exc.sid)


async def _recover(
    hlog: HelplineLog,
    config: HelplineConfig,
    key: bytes | None,
    fingerprint: str,
    skip: set[str],
) -> tuple[Fold, int | None]:
    blob = await hlog.read_snapshot() if key else None
    snap = verify_snapshot(blob, key, fingerprint, config) if blob and key else None
    if snap is None:
        fold = Fold(Router(config), skip=skip)
    else:
        records: list[Record] = []
        commands: list[dict[str, Any]] = []
        after = "0-0"
        while True:
            rows = await hlog.outputs(after, snap.position, PAGE)
            for sid, payload in rows:
                raw = decode_output(sid, payload)
                records.extend(record_from_dict(r) for r in raw.get("r", []))
                commands.extend(raw["c"])
            if len(rows) < PAGE:
                break
            after = rows[-1][0]
        fold = Fold(
            snap.router,
            position=snap.position,
            ordinal=snap.ordinal,
            records=records,
            recent=commands[-RECENT_COMMANDS:],
            recent_complete=len(commands) <= RECENT_COMMANDS,
            skip=skip,
        )
        log.info("helpline %s: starting from the snapshot at entry %d", config.id, snap.ordinal)
    while True:
        rows = await hlog.read(fold.position, READ_BATCH)
        for sid, payload in rows:
            fold.apply(sid, payload)
        if len(rows) < READ_BATCH:
            break
    return fold, None if snap is None else snap.ordinal
