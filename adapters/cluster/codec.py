"""What the Redis streams and the snapshot key hold, as msgpack (and a signed pickle).

Input log entry (field ``e`` of ``H:log``)::

    {"k": "event", "event": event_to_dict(...), "n": "<node id that appended it>"}
    {"k": "tick",  "at": float, "n": "<owner node id>", "tok": <fencing token>}

Output entry (field ``o`` of ``H:out``, same id as its input entry)::

    {"c": [command_to_dict(...), ...], "r": [record_to_dict(...), ...], "tok": <token>}

The ``n`` of an event says which node waits for its result; it is a node name,
never anything about a caller (events have no field for caller identity).

A snapshot is the fold's ``Router`` pickled whole, as the embedded store does
(``adapters.store.snapshots``). Because it comes back over the network, it is
signed with HMAC-SHA256 under a key only the nodes know, and a snapshot whose
signature, format or fingerprint does not match is ignored (full fold instead).
"""

from __future__ import annotations

import hashlib
import hmac
import pickle
from dataclasses import dataclass
from typing import Any

import msgpack

from adapters.store.errors import CorruptLog
from router.commands import Command, command_to_dict
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
    body = pickle.dumps(
        {
            "router": state.router,
            "position": state.position,
            "ordinal": state.ordinal,
            "fingerprint": state.fingerprint,
        },
        protocol=pickle.HIGHEST_PROTOCOL,
    )
    return SNAP_MAGIC + hmac.new(key, body, hashlib.sha256).digest() + body


def verify_snapshot(blob: bytes, key: bytes, fingerprint: str) -> SnapshotState | None:
    """The snapshot if its signature and fingerprint match; None (never unpickled) otherwise."""
    head = len(SNAP_MAGIC)
    if len(blob) < head + 32 or not blob.startswith(SNAP_MAGIC):
        return None
    mac, body = blob[head : head + 32], blob[head + 32 :]
    if not hmac.compare_digest(mac, hmac.new(key, body, hashlib.sha256).digest()):
        return None
    data = pickle.loads(body)  # signed by a node holding the key: ours
    if data.get("fingerprint") != fingerprint or not isinstance(data.get("router"), Router):
        return None
    return SnapshotState(
        router=data["router"],
        position=str(data["position"]),
        ordinal=int(data["ordinal"]),
        fingerprint=fingerprint,
    )
