"""What the Redis streams and the snapshot key hold, all as msgpack.

Input log entry (field ``e`` of ``H:log``)::

    {"k": "event", "event": event_to_dict(...), "n": "<node id that appended it>"}
    {"k": "tick",  "at": float, "n": "<owner node id>", "tok": <fencing token>}

Output entry (field ``o`` of ``H:out``, same id as its input entry)::

    {"c": [command_to_dict(...), ...], "r": [record_to_dict(...), ...], "tok": <token>}

The ``n`` of an event says which node waits for its result; it is a node name,
never anything about a caller (events have no field for caller identity).

A snapshot is the fold's router as plain data (``router.checkpoint``), as the
embedded store keeps it (``adapters.store.snapshots``): msgpack, which cannot
run code when read. Because it comes back over the network, it is also signed
with HMAC-SHA256 under a key only the nodes know, checked before anything is
decoded, and a snapshot whose signature, format or fingerprint does not match
is ignored (full fold instead).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import msgpack

from adapters.store.errors import CorruptLog
from router import checkpoint
from router.commands import Command, command_to_dict
from router.config import HelplineConfig
from router.core import Router
from router.events import Event, event_to_dict
from router.records import Record, record_to_dict

__all__ = [
    "SnapshotState",
    "decode_input",
    "decode_output",
    "encode_event",
    "encode_output",
    "encode_tick",
    "sign_snapshot",
    "verify_snapshot",
]

SNAP_MAGIC = b"LINJERS1"


def encode_event(event: Event, node: str) -> bytes:
    return msgpack.packb({"k": "event", "event": event_to_dict(event), "n": node})


def encode_tick(at: float, node: str, token: int) -> bytes:
    return msgpack.packb({"k": "tick", "at": at, "n": node, "tok": token})


def decode_input(sid: str, payload: bytes) -> dict[str, Any]:
    """The raw map of one input entry; ``CorruptLog`` if it is not one."""
    try:
        raw = msgpack.unpackb(payload, raw=False)
    except (ValueError, msgpack.UnpackException) as exc:
        raise CorruptLog(f"log entry {sid} is not valid msgpack: {exc}") from None
    if not isinstance(raw, dict) or raw.get("k") not in ("event", "tick"):
        raise CorruptLog(f"log entry {sid} is not a Linje log entry")
    if raw["k"] == "tick" and not isinstance(raw.get("at"), int | float):
        raise CorruptLog(f"log entry {sid}: a tick without a time")
    if raw["k"] == "event" and not isinstance(raw.get("event"), dict):
        raise CorruptLog(f"log entry {sid}: an event entry without an event")
    return raw


def encode_output(commands: list[Command], records: list[Record], token: int) -> bytes:
    return msgpack.packb(
        {
            "c": [command_to_dict(c) for c in commands],
            "r": [record_to_dict(r) for r in records],
            "tok": token,
        }
    )


def decode_output(sid: str, payload: bytes) -> dict[str, Any]:
    try:
        raw = msgpack.unpackb(payload, raw=False)
    except (ValueError, msgpack.UnpackException) as exc:
        raise CorruptLog(f"output entry {sid} is not valid msgpack: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("c"), list):
        raise CorruptLog(f"output entry {sid} is not a Linje output entry")
    return raw


@dataclass(frozen=True, slots=True)
class SnapshotState:
    """A fold at one log position: what a node needs to start there."""

    router: Router
    position: str
    ordinal: int
    fingerprint: str


def sign_snapshot(state: SnapshotState, key: bytes) -> bytes:
    body = msgpack.packb(
        {
            "state": checkpoint.dump(state.router),
            "position": state.position,
            "ordinal": state.ordinal,
            "fingerprint": state.fingerprint,
        },
        use_bin_type=True,
    )
    return SNAP_MAGIC + hmac.new(key, body, hashlib.sha256).digest() + body


def verify_snapshot(
    blob: bytes, key: bytes, fingerprint: str, config: HelplineConfig
) -> SnapshotState | None:
    """The snapshot if its signature and fingerprint match and it loads; None otherwise.

    The signature is checked before anything is decoded; the body is msgpack, which
    cannot run code when read (no pickle).
    """
    head = len(SNAP_MAGIC)
    if len(blob) < head + 32 or not blob.startswith(SNAP_MAGIC):
        return None
    mac, body = blob[head : head + 32], blob[head + 32 :]
    if not hmac.compare_digest(mac, hmac.new(key, body, hashlib.sha256).digest()):
        return None
    try:
        data = msgpack.unpackb(body, raw=False, strict_map_key=False)
    except (ValueError, msgpack.UnpackException):
        return None
    if not isinstance(data, dict) or data.get("fingerprint") != fingerprint:
        return None
    try:
        router = checkpoint.load(config, data.get("state"))
        position, ordinal = str(data["position"]), int(data["ordinal"])
    except (checkpoint.CheckpointError, KeyError, TypeError, ValueError):
        return None
    return SnapshotState(router=router, position=position, ordinal=ordinal, fingerprint=fingerprint)
